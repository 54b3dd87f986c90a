//go:build linux && !(386 || arm)

package namespaces

import "golang.org/x/sys/unix"

// setgroups, setresgid and setresuid, which take 32-bit ids here (setIDs).
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresgid = unix.SYS_SETRESGID
	sysSetresuid = unix.SYS_SETRESUID
)
