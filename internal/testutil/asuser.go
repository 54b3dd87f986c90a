package testutil

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Nobody is the unprivileged host user that attack tests act as.
const Nobody = 65534

// AsUser runs f on an OS thread of its own whose credentials are switched
// to uid:gid with no supplementary groups and no capabilities, as an
// unprivileged local user's process would be, and returns f's error. The
// switch is per thread (raw syscalls, not syscall.Setuid, which changes
// every thread of the process), no user database entry is needed, and the
// thread is never unlocked, so Go discards it when f returns. f must make
// its system calls on the calling goroutine (unix.Open, unix.Connect, ...),
// not through other goroutines. The caller must be root.
func AsUser(uid, gid int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		for _, c := range [][4]uintptr{
			{unix.SYS_SETGROUPS, 0, 0, 0},
			{unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)},
			{unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)},
		} {
			if _, _, e := unix.RawSyscall(c[0], c[1], c[2], c[3]); e != 0 {
				done <- e
				return
			}
		}
		done <- f()
	}()
	return <-done
}
