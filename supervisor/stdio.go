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
	rio := &runIO{}
	defer func() {
		if retErr != nil {
			rio.closeChild()
			rio.closeOurs()
		}
	}()
	if c.TTY {
		s, err := console.NewSocket()
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		rio.sock = s
		rio.pass.ConsoleSocket = s.Path()
		return rio, nil
	}
	var err error
	var wOut, wErr *os.File
	if rio.out, wOut, err = os.Pipe(); err != nil {
		return nil, err
	}
	rio.child = append(rio.child, wOut)
	if rio.errR, wErr, err = os.Pipe(); err != nil {
		return nil, err
	}
	rio.child = append(rio.child, wErr)
	rio.pass.Stdio[1], rio.pass.Stdio[2] = wOut, wErr
	if c.Stdin {
		var rIn *os.File
		if rIn, rio.stdin, err = os.Pipe(); err != nil {
			return nil, err
		}
		rio.child = append(rio.child, rIn)
		rio.pass.Stdio[0] = rIn
	}
	return rio, nil
}

// created runs after the create (err is its result): the container's ends
// are closed, and a tty's master is received from the console socket (the
// init sent it before the create returned).
func (rio *runIO) created(err error) error {
	rio.closeChild()
	if rio.sock == nil {
		return err
	}
	defer func() { rio.sock.Close(); rio.sock = nil }()
	if err != nil {
		return err
	}
	_ = rio.sock.SetDeadline(time.Now().Add(10 * time.Second))
	m, err := rio.sock.ReceiveMaster()
	if err != nil {
		return fmt.Errorf("receiving the pty master: %w", err)
	}
	rio.master, err = pollable(m)
	return err
}

// pollable makes f non-blocking so that reading it parks a goroutine in
// the netpoller, not a thread (a pty master supports epoll). f is closed.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func (rio *runIO) closeChild() {
	for _, f := range rio.child {
		f.Close()
	}
	rio.child = nil
}

// closeOurs closes the supervisor's ends (a run that failed to start).
func (rio *runIO) closeOurs() {
	for _, f := range []*os.File{rio.out, rio.errR, rio.stdin, rio.master} {
		if f != nil {
			f.Close()
		}
	}
	if rio.sock != nil {
		rio.sock.Close()
	}
}

// hold hands the run's ends to the fd holder, so that they outlive this
// supervisor: the pipes' read ends, the pty master and stdin's write end
// (whose close would be EOF for the container).
func (d *daemon) holdIO(name string, attempt int, rio *runIO) {
	for stream, f := range map[string]*os.File{"stdout": rio.out, "stderr": rio.errR, streamStdin: rio.stdin, streamTTY: rio.master} {
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

// copyLogs copies a run's stdout and stderr into its log until EOF (every
// writer gone), then closes the log.
func (d *daemon) copyLogs(r *run, out, errf *os.File) {
	r.copies.Add(2)
	d.copies.Add(1)
	r.hub = &attachHub{}
	go func() { defer r.copies.Done(); r.logs.Copy("stdout", io.TeeReader(out, r.hub)); out.Close() }()
	go func() { defer r.copies.Done(); r.logs.Copy("stderr", io.TeeReader(errf, r.hub)); errf.Close() }()
	go func() { r.copies.Wait(); r.logs.Close(); r.hub.closeAll(); d.copies.Done() }()
}

// drainLogs waits until every log copy has reached the end of its pipes
// (bounded: a process that escaped its container may hold one open).
func (d *daemon) drainLogs(limit time.Duration) {
	done := make(chan struct{})
	go func() { d.copies.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		fmt.Fprintf(os.Stderr, "supervisor: log copies still open after %s\n", limit)
	}
}
