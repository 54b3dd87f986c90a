// Package console gives podrun terminal support with nothing but
// x/sys/unix: it allocates a pty pair inside the container, passes the
// master over a --console-socket in the one-message framing containerd's
// shim (go-runc) and runc use, serves such a socket for a foreground
// `podrun run -t`, proxies a received master to the caller's terminal, and
// wraps the termios and window-size ioctls.
package console

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// NewPty opens a new pty master from /dev/ptmx (O_RDWR|O_NOCTTY|O_CLOEXEC),
// unlocks its slave and returns the master with the slave's path
// ("/dev/pts/N"). It resolves /dev/ptmx and /dev/pts in the caller's mount
// namespace and root, so the container init calls it after pivot_root to
// get a pty of the container's devpts.
func NewPty() (master *os.File, slaveName string, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("unlock pty: %w", os.NewSyscallError("ioctl TIOCSPTLCK", err))
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("get pty number: %w", os.NewSyscallError("ioctl TIOCGPTN", err))
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), "/dev/pts/" + strconv.FormatUint(uint64(n), 10), nil
}

// OpenSlave opens the pty slave at name (as returned by NewPty) with
// O_RDWR|O_NOCTTY|O_CLOEXEC.
func OpenSlave(name string) (*os.File, error) {
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// OpenPeer opens the slave of master directly (ioctl TIOCGPTPEER, Linux
// 4.13+), with no path lookup that a container could race. name is only
// the returned file's Name.
func OpenPeer(master *os.File, name string) (*os.File, error) {
	var nfd uintptr
	var errno unix.Errno
	err := control(master, func(fd int) {
		nfd, _, errno = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER,
			uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	})
	if err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, os.NewSyscallError("ioctl TIOCGPTPEER", errno)
	}
	return os.NewFile(nfd, name), nil
}

// control runs fn with f's descriptor without switching f to blocking
// mode (which f.Fd() would do).
func control(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}
