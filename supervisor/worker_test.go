package supervisor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// script is a handler answering from a list (then repeating the last).
func script(results ...bool) (Handler, *int) {
	var mu sync.Mutex
	n := 0
	return func(ctx context.Context) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		i := min(n, len(results)-1)
		n++
		if results[i] {
			return true, ""
		}
		return false, "boom"
	}, &n
}

func collect(t *testing.T, kind ProbeKind, p *manifest.Probe, h Handler, initial *bool, until func([]probeResult) bool) []probeResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan probeResult, 100)
	done := make(chan struct{})
	go func() {
		runProbeWorker(ctx, time.Millisecond, kind, p, h, initial, func(r probeResult) { ch <- r })
		close(done)
	}()
	var got []probeResult
	for {
		select {
		case r := <-ch:
			got = append(got, r)
			if until(got) {
				return got
			}
		case <-done:
			for {
				select {
				case r := <-ch:
					got = append(got, r)
				default:
					return got
				}
			}
		}
	}
}

func flips(rs []probeResult) []bool {
	var out []bool
	for _, r := range rs {
		if r.flipped {
			out = append(out, r.ok)
		}
	}
	return out
}

func TestLivenessFlipsAfterThresholdAndStops(t *testing.T) {
	h, n := script(true, false, false, true, false, false, false)
	p := &manifest.Probe{PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1}
	got := collect(t, Liveness, p, h, nil, func([]probeResult) bool { return false })
	// Failures 2 and 3 do not flip (a success breaks the run); the third
	// in a row does, and the worker ends there.
	if f := flips(got); len(f) != 1 || f[0] {
		t.Fatalf("flips = %v (results %+v)", f, got)
	}
	if *n != 7 {
		t.Errorf("attempts = %d, want 7", *n)
	}
	if len(got) != 5 { // every failure is reported
		t.Errorf("reports = %d, want 5", len(got))
	}
}

func TestReadinessFlipsBothWays(t *testing.T) {
	h, _ := script(false, true, true, false, false, true)
	p := &manifest.Probe{PeriodSeconds: 1, FailureThreshold: 2, SuccessThreshold: 2}
	got := collect(t, Readiness, p, h, nil, func(rs []probeResult) bool { return len(flips(rs)) == 3 })
	if f := flips(got); len(f) != 3 || !f[0] || f[1] || !f[2] {
		t.Fatalf("flips = %v", f)
	}
	// A recovered readiness starts from the recorded value: a success does
	// not flip, failures do.
	tr := true
	h, _ = script(true, false)
	p = &manifest.Probe{PeriodSeconds: 1, FailureThreshold: 1}
	got = collect(t, Readiness, p, h, &tr, func(rs []probeResult) bool { return len(flips(rs)) == 1 })
	if f := flips(got); len(f) != 1 || f[0] {
		t.Fatalf("recovered flips = %v", f)
	}
}

func TestStartupEndsAtSuccessAndTimeoutFails(t *testing.T) {
	h, n := script(false, false, true)
	p := &manifest.Probe{PeriodSeconds: 1, FailureThreshold: 5}
	got := collect(t, Startup, p, h, nil, func([]probeResult) bool { return false })
	if f := flips(got); len(f) != 1 || !f[0] || *n != 3 {
		t.Fatalf("flips = %v after %d attempts", f, *n)
	}
	slow := func(ctx context.Context) (bool, string) { <-ctx.Done(); return false, "" }
	p = &manifest.Probe{PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 1}
	got = collect(t, Liveness, p, slow, nil, func([]probeResult) bool { return false })
	if len(got) != 1 || got[0].ok || got[0].msg == "" {
		t.Fatalf("timeout results = %+v", got)
	}
}

// The holder keeps a pipe's read end: with the supervisor's own copy
// closed, a writer does not get EPIPE, and the pipe comes back intact.
func TestHolderKeepsPipesOpen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fds.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan bool, 2)
	fds := map[string]int{}
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			served <- serveHolder(c, fds)
		}
	}()
	h, err := dialHolder(sock)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := h.put("c/0/stdout", r); err != nil {
		t.Fatal(err)
	}
	h.close() // the supervisor dies
	r.Close()
	<-served
	if _, err := w.Write([]byte("still here\n")); err != nil {
		t.Fatalf("write with only the holder's read end: %v", err)
	}
	h2, err := dialHolder(sock)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h2.getAll()
	if err != nil || got["c/0/stdout"] == nil {
		t.Fatalf("getAll = %v, %v", got, err)
	}
	buf := make([]byte, 64)
	n, _ := got["c/0/stdout"].Read(buf)
	if string(buf[:n]) != "still here\n" {
		t.Errorf("read back %q", buf[:n])
	}
	got["c/0/stdout"].Close()
	h2.drop("c/0/stdout")
	h2.quit()
	if !<-served {
		t.Error("quit did not end the holder")
	}
	if len(fds) != 0 {
		t.Errorf("holder still holds %v", fds)
	}
}
