package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

func hostPort(t *testing.T, rawURL string) (string, int) {
	t.Helper()
	u := strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://")
	h, p, err := net.SplitHostPort(u)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func probe(t *testing.T, h *manifest.ProbeHandler, tg Target) (Result, string) {
	t.Helper()
	hd, err := NewHandler(h, tg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, out, err := hd.Probe(ctx)
	if err != nil {
		t.Fatalf("probe error: %v", err)
	}
	return r, out
}

func TestHTTPGet(t *testing.T) {
	var gotUA, gotHdr, gotHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotHdr, gotHost = r.UserAgent(), r.Header.Get("X-Probe"), r.Host
		fmt.Fprint(w, strings.Repeat("x", 20000))
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("a") != "1" {
			w.WriteHeader(400)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	ip, port := hostPort(t, srv.URL)
	tg := Target{PodIP: ip, Ports: []manifest.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	get := func(path string, p manifest.IntOrString) *manifest.ProbeHandler {
		return &manifest.ProbeHandler{HTTPGet: &manifest.HTTPGetAction{Path: path, Port: p,
			HTTPHeaders: []manifest.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "pod.example"}}}}
	}

	r, out := probe(t, get("/ok", manifest.FromString("web")), tg)
	if r != Success || len(out) != maxOutput {
		t.Errorf("/ok by port name: %v, %d bytes of output (want %d)", r, len(out), maxOutput)
	}
	if !strings.HasPrefix(gotUA, "kube-probe/") || gotHdr != "yes" || gotHost != "pod.example" {
		t.Errorf("request: UA %q, X-Probe %q, Host %q", gotUA, gotHdr, gotHost)
	}
	if r, out := probe(t, get("/fail", manifest.FromInt(int32(port))), tg); r != Failure || !strings.Contains(out, "503") {
		t.Errorf("/fail: %v %q", r, out)
	}
	if r, _ := probe(t, get("/redirect", manifest.FromInt(int32(port))), tg); r != Success {
		t.Errorf("same-host redirect: %v", r)
	}
	if r, out := probe(t, get("/away", manifest.FromInt(int32(port))), tg); r != Success || !strings.Contains(out, "redirect") {
		t.Errorf("off-host redirect (kubelet: success with warning): %v %q", r, out)
	}
	if r, _ := probe(t, get("/loop", manifest.FromInt(int32(port))), tg); r != Failure {
		t.Errorf("redirect loop: %v", r)
	}
	if r, _ := probe(t, get("/query?a=1", manifest.FromInt(int32(port))), tg); r != Success {
		t.Errorf("path with query: %v", r)
	}
	// HTTPS with a certificate nobody trusts: kubelet skips verification.
	_, tport := hostPort(t, tls.URL)
	h := get("/ok", manifest.FromInt(int32(tport)))
	h.HTTPGet.Scheme = manifest.URISchemeHTTPS
	if r, _ := probe(t, h, tg); r != Success {
		t.Errorf("https: %v", r)
	}
	// Nothing listening: a failure, not an error.
	srv2 := httptest.NewServer(mux)
	_, dead := hostPort(t, srv2.URL)
	srv2.Close()
	if r, out := probe(t, get("/ok", manifest.FromInt(int32(dead))), tg); r != Failure || !strings.Contains(out, "refused") {
		t.Errorf("closed port: %v %q", r, out)
	}
	if _, err := NewHandler(get("/", manifest.FromString("nope")), tg); err == nil {
		t.Error("unknown port name accepted")
	}
}

func TestHTTPGetTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ip, port := hostPort(t, srv.URL)
	h, _ := NewHandler(&manifest.ProbeHandler{HTTPGet: &manifest.HTTPGetAction{Port: manifest.FromInt(int32(port))}}, Target{PodIP: ip})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r, _, _ := h.Probe(ctx); r != Failure {
		t.Errorf("hanging server: %v", r)
	}
}

func TestTCPSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	tcp := &manifest.ProbeHandler{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(int32(port))}}
	// No PodIP: 127.0.0.1 (a loopback-only pod, probed from its netns).
	if r, _ := probe(t, tcp, Target{}); r != Success {
		t.Errorf("listening: %v", r)
	}
	l.Close()
	if r, out := probe(t, tcp, Target{}); r != Failure || out == "" {
		t.Errorf("closed: %v %q", r, out)
	}
}

func TestExec(t *testing.T) {
	var got []string
	fake := func(ctx context.Context, argv []string) (int, []byte, error) {
		got = argv
		switch argv[0] {
		case "ok":
			return 0, []byte("fine"), nil
		case "fail":
			return 3, []byte("bad"), nil
		case "hang":
			<-ctx.Done()
			return -1, nil, ctx.Err()
		}
		return -1, nil, fmt.Errorf("exec %s: not found", argv[0])
	}
	tg := Target{Exec: fake}
	ex := func(a ...string) *manifest.ProbeHandler {
		return &manifest.ProbeHandler{Exec: &manifest.ExecAction{Command: a}}
	}
	if r, out := probe(t, ex("ok", "arg"), tg); r != Success || out != "fine" || len(got) != 2 {
		t.Errorf("ok: %v %q %q", r, out, got)
	}
	if r, out := probe(t, ex("fail"), tg); r != Failure || out != "bad" {
		t.Errorf("fail: %v %q", r, out)
	}
	h, _ := NewHandler(ex("hang"), tg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r, out, err := h.Probe(ctx); r != Failure || err != nil || !strings.Contains(out, "timed out") {
		t.Errorf("timeout: %v %q %v", r, out, err)
	}
	h, _ = NewHandler(ex("missing"), tg)
	if r, _, err := h.Probe(context.Background()); r != Failure || err == nil {
		t.Errorf("cannot run: %v %v", r, err)
	}
	if _, err := NewHandler(&manifest.ProbeHandler{GRPC: &manifest.GRPCAction{Port: 0}}, tg); err == nil {
		t.Error("grpc port 0 accepted")
	}
}
