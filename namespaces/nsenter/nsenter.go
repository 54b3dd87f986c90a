// Package nsenter joins an existing user namespace before the Go runtime
// starts (see nsenter.c). Import it for its side effect, from package main
// only: `import _ "github.com/podrun/podrun/namespaces/nsenter"`.
package nsenter

// #cgo CFLAGS: -Wall -O2
import "C"

// EnvUserNSFd names the environment variable carrying the fd of the user
// namespace to join; EnvUnshare carries the clone flags to unshare after it.
const (
	EnvUserNSFd = "_PODRUN_USERNS_FD"
	EnvUnshare  = "_PODRUN_UNSHARE"
)
