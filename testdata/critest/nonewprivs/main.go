// Command nonewprivs stands in for the nonewprivs test image's program
// (kubernetes/test/images/nonewprivs): installed set-user-ID root, it
// prints its effective uid, which is 0 when exec raised it and the
// caller's when no_new_privs kept it from rising.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	fmt.Printf("Effective uid: %d\n", syscall.Geteuid())
}
