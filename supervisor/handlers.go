package supervisor

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// BasicHandlers are probe and hook handlers built on the runtime: exec
// through runtime.Exec (a podrun init child per attempt, in the
// container's namespaces and cgroup), httpGet and tcpSocket dialled from a
// thread that lives in the pod's network namespace (so they work without
// a pod IP). The probes package supersedes them when present.
type BasicHandlers struct {
	Runtime *runtime.Runtime

	mu      sync.Mutex
	dialers map[string]*nsDialer
}

// Handler implements Handlers.
func (b *BasicHandlers) Handler(t Target, h *manifest.ProbeHandler) (Handler, error) {
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return nil, errors.New("exec: empty command")
		}
		return b.execHandler(t, h.Exec.Command), nil
	case h.TCPSocket != nil:
		addr, err := probeAddr(t, h.TCPSocket.Host, h.TCPSocket.Port)
		if err != nil {
			return nil, err
		}
		dial := b.dialer(t)
		return func(ctx context.Context) (bool, string) {
			c, err := dial(ctx, addr)
			if err != nil {
				return false, "dial tcp " + addr + ": " + err.Error()
			}
			c.Close()
			return true, ""
		}, nil
	case h.HTTPGet != nil:
		g := h.HTTPGet
		addr, err := probeAddr(t, g.Host, g.Port)
		if err != nil {
			return nil, err
		}
		scheme := "http"
		if g.Scheme == manifest.URISchemeHTTPS {
			scheme = "https"
		}
		path := g.Path
		if path == "" || path[0] != '/' {
			path = "/" + path
		}
		url := scheme + "://" + addr + path
		dial := b.dialer(t)
		client := &http.Client{
			Transport: &http.Transport{
				DialContext:       func(ctx context.Context, _, a string) (net.Conn, error) { return dial(ctx, a) },
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // kubelet does not verify either
				DisableKeepAlives: true,
			},
			// kubelet follows redirects to the same host only; a redirect
			// is a success here either way (3xx counts).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		return func(ctx context.Context) (bool, string) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return false, err.Error()
			}
			req.Header.Set("User-Agent", "kube-probe/podrun")
			for _, hd := range g.HTTPHeaders {
				req.Header.Set(hd.Name, hd.Value)
			}
			resp, err := client.Do(req)
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
			if resp.StatusCode >= 200 && resp.StatusCode < 400 {
				return true, ""
			}
			return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, bytes.TrimSpace(body))
		}, nil
	case h.GRPC != nil:
		return nil, errors.New("grpc probes are not supported")
	}
	return nil, errors.New("probe has no handler")
}

// probeAddr is host:port; the host defaults to the pod IP or, in the pod's
// network namespace, loopback; a named port is looked up in the
// container's ports.
func probeAddr(t Target, host string, port manifest.IntOrString) (string, error) {
	p := int(port.IntVal)
	if port.IsString {
		p = 0
		for _, cp := range t.Container.Ports {
			if cp.Name == port.StrVal {
				p = int(cp.ContainerPort)
			}
		}
		if p == 0 {
			return "", fmt.Errorf("port %q is not a named port of container %s", port.StrVal, t.Container.Name)
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

func (b *BasicHandlers) execHandler(t Target, cmd []string) Handler {
	return func(ctx context.Context) (bool, string) {
		proc, err := b.Runtime.ExecProcess(t.ID, runtime.ExecOverrides{Args: cmd})
		if err != nil {
			return false, err.Error()
		}
		proc.Terminal = false
		r, w, err := os.Pipe()
		if err != nil {
			return false, err.Error()
		}
		defer r.Close()
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			w.Close()
			return false, err.Error()
		}
		defer devnull.Close()
		child, err := b.Runtime.Exec(t.ID, runtime.ExecOpts{Process: proc, Stdio: [3]*os.File{devnull, w, w}})
		w.Close()
		if err != nil {
			return false, err.Error()
		}
		out := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(io.LimitReader(r, 10<<10)); io.Copy(io.Discard, r); out <- b }()
		done := make(chan error, 1)
		go func() { done <- child.Cmd.Wait() }()
		select {
		case err = <-done:
		case <-ctx.Done():
			// The probe's timeout kills it (kubelet's exec probe timeout).
			child.Cmd.Process.Kill()
			<-done
			return false, "command timed out"
		}
		msg := bytes.TrimSpace(<-out)
		if err != nil {
			return false, fmt.Sprintf("%s: %s", err, msg)
		}
		return true, ""
	}
}

// dialer returns a dial function working in the target pod's network
// namespace (the host's for hostNetwork pods).
func (b *BasicHandlers) dialer(t Target) func(ctx context.Context, addr string) (net.Conn, error) {
	ns := t.Sandbox.NetNS
	if ns == "" {
		var d net.Dialer
		return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dialers == nil {
		b.dialers = map[string]*nsDialer{}
	}
	d := b.dialers[ns]
	if d == nil {
		d = &nsDialer{path: ns, reqs: make(chan dialReq)}
		go d.serve()
		b.dialers[ns] = d
	}
	return d.dial
}

// nsDialer is one goroutine locked to a thread that joined a network
// namespace: sockets are created by that thread, so they belong to the
// namespace; the connection is then used from any goroutine.
type nsDialer struct {
	path string
	reqs chan dialReq
}

type dialReq struct {
	ctx  context.Context
	addr string
	resp chan dialResp
}

type dialResp struct {
	c   net.Conn
	err error
}

func (d *nsDialer) serve() {
	// Never unlocked: the thread, switched into the pod's namespace, is
	// discarded when the goroutine ends.
	goruntime.LockOSThread()
	fd, err := unix.Open(d.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
	}
	for r := range d.reqs {
		if err != nil {
			r.resp <- dialResp{err: fmt.Errorf("entering the pod's network namespace: %w", err)}
			continue
		}
		var nd net.Dialer
		c, derr := nd.DialContext(r.ctx, "tcp", r.addr)
		r.resp <- dialResp{c, derr}
	}
}

func (d *nsDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	r := dialReq{ctx: ctx, addr: addr, resp: make(chan dialResp, 1)}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.resp
	return res.c, res.err
}
