package console

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxNameLen bounds the name sent with a descriptor. Receivers (runc's
// utils.RecvFd, go-runc's console socket) read into a buffer of this size
// and reject a message that fills it.
const MaxNameLen = 4096

// oobSpace is the control-message space of exactly one SCM_RIGHTS fd; the
// receivers require oobn to equal it.
var oobSpace = unix.CmsgSpace(4)

// SendFd sends f over the AF_UNIX socket (an *os.File, *net.UnixConn or
// any other syscall.Conn) as ONE sendmsg: the payload is name and there is
// exactly one SCM_RIGHTS control message carrying exactly one descriptor.
// This is what containerd's go-runc console socket and runc expect of the
// pty master, with name the pty slave path.
func SendFd(socket syscall.Conn, name string, f *os.File) error {
	if len(name) >= MaxNameLen {
		return fmt.Errorf("sendfd: filename too long: %s", name)
	}
	var oob []byte
	if err := control(f, func(fd int) { oob = unix.UnixRights(fd) }); err != nil {
		return fmt.Errorf("sendfd: %w", err)
	}
	rc, err := socket.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfd: %w", err)
	}
	var serr error
	err = rc.Write(func(s uintptr) bool {
		serr = unix.Sendmsg(int(s), []byte(name), oob, nil, 0)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	// f is kept alive until the kernel has taken its own reference.
	runtime.KeepAlive(f)
	if err != nil {
		return fmt.Errorf("sendfd: %w", os.NewSyscallError("sendmsg", err))
	}
	return nil
}

// RecvFd receives one descriptor sent by SendFd (or runc / go-runc's
// SendFd) from socket and returns it as a file named by the payload. It
// applies the same checks as go-runc: payload shorter than MaxNameLen,
// exactly one control message with exactly one descriptor. The new
// descriptor is close-on-exec; any extra descriptors are closed.
func RecvFd(socket syscall.Conn) (*os.File, error) {
	rc, err := socket.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("recvfd: %w", err)
	}
	name := make([]byte, MaxNameLen)
	oob := make([]byte, oobSpace+unix.CmsgSpace(4)) // room to see (and close) an extra fd
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(s uintptr) bool {
		n, oobn, flags, _, rerr = unix.Recvmsg(int(s), name, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("recvfd: %w", os.NewSyscallError("recvmsg", err))
	}
	fds, perr := parseRights(oob[:oobn])
	bad := func(e error) (*os.File, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, e
	}
	switch {
	case perr != nil:
		return bad(fmt.Errorf("recvfd: %w", perr))
	case flags&unix.MSG_CTRUNC != 0:
		return bad(errors.New("recvfd: control message truncated"))
	case n >= MaxNameLen || oobn != oobSpace:
		return bad(fmt.Errorf("recvfd: incorrect number of bytes read (n=%d oobn=%d)", n, oobn))
	case len(fds) != 1:
		return bad(fmt.Errorf("recvfd: number of fds is not 1: %d", len(fds)))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// parseRights returns every descriptor in the SCM_RIGHTS messages of oob,
// failing if there is a control message of another kind.
func parseRights(oob []byte) ([]int, error) {
	scms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range scms {
		got, err := unix.ParseUnixRights(&scms[i])
		if err != nil {
			return fds, err
		}
		fds = append(fds, got...)
	}
	if len(scms) != 1 {
		return fds, fmt.Errorf("number of SCMs is not 1: %d", len(scms))
	}
	return fds, nil
}
