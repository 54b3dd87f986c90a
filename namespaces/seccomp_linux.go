package namespaces

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The seccomp steps of the init protocol. With SCMP_ACT_NOTIFY rules the
// child, right after loading the filter, sends the listener fd:
//
//	child  -> parent seccompFd   (the fd rides along with SCM_RIGHTS)
//	parent -> child  seccompDone (the fd reached linux.seccomp.listenerPath)
//
// The exchange sits between hooksDone (create) or config (exec) and ready,
// so WaitReady handles it (msgSeccompFd and msgSeccompDone, protocol.go).

// loadSeccomp loads the filter of the plan, if any, when it is this step's turn:
// with noNewPrivileges as late as possible (after the process attributes,
// just before ready: fewer of the init's own syscalls run under the filter),
// without it before the credentials change (loading needs CAP_SYS_ADMIN),
// as runc does.
func loadSeccomp(c *conn, pl *Plan, late bool) error {
	f := pl.Seccomp
	if f == nil || pl.NoNewPrivileges != late {
		return nil
	}
	listener, err := f.Load()
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if listener == nil {
		return nil
	}
	defer listener.Close()
	if err := c.sendFd(message{Type: msgSeccompFd}, listener); err != nil {
		return fmt.Errorf("linux.seccomp: sending the listener fd: %w", err)
	}
	_, err = c.recv(msgSeccompDone)
	return err
}

// sendFd sends m with fd attached (one sendmsg: write(2) may be what the
// filter notifies, sendmsg never is).
func (c *conn) sendFd(m message, fd *os.File) error {
	return unix.Sendmsg(int(c.f.Fd()), m.frame(), unix.UnixRights(int(fd.Fd())), nil, 0)
}

// fdReader reads the protocol socket with recvmsg and keeps the fds that
// arrive, so that the buffered reader above it never drops one.
type fdReader struct {
	f   *os.File
	fds []int
}

func (r *fdReader) Read(p []byte) (int, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					r.fds = append(r.fds, fds...)
				}
			}
		}
	}
	if err != nil {
		return 0, err
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// takeFd returns the oldest fd received, if any.
func (r *fdReader) takeFd() (*os.File, bool) {
	if len(r.fds) == 0 {
		return nil, false
	}
	fd := r.fds[0]
	r.fds = r.fds[1:]
	return os.NewFile(uintptr(fd), "received-fd"), true
}

// waitReady waits for ready, passing a seccomp listener fd sent on the way
// to c.SeccompListener.
func (c *Child) waitReady() error {
	for {
		m, err := c.conn.recvAny()
		if err != nil {
			return err
		}
		switch m.Type {
		case msgReady:
			return nil
		case msgSeccompFd:
			fd, ok := c.conn.r.takeFd()
			if !ok {
				return errors.New("init protocol: seccomp listener fd missing")
			}
			err := errors.New("linux.seccomp: SCMP_ACT_NOTIFY rules but no listener to send the fd to")
			if c.SeccompListener != nil {
				err = c.SeccompListener(fd)
			}
			fd.Close()
			if err != nil {
				return err
			}
			if err := c.conn.send(message{Type: msgSeccompDone}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("init protocol: got %v, want %v", m.Type, msgReady)
		}
	}
}
