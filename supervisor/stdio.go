package supervisor

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
)

// Holder keys of a run's streams besides "stdout" and "stderr".
const (
	streamStdin = "stdin" // write end of a stdin: true container's stdin pipe
	streamTTY   = "tty"   // pty master of a tty: true container
)

// runIO is the stdio of one run, as containerd's CRI sets up a task's:
//   - tty: false: stdout and stderr pipes; stdin a pipe whose write end
//     the supervisor keeps open with stdin: true (the process never reads
//     EOF while the pod is supervised), /dev/null without.
//   - tty: true: a pty; its master arrives on a console socket during the
//     create, and what is read from it is the log's "stdout" (kubelet
//     logs a tty's output as stdout).
//
// stdinOnce would close stdin after the first attach ends; podrun has no
// attach, so it behaves like stdin.
type runIO struct {
	pass   pod.ContainerIO
	child  []*os.File // the container's ends, closed once it is created
	sock   *console.Socket
	out    *os.File // stdout pipe read end (no tty)
	errR   *os.File // stderr pipe read end (no tty)
	stdin  *os.File // stdin pipe write end (stdin: true, no tty)
	master *os.File // pty master (tty)
}

func newRunIO(c *manifest.Container) (_ *runIO, retErr error) {
	io := &runIO{}
	defer func() {
		if retErr != nil {
			io.closeChild()
			io.closeOurs()
		}
	}()
	if c.TTY {
		s, err := console.NewSocket()
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		io.sock = s
		io.pass.ConsoleSocket = s.Path()
		return io, nil
	}
	var err error
	var wOut, wErr *os.File
	if io.out, wOut, err = os.Pipe(); err != nil {
		return nil, err
	}
	io.child = append(io.child, wOut)
	if io.errR, wErr, err = os.Pipe(); err != nil {
		return nil, err
	}
	io.child = append(io.child, wErr)
	io.pass.Stdio[1], io.pass.Stdio[2] = wOut, wErr
	if c.Stdin {
		var rIn *os.File
		if rIn, io.stdin, err = os.Pipe(); err != nil {
			return nil, err
		}
		io.child = append(io.child, rIn)
		io.pass.Stdio[0] = rIn
	}
	return io, nil
}

// created runs after the create (err is its result): the container's ends
// are closed, and a tty's master is received from the console socket (the
// init sent it before the create returned).
func (io *runIO) created(err error) error {
	io.closeChild()
	if io.sock == nil {
		return err
	}
	defer func() { io.sock.Close(); io.sock = nil }()
	if err != nil {
		return err
	}
	_ = io.sock.SetDeadline(time.Now().Add(10 * time.Second))
	m, err := io.sock.ReceiveMaster()
	if err != nil {
		return fmt.Errorf("receiving the pty master: %w", err)
	}
	io.master = pollable(m)
	return nil
}

// pollable makes f non-blocking so that reading it parks a goroutine in
// the netpoller, not a thread (a pty master supports epoll).
func pollable(f *os.File) *os.File {
	fd, err := unix.Dup(int(f.Fd()))
	name := f.Name()
	f.Close()
	if err != nil {
		return nil
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

func (io *runIO) closeChild() {
	for _, f := range io.child {
		f.Close()
	}
	io.child = nil
}

// closeOurs closes the supervisor's ends (a run that failed to start).
func (io *runIO) closeOurs() {
	for _, f := range []*os.File{io.out, io.errR, io.stdin, io.master} {
		if f != nil {
			f.Close()
		}
	}
	if io.sock != nil {
		io.sock.Close()
	}
}

// hold hands the run's ends to the fd holder, so that they outlive this
// supervisor: the pipes' read ends, the pty master and stdin's write end
// (whose close would be EOF for the container).
func (d *daemon) holdIO(name string, attempt int, io *runIO) {
	for stream, f := range map[string]*os.File{"stdout": io.out, "stderr": io.errR, streamStdin: io.stdin, streamTTY: io.master} {
		if f != nil {
			_ = d.holder.put(fdKey(name, attempt, stream), f)
		}
	}
}

// dropIO tells the holder a run's ends are no longer needed.
func (d *daemon) dropIO(name string, attempt int) {
	for _, stream := range []string{"stdout", "stderr", streamStdin, streamTTY} {
		d.holder.drop(fdKey(name, attempt, stream))
	}
}

// copyTTY copies a tty run's pty master into its log as stdout until the
// pty hangs up (EIO once every slave fd is closed), then closes the log.
func (d *daemon) copyTTY(r *run, master *os.File) {
	r.copies.Add(1)
	d.copies.Add(1)
	r.hub = &attachHub{}
	go func() { defer r.copies.Done(); r.logs.Copy("stdout", io.TeeReader(master, r.hub)); master.Close() }()
	go func() { r.copies.Wait(); r.logs.Close(); r.hub.closeAll(); d.copies.Done() }()
}
