package probes

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/pod/manifest"
)

// healthServer answers grpc.health.v1.Health/Check over cleartext HTTP/2 the
// way grpc-go does: a framed response, grpc-status in the trailers (or a
// trailers-only response for errors). Services: "" and "ok" SERVING,
// "down" NOT_SERVING, "unimpl" code 12.
func healthServer(t *testing.T) int {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Method != http.MethodPost || r.URL.Path != "/grpc.health.v1.Health/Check" ||
			r.Header.Get("Content-Type") != "application/grpc" || r.Header.Get("TE") != "trailers" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var service string
		if m := body[5:]; len(m) > 2 && m[0] == 0x0a {
			service = string(m[2 : 2+int(m[1])])
		}
		w.Header().Set("Content-Type", "application/grpc")
		if service == "unimpl" {
			w.Header().Set("Grpc-Status", "12")
			w.Header().Set("Grpc-Message", "unknown service")
			return
		}
		status := byte(1)
		if service == "down" {
			status = 2
		}
		w.Header().Set("Trailer", "Grpc-Status")
		// an unknown length-delimited field first, as newer servers may send
		w.Write(appendFrame(nil, []byte{0x12, 0x01, 'x', 0x08, status}))
		w.Header().Set("Grpc-Status", "0")
	})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestGRPC(t *testing.T) {
	port := healthServer(t)
	check := func(service *string) (Result, string) {
		h, err := NewHandler(&manifest.ProbeHandler{GRPC: &manifest.GRPCAction{Port: int32(port), Service: service}}, Target{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, out, err := h.Probe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r, out
	}
	str := func(s string) *string { return &s }
	if r, out := check(nil); r != Success {
		t.Errorf("overall health: %v %q", r, out)
	}
	if r, out := check(str("ok")); r != Success {
		t.Errorf("service ok: %v %q", r, out)
	}
	if r, out := check(str("down")); r != Failure || !strings.Contains(out, "NOT_SERVING") {
		t.Errorf("service down: %v %q", r, out)
	}
	if r, out := check(str("unimpl")); r != Failure || !strings.Contains(out, "code = 12") {
		t.Errorf("unimplemented: %v %q", r, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h, _ := NewHandler(&manifest.ProbeHandler{GRPC: &manifest.GRPCAction{Port: int32(dead)}}, Target{})
	if r, out, _ := h.Probe(context.Background()); r != Failure || !strings.Contains(out, "refused") {
		t.Errorf("closed port: %v %q", r, out)
	}
}

func TestHealthStatusDecoding(t *testing.T) {
	for _, c := range []struct {
		msg  []byte
		want uint64
		ok   bool
	}{
		{[]byte{}, 0, true},
		{[]byte{0x08, 0x01}, 1, true},
		{[]byte{0x08, 0x02}, 2, true},
		{[]byte{0x15, 1, 2, 3, 4, 0x08, 0x01}, 1, true},
		{[]byte{0x08}, 0, false},
		{[]byte{0x12, 0x05, 'a'}, 0, false},
		{[]byte{0x0b}, 0, false},
	} {
		got, err := healthStatus(c.msg)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("healthStatus(%x) = %d, %v", c.msg, got, err)
		}
	}
}

// Against a real gRPC server: containerd (grpc-go) serves
// grpc.health.v1.Health on its socket; the dialer reaches it instead of a
// TCP port.
func TestGRPCAgainstContainerd(t *testing.T) {
	ctd := testimage.StartContainerd(t)
	unixDial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", ctd.Address)
	}
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		service *string
		want    Result
	}{{nil, Success}, {str("no.such.Service"), Failure}} {
		h, err := NewHandler(&manifest.ProbeHandler{GRPC: &manifest.GRPCAction{Port: 1, Service: c.service}}, Target{Dial: unixDial})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, out, err := h.Probe(ctx)
		cancel()
		name := "(overall)"
		if c.service != nil {
			name = *c.service
		}
		if err != nil || r != c.want {
			t.Errorf("service %s: %v %q %v, want %v", name, r, out, err, c.want)
		}
		t.Logf("service %s: %v %q", name, r, out)
	}
}
