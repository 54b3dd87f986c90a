// Package rootonly keeps what podrun makes for root out of other local
// users' reach: the directories holding container content, volumes and
// control sockets are mode 0700 and ours, and a control socket serves only
// peers running as root (or as the user podrun runs as).
//
// Why both for sockets: a socket's own mode is set after bind(2), under
// the umask, and is racy to fix with chmod; a 0700 directory around it
// makes connect(2) fail for others whatever the umask, and the peer check
// holds even if the directory is ever made reachable again.
package rootonly

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dir makes dir (and missing parents) mode 0700, or fixes up an existing
// one made by an older podrun with a mode that let others search it
// (0711, 0755): its group and other bits are cleared. An existing dir
// owned by another user is an error, as that user could open it up again.
func Dir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return FixUp(dir)
}

// FixUp is Dir for a dir that may not exist: a missing one is left so.
func FixUp(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not %d (podrun's): refusing to keep private data there", dir, st.Uid, euid)
	}
	if st.Mode&0o077 != 0 {
		if err := unix.Fchmod(fd, st.Mode&0o7700); err != nil {
			return &os.PathError{Op: "chmod", Path: dir, Err: err}
		}
	}
	return nil
}

// Peer checks the process at the other end of a unix socket connection,
// by the credentials the kernel recorded when it connected (SO_PEERCRED):
// only root, or our own uid, may talk to a control socket. Call it before
// reading anything from the connection.
func Peer(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("peer pid %d runs as uid %d: only root may connect", cred.Pid, cred.Uid)
	}
	return nil
}
