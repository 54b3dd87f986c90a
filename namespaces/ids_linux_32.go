//go:build linux && (386 || arm)

package namespaces

import "golang.org/x/sys/unix"

// The 32-bit id forms of setgroups, setresgid and setresuid (setIDs).
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresgid = unix.SYS_SETRESGID32
	sysSetresuid = unix.SYS_SETRESUID32
)
