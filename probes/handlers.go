// Package probes runs a container's liveness, readiness and startup probes
// with the kubelet's semantics: the handlers (exec, httpGet, tcpSocket,
// grpc health v1), one attempt each. It starts no containers and kills
// none: the supervisor's probe worker schedules the attempts, applies the
// thresholds and acts on the results.
package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/podrun/podrun/pod/manifest"
)

// Result of one probe, or the thresholded state of a probe.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

// Handler runs one probe attempt. err reports a probe that could not be
// run (counted as a failure, as kubelet does); output is what the user sees
// in the event (command output, HTTP body, dial error).
type Handler interface {
	Probe(ctx context.Context) (r Result, output string, err error)
}

// DialFunc dials like net.Dialer.DialContext; NetNSDialer returns one that
// dials from inside a network namespace.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ExecFunc runs argv inside the container and returns its exit code and
// combined output. It must kill the command when ctx is done and then
// return ctx.Err() (wrapped or not).
type ExecFunc func(ctx context.Context, argv []string) (exitCode int, output []byte, err error)

// Target is what handlers need to know about the container.
type Target struct {
	// PodIP is the default host of httpGet and tcpSocket; when empty (a
	// loopback-only pod) 127.0.0.1 is used, which needs Dial to run in the
	// pod's network namespace.
	PodIP string
	// Ports are the container's ports, to resolve ports given by name.
	Ports []manifest.ContainerPort
	// Dial connects for httpGet and tcpSocket (nil: the host's network).
	Dial DialFunc
	// Exec runs exec probes and hooks (nil: exec is an error). The cheap
	// one is (*runtime.LightExec).Run (about 2 ms of CPU per probe, no
	// podrun process), prepared once per container instance with
	// Runtime.PrepareExecLight.
	Exec ExecFunc
}

// ErrUnsupported is returned for a handler podrun does not implement.
var ErrUnsupported = errors.New("probe handler not supported")

// maxOutput bounds what a probe keeps of a body or command output, as
// kubelet does (10 KiB).
const maxOutput = 10 << 10

// UserAgent is sent by httpGet probes unless the probe sets one; servers
// match the "kube-probe/" prefix.
const UserAgent = "kube-probe/podrun"

// NewHandler returns the handler of a probe (or a lifecycle hook, through
// ForLifecycle).
func NewHandler(h *manifest.ProbeHandler, t Target) (Handler, error) {
	switch {
	case h.Exec != nil:
		return &execHandler{argv: h.Exec.Command, exec: t.Exec}, nil
	case h.HTTPGet != nil:
		port, err := resolvePort(h.HTTPGet.Port, t.Ports)
		if err != nil {
			return nil, err
		}
		return newHTTPHandler(h.HTTPGet, port, t), nil
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, t.Ports)
		if err != nil {
			return nil, err
		}
		return &tcpHandler{addr: net.JoinHostPort(host(h.TCPSocket.Host, t), strconv.Itoa(port)), dial: dialer(t)}, nil
	case h.GRPC != nil:
		if h.GRPC.Port < 1 || h.GRPC.Port > 65535 {
			return nil, fmt.Errorf("grpc port %d out of range", h.GRPC.Port)
		}
		return newGRPCHandler(h.GRPC, t), nil
	}
	return nil, errors.New("probe has no handler")
}

// ForLifecycle returns the handler of a postStart/preStop hook with exec or
// httpGet (sleep is the caller's: it needs no handler).
func ForLifecycle(h *manifest.LifecycleHandler, t Target) (Handler, error) {
	if h.Sleep != nil {
		return nil, errors.New("sleep hook: wait, don't probe")
	}
	return NewHandler(&manifest.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, t)
}

func resolvePort(p manifest.IntOrString, ports []manifest.ContainerPort) (int, error) {
	if !p.IsString {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("port %d out of range", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil // kubelet accepts a number written as a string
	}
	return 0, fmt.Errorf("port %q: no container port has that name", p.StrVal)
}

func host(h string, t Target) string {
	if h != "" {
		return h
	}
	if t.PodIP != "" {
		return t.PodIP
	}
	return "127.0.0.1"
}

func dialer(t Target) DialFunc {
	if t.Dial != nil {
		return t.Dial
	}
	return (&net.Dialer{}).DialContext
}

// ---- exec ----

type execHandler struct {
	argv []string
	exec ExecFunc
}

func (h *execHandler) Probe(ctx context.Context) (Result, string, error) {
	if h.exec == nil {
		return Failure, "", errors.New("exec probe: no way to run commands in the container")
	}
	code, out, err := h.exec(ctx, h.argv)
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if ctx.Err() != nil {
		// kubelet: a timed-out exec probe is a failure, not an error.
		return Failure, fmt.Sprintf("command %q timed out", strings.Join(h.argv, " ")), nil
	}
	if err != nil {
		return Failure, string(out), err
	}
	if code != 0 {
		return Failure, string(out), nil
	}
	return Success, string(out), nil
}

// ---- tcpSocket ----

type tcpHandler struct {
	addr string
	dial DialFunc
}

func (h *tcpHandler) Probe(ctx context.Context) (Result, string, error) {
	c, err := h.dial(ctx, "tcp", h.addr)
	if err != nil {
		// A refused or timed-out connection is a failed probe, not an error.
		return Failure, fmt.Sprintf("dial tcp %s: %v", h.addr, unwrapOp(err)), nil
	}
	c.Close()
	return Success, "", nil
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// ---- httpGet ----

type httpHandler struct {
	url     string
	headers http.Header
	client  *http.Client
}

// maxRedirects follows kubelet (and net/http's default).
const maxRedirects = 10

// errOffHost stops a redirect to another host: kubelet reports it as a
// success with a warning instead of following it.
var errOffHost = errors.New("redirect to a different host")

func newHTTPHandler(g *manifest.HTTPGetAction, port int, t Target) *httpHandler {
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if path == "" {
		path = "/"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host(g.Host, t), strconv.Itoa(port))}
	// The path may carry a query, as in kubelet's formatURL.
	if p, q, ok := strings.Cut(path, "?"); ok {
		u.Path, u.RawQuery = p, q
	} else {
		u.Path = path
	}
	hdr := http.Header{}
	for _, h := range g.HTTPHeaders {
		hdr.Add(h.Name, h.Value)
	}
	if hdr.Get("User-Agent") == "" {
		hdr.Set("User-Agent", UserAgent)
	}
	if hdr.Get("Accept") == "" {
		hdr.Set("Accept", "*/*")
	}
	tr := &http.Transport{
		// kubelet does not verify probe certificates: the pod's cert is
		// for its service name, not for the address probed.
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
		DialContext:        dialer(t),
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return errOffHost
			}
			if len(via) >= maxRedirects {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
	return &httpHandler{url: u.String(), headers: hdr, client: client}
}

func (h *httpHandler) Probe(ctx context.Context) (Result, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return Failure, "", err
	}
	req.Header = h.headers.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // Go takes Host from req.Host, not the header map
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(err, errOffHost) && resp != nil {
			resp.Body.Close()
			return Success, "Probe terminated redirects", nil
		}
		return Failure, fmt.Sprintf("Get %q: %v", h.url, unwrapURL(err)), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Success, string(body), nil
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode), nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return unwrapOp(ue.Err)
	}
	return err
}
