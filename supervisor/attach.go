package supervisor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/pod"
)

// Attach (kubectl attach): a client on the control socket sends
// {"op":"attach","container":C,"stdin":B,"rows":R,"cols":N}; after the
// supervisor's one-line JSON answer the connection is a raw stream: the
// run's output (stdout and stderr merged; a tty's output) from then on
// goes to the client, and with stdin what the client sends goes to the
// container's stdin pipe or pty master. The supervisor closes the
// connection when the run's output ends. With stdinOnce (no tty) the
// container's stdin is closed when the first attach's input ends, as
// containerd does: the process reads EOF.

// attachWriteTimeout bounds how long a stalled client can hold up the
// run's log copy before it is dropped.
const attachWriteTimeout = 2 * time.Second

// attachHub fans a run's output out to its attached clients.
type attachHub struct {
	mu      sync.Mutex
	clients map[net.Conn]chan struct{} // closed when the client is dropped
	closed  bool
}

// Write sends p to every client; one that fails is dropped. It never
// fails itself: the log copy must go on.
func (h *attachHub) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, done := range h.clients {
		_ = c.SetWriteDeadline(time.Now().Add(attachWriteTimeout))
		if _, err := c.Write(p); err != nil {
			c.Close()
			close(done)
			delete(h.clients, c)
		}
	}
	return len(p), nil
}

// add registers c; the returned channel is closed when c is dropped or
// the run's output ends. nil: the output has already ended.
func (h *attachHub) add(c net.Conn) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	if h.clients == nil {
		h.clients = map[net.Conn]chan struct{}{}
	}
	done := make(chan struct{})
	h.clients[c] = done
	return done
}

// closeAll ends every attach: the run's output is over.
func (h *attachHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c, done := range h.clients {
		c.Close()
		close(done)
	}
	h.clients = nil
}

// attachTo is what an attach request found on the loop.
type attachTo struct {
	hub    *attachHub
	in     io.Writer // stdin pipe or pty master; nil without stdin
	master *os.File  // tty
	once   func()    // closes stdin (stdinOnce, no tty)
	err    error
}

var errFinishing = errdefs.New(errdefs.ErrUnavailable, "the pod's supervisor is finishing")

func (d *daemon) serveAttach(conn *net.UnixConn, req request) {
	ch := make(chan attachTo, 1)
	d.post(func() {
		if d.finishing {
			ch <- attachTo{err: errFinishing}
			return
		}
		ch <- d.findAttach(req)
	})
	var a attachTo
	select {
	case a = <-ch:
	case <-d.done:
		a.err = errFinishing
	}
	var resp response
	resp.setError(a.err)
	if err := json.NewEncoder(conn).Encode(resp); err != nil || a.err != nil {
		return
	}
	if a.master != nil && req.Rows > 0 && req.Cols > 0 {
		_ = console.SetWinsize(a.master, req.Rows, req.Cols)
	}
	done := a.hub.add(conn)
	if done == nil {
		return
	}
	if a.in != nil {
		_, _ = io.Copy(a.in, conn)
		if a.once != nil {
			d.post(a.once)
		}
	} else {
		_, _ = io.Copy(io.Discard, conn)
	}
	<-done
}

// findAttach runs on the loop.
func (d *daemon) findAttach(req request) attachTo {
	c := d.byName[req.Container]
	if req.Container == "" {
		for _, x := range d.ctrs {
			if !x.init {
				c = x
				break
			}
		}
	}
	if c == nil {
		return attachTo{err: pod.NoContainerError(d.sb.Name, req.Container)}
	}
	r := c.run
	if r == nil || r.hub == nil {
		return attachTo{err: errdefs.Newf(errdefs.ErrFailedPrecondition, "container %s is not running", c.name)}
	}
	a := attachTo{hub: r.hub, master: r.master}
	if !req.Stdin {
		return a
	}
	switch {
	case !c.spec.Stdin:
		return attachTo{err: errdefs.Newf(errdefs.ErrFailedPrecondition, "container %s: stdin is not enabled (stdin: false in the manifest)", c.name)}
	case r.master != nil:
		a.in = r.master
	case r.stdin != nil:
		a.in = r.stdin
		if c.spec.StdinOnce {
			a.once = func() {
				if r.stdin != nil {
					r.stdin.Close()
					r.stdin = nil
					d.holder.drop(fdKey(c.name, r.attempt, streamStdin))
				}
			}
		}
	default:
		return attachTo{err: errdefs.Newf(errdefs.ErrFailedPrecondition, "container %s: its stdin was closed (stdinOnce)", c.name)}
	}
	return a
}

// AttachOptions are a client's side of an attach.
type AttachOptions struct {
	Container  string // "" : the first app container
	Stdin      io.Reader
	Out        io.Writer
	Rows, Cols uint16 // the client's terminal, for a tty (0: leave it)
}

// Attach connects to a running container of sb through its supervisor
// and copies its output to o.Out (and o.Stdin, when set, to its stdin)
// until the container's output ends.
func Attach(sb *pod.Sandbox, o AttachOptions) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: filepath.Join(sb.StateDir, sockFile), Net: "unix"})
	if err != nil {
		return errdefs.Wrap(errdefs.ErrUnavailable, fmt.Errorf("pod %s has no running supervisor: %w", sb.Name, err))
	}
	defer c.Close()
	req := request{Op: "attach", Container: o.Container, Stdin: o.Stdin != nil, Rows: o.Rows, Cols: o.Cols}
	// No trailing newline: the supervisor's decoder stops at the object's
	// end, and anything after it would be the container's input.
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := c.Write(data); err != nil {
		return err
	}
	// The answer line byte by byte: what follows it is the stream.
	var line bytes.Buffer
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("attach: %w", err)
		}
		if b[0] == '\n' {
			break
		}
		line.WriteByte(b[0])
	}
	var resp response
	if err := json.Unmarshal(line.Bytes(), &resp); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if err := resp.err(); err != nil {
		return err
	}
	if o.Stdin != nil {
		go func() {
			_, _ = io.Copy(c, o.Stdin)
			_ = c.CloseWrite()
		}()
	} else {
		_ = c.CloseWrite()
	}
	_, err = io.Copy(o.Out, c)
	return err
}
