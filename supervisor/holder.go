package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/rootonly"
)

// The fd holder keeps a duplicate of the read end of every container's
// stdout and stderr pipe, in a process of its own. Why: the supervisor
// holds the read ends it copies into the log files; if it is killed and
// nothing else held them, the next write of a container would get
// SIGPIPE/EPIPE and most programs die of that. With the holder alive the
// pipes stay open: a container's writes only block once the pipe buffer
// (64 KiB) is full, as they would behind a slow log reader, and the
// recovering supervisor gets the very same pipes back from the holder and
// resumes copying; nothing written meanwhile is lost. The holder never
// reads. It exits when told to, or when the pod's infra process ends.
//
// Protocol (SOCK_SEQPACKET on <StateDir>/<name>/fds.sock, one message per
// operation): "P<key>" + one fd: keep it (replacing an older one);
// "D<key>": close it; "G": the holder answers "F<key>" + fd for each fd,
// then "E"; "Q": exit.

// holderSock is the holder's socket name in the pod's state dir.
const holderSock = "fds.sock"

// listenHolder makes the holder's listening socket sock, as a file to
// hand to the holder. Connections made before the holder runs queue on
// it, messages and fds included, so the supervisor can dial and put at
// once and the holder's exec need not wait.
func listenHolder(sock string) (*os.File, error) {
	// In a root-only dir (whatever the umask), and the holder checks
	// each peer: the held fds are the containers' pipes and ptys.
	if err := rootonly.Dir(filepath.Dir(sock)); err != nil {
		return nil, err
	}
	_ = os.Remove(sock)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	l.Close()
	return lf, err
}

// startHolder starts the holder process for a pod whose infra is infraPid,
// serving the listening socket lf (see listenHolder). args re-execute
// podrun as the holder.
func startHolder(exe string, args []string, lf *os.File, infraPid int) (int, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, append(args, strconv.Itoa(infraPid))...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{lf} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	// Reaped if it ends before us; it normally outlives the supervisor.
	go cmd.Wait()
	return cmd.Process.Pid, nil
}

// RunHolder is the holder's main: fd 3 is its listening socket.
func RunHolder(infraPid int) error {
	lf := os.NewFile(3, "holder-listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return err
	}
	l := ln.(*net.UnixListener)
	done := make(chan struct{})
	if p, err := openProc(infraPid, 0, false); err == nil {
		go func() { p.wait(); close(done) }()
	} else {
		return nil // no infra: nothing to hold for
	}
	fds := map[string]int{}
	conns := make(chan *net.UnixConn)
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	for {
		select {
		case <-done:
			return nil
		case c := <-conns:
			if err := rootonly.Peer(c); err != nil {
				c.Close()
				continue
			}
			if quit := serveHolder(c, fds); quit {
				return nil
			}
		}
	}
}

// serveHolder serves one supervisor connection until it closes; true
// means the supervisor asked the holder to exit.
func serveHolder(c *net.UnixConn, fds map[string]int) bool {
	defer c.Close()
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return false
		}
		op, key := buf[0], string(buf[1:n])
		var got []int
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if r, err := unix.ParseUnixRights(&m); err == nil {
						got = append(got, r...)
					}
				}
			}
		}
		switch op {
		case 'P':
			if old, ok := fds[key]; ok {
				unix.Close(old)
			}
			if len(got) > 0 {
				fds[key] = got[0]
				got = got[1:]
			}
		case 'D':
			if old, ok := fds[key]; ok {
				unix.Close(old)
				delete(fds, key)
			}
		case 'G':
			for k, fd := range fds {
				if _, _, err := c.WriteMsgUnix(append([]byte{'F'}, k...), unix.UnixRights(fd), nil); err != nil {
					return false
				}
			}
			if _, err := c.Write([]byte{'E'}); err != nil {
				return false
			}
		case 'Q':
			for _, fd := range got {
				unix.Close(fd)
			}
			return true
		}
		for _, fd := range got {
			unix.Close(fd)
		}
	}
}

// holderClient is the supervisor's connection to the holder. Every method
// is a no-op on a nil client (the holder could not be started: the pod
// runs, only without the protection).
type holderClient struct{ c *net.UnixConn }

func dialHolder(sock string) (*holderClient, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	return &holderClient{c: c}, nil
}

func (h *holderClient) put(key string, f *os.File) error {
	if h == nil {
		return nil
	}
	// Through Control, not f.Fd(): Fd would switch f to blocking mode and
	// every copy reading it would then hold a thread.
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, _, werr = h.c.WriteMsgUnix(append([]byte{'P'}, key...), unix.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return werr
}

func (h *holderClient) drop(key string) {
	if h != nil {
		_, _ = h.c.Write(append([]byte{'D'}, key...))
	}
}

func (h *holderClient) quit() {
	if h != nil {
		_, _ = h.c.Write([]byte{'Q'})
		h.c.Close()
	}
}

// getAll returns duplicates of every held fd by key.
func (h *holderClient) getAll() (map[string]*os.File, error) {
	if h == nil {
		return nil, errors.New("no fd holder")
	}
	if _, err := h.c.Write([]byte{'G'}); err != nil {
		return nil, err
	}
	out := map[string]*os.File{}
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := h.c.ReadMsgUnix(buf, oob)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, fmt.Errorf("fd holder closed the connection")
		}
		if buf[0] == 'E' {
			return out, nil
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				for i, fd := range r {
					if i == 0 {
						out[string(buf[1:n])] = os.NewFile(uintptr(fd), string(buf[1:n]))
					} else {
						unix.Close(fd)
					}
				}
			}
		}
	}
}

func (h *holderClient) close() {
	if h != nil {
		h.c.Close()
	}
}
