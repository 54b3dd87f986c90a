package namespaces

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeDirFds closes every directory fd from fd 3+preserved up. The init
// must not hold a directory of the host (or any directory besides its cwd
// and root) once user code can reach it: a process joining the container
// could otherwise use /proc/1/fd/<n> as a way out, or be started with
// process.cwd /proc/self/fd/<n> (CVE-2024-21626). Libraries may keep such
// handles cached: filepath-securejoin keeps a private procfs mount open for
// good. None of them is used after the rootfs is set up, so the init can
// drop them here. Preserved fds are the caller's to pass, directories or not.
func closeDirFds(preserved int) error {
	for _, fd := range openFds(3 + preserved) {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // closed meanwhile (the listing's own fd), or not a directory
		}
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("closing fd %d: %w", fd, err)
		}
	}
	return nil
}

// openFds lists the fds from min up: from /proc/self/fd or, in a
// container without /proc, by probing up to the fd limit.
func openFds(min int) []int {
	var fds []int
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
				fds = append(fds, fd)
			}
		}
		return fds
	}
	limit := uint64(1 << 16)
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < limit {
		limit = rl.Cur
	}
	for fd := min; uint64(fd) < limit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

// checkCwd refuses a working directory outside the process's root, which
// is where a chdir through a /proc/self/fd link to a host directory leads:
// getcwd(2) then reports "(unreachable)", and Getwd an error. A getcwd
// that fails otherwise (a seccomp filter loaded already, without
// noNewPrivileges, that denies it) is reported as such: the cwd may be fine.
func checkCwd(cwd string) error {
	wd, err := unix.Getwd()
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("process.cwd: verifying %q: getcwd: %w", cwd, err)
	}
	if err != nil || len(wd) == 0 || wd[0] != '/' {
		return fmt.Errorf("process.cwd: %q is outside the container's root filesystem", cwd)
	}
	return nil
}

// cloexecInherited marks close-on-exec every fd from 3 up of this process.
// Go opens its own fds close-on-exec, but not those podrun inherited from
// its caller (a shim's sockets, a shell's fds): fork/exec would pass them
// to the init, which would hold them, host files included, for as long as
// the container stays created. The fds podrun means to pass (stdio,
// preserved fds, its protocol socket) are dup'ed into the child anyway.
func cloexecInherited() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	for _, fd := range openFds(3) {
		unix.CloseOnExec(fd)
	}
}
