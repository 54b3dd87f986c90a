package console

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/rootonly"
)

// Socket is a listening console socket: the --console-socket end that
// receives a pty master. podrun run -t serves one for its own container;
// containerd's shim and conmon serve their own.
type Socket struct {
	f    *os.File // listening AF_UNIX stream socket, non-blocking
	path string
	dir  string // removed on Close when NewSocket created it
	dl   time.Time
}

// NewSocket listens on "pty.sock" in a new private (0700) directory under
// os.TempDir(); Close removes the directory.
func NewSocket() (*Socket, error) {
	dir, err := os.MkdirTemp("", "podrun-console-")
	if err != nil {
		return nil, err
	}
	s, err := ListenSocket(filepath.Join(dir, "pty.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.dir = dir
	return s, nil
}

// ListenSocket listens on a unix stream socket at path (which must not
// exist). Close removes path.
func ListenSocket(path string) (*Socket, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: abs}); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "bind", Path: abs, Err: err}
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		os.Remove(abs)
		return nil, os.NewSyscallError("listen", err)
	}
	return &Socket{f: os.NewFile(uintptr(fd), abs), path: abs}, nil
}

// Path is the absolute path to pass as --console-socket.
func (s *Socket) Path() string { return s.path }

// SetDeadline bounds how long ReceiveMaster waits for a connection; the
// zero time means no limit. Close from another goroutine also unblocks it.
func (s *Socket) SetDeadline(t time.Time) error {
	s.dl = t
	return s.f.SetDeadline(t)
}

// ReceiveMaster accepts one connection and receives the pty master sent
// on it with SendFd; the returned file is named by the pty slave path.
// Connections from peers other than root (or our uid) are closed unread:
// the runtime that dials is root.
func (s *Socket) ReceiveMaster() (*os.File, error) {
	conn, err := s.accept()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if !s.dl.IsZero() {
		_ = conn.SetReadDeadline(s.dl)
	}
	return RecvFd(conn)
}

// accept returns the next connection from an allowed peer.
func (s *Socket) accept() (*os.File, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	for {
		var nfd int
		var aerr error
		err = rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			return aerr != unix.EAGAIN
		})
		if err == nil {
			err = aerr
		}
		if err != nil {
			return nil, os.NewSyscallError("accept", err)
		}
		conn := os.NewFile(uintptr(nfd), "console-conn")
		if rootonly.Peer(conn) == nil {
			return conn, nil
		}
		conn.Close()
	}
}

// Close stops listening and removes the socket (and its directory when
// NewSocket made it).
func (s *Socket) Close() error {
	err := s.f.Close()
	if s.dir != "" {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
	} else if rerr := os.Remove(s.path); err == nil && !os.IsNotExist(rerr) {
		err = rerr
	}
	return err
}

// Dial connects to the console socket at path, as create and exec do
// before handing the connection to the process that creates the pty. The
// returned descriptor is blocking and close-on-exec.
func Dial(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
