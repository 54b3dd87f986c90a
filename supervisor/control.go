// control.go: the supervisor's control socket: one JSON request per
// connection (stop, status; attach in attach.go), answered from the loop.

package supervisor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/rootonly"
)

// request is one control request (one JSON object per connection).
type request struct {
	Op string `json:"op"` // "stop", "status"
	// Grace overrides terminationGracePeriodSeconds for stop (nil: the pod's).
	Grace *float64 `json:"grace,omitempty"`
	// attach (attach.go): the container (default the first app
	// container), whether to send stdin, the client's terminal size.
	Container string `json:"container,omitempty"`
	Stdin     bool   `json:"stdin,omitempty"`
	Rows      uint16 `json:"rows,omitempty"`
	Cols      uint16 `json:"cols,omitempty"`
}

type response struct {
	Error string `json:"error,omitempty"`
	// Code is Error's errdefs category ("NotFound", ...; "" for none), so
	// the client gets a typed error back.
	Code   string  `json:"code,omitempty"`
	Record *Record `json:"record,omitempty"`
}

// setError puts err (nil: none) into the response.
func (r *response) setError(err error) { r.Error, r.Code = errText(err), errdefs.Code(err) }

// err is the response's error as the server's category and text.
func (r *response) err() error { return errdefs.FromCode(r.Code, r.Error) }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (d *daemon) listen() error {
	path := filepath.Join(d.dir, sockFile)
	// Bound inside a root-only dir: a chmod after bind left a window in
	// which, under a permissive umask, anyone could connect (and attach
	// to a container's tty).
	if err := rootonly.Dir(d.dir); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return nil
}

func (d *daemon) serve(c *net.UnixConn) {
	defer c.Close()
	if err := rootonly.Peer(c); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: control socket: %v\n", err)
		return
	}
	var req request
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	if req.Op == "attach" {
		d.serveAttach(c, req)
		return
	}
	var resp response
	switch req.Op {
	case "stop":
		grace := time.Duration(-1)
		if req.Grace != nil {
			grace = time.Duration(*req.Grace * float64(time.Second))
		}
		done := make(chan error, 1)
		d.post(func() {
			g := grace
			if g < 0 {
				g = d.grace()
			}
			d.stop(g, done)
		})
		select {
		case err := <-done:
			resp.setError(err)
		case <-d.done:
		}
	case "status":
		ch := make(chan Record, 1)
		d.post(func() { ch <- *d.rec })
		select {
		case r := <-ch:
			resp.Record = &r
		case <-d.done:
		}
	default:
		resp.setError(errdefs.Newf(errdefs.ErrInvalidArgument, "unknown op %s", req.Op))
	}
	json.NewEncoder(c).Encode(resp)
}
