package probes

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// script answers exec probes from a per-command list of exit codes; the
// last one repeats.
type script struct {
	mu    sync.Mutex
	codes map[string][]int
	calls map[string]int
}

func (s *script) exec(ctx context.Context, argv []string) (int, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[argv[0]]
	s.calls[argv[0]]++
	l := s.codes[argv[0]]
	if n >= len(l) {
		n = len(l) - 1
	}
	return l[n], nil, nil
}

type recorder struct {
	mu   sync.Mutex
	ups  []Update
	done chan struct{}
	stop func([]Update) bool
}

func (r *recorder) report(u Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ups = append(r.ups, u)
	if r.stop != nil && r.stop(r.ups) {
		r.stop = nil
		close(r.done)
	}
}

func (r *recorder) wait(t *testing.T) []Update {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the expected updates never came")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Update(nil), r.ups...)
}

func execProbe(cmd string, p manifest.Probe) *manifest.Probe {
	p.Exec = &manifest.ExecAction{Command: []string{cmd}}
	return &p
}

func run(t *testing.T, c *manifest.Container, codes map[string][]int, stop func([]Update) bool) ([]Update, *Set) {
	t.Helper()
	sc := &script{codes: codes, calls: map[string]int{}}
	rec := &recorder{done: make(chan struct{}), stop: stop}
	s, err := New(Config{Container: c, Target: Target{Exec: sc.exec}, Second: time.Millisecond, Report: rec.report})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background(), time.Now())
	ups := rec.wait(t)
	s.Stop()
	return ups, s
}

func kinds(ups []Update, k Kind) []Update {
	var out []Update
	for _, u := range ups {
		if u.Kind == k {
			out = append(out, u)
		}
	}
	return out
}

func TestInitialValues(t *testing.T) {
	if Initial(Readiness) != Failure || Initial(Liveness) != Success || Initial(Startup) != Unknown {
		t.Error("initial values differ from kubelet's")
	}
}

// Readiness flips only after successThreshold successes in a row and back
// after failureThreshold failures in a row.
func TestReadinessThresholds(t *testing.T) {
	c := &manifest.Container{Name: "c", ReadinessProbe: execProbe("r", manifest.Probe{PeriodSeconds: 1, SuccessThreshold: 2, FailureThreshold: 3})}
	// attempts: S F S S F F S F F F
	codes := map[string][]int{"r": {0, 1, 0, 0, 1, 1, 0, 1, 1, 1}}
	ups, _ := run(t, c, codes, func(u []Update) bool { return len(u) >= 10 })
	var states []Result
	var changed []int
	for i, u := range ups[:10] {
		states = append(states, u.State)
		if u.Changed {
			changed = append(changed, i)
		}
	}
	want := []Result{Failure, Failure, Failure, Success, Success, Success, Success, Success, Success, Failure}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("states %v\nwant   %v", states, want)
		}
	}
	if len(changed) != 2 || changed[0] != 3 || changed[1] != 9 {
		t.Errorf("Changed at attempts %v, want [3 9]", changed)
	}
}

// A liveness probe flips to Failure after failureThreshold failures and
// then stops (kubelet's onHold) until the container is replaced.
func TestLivenessFailureHolds(t *testing.T) {
	c := &manifest.Container{Name: "c", LivenessProbe: execProbe("l", manifest.Probe{PeriodSeconds: 1, FailureThreshold: 2})}
	ups, _ := run(t, c, map[string][]int{"l": {0, 1, 0, 1, 1, 0}}, func(u []Update) bool { return u[len(u)-1].State == Failure })
	if len(ups) != 5 || !ups[4].Changed {
		t.Fatalf("want the flip at attempt 5, got %d updates: %+v", len(ups), ups)
	}
	for _, u := range ups[:4] {
		if u.State != Success {
			t.Errorf("liveness state before the threshold: %v", u.State)
		}
	}
}

// Startup gates liveness and readiness; once it succeeds it stops and the
// others begin.
func TestStartupGates(t *testing.T) {
	c := &manifest.Container{Name: "c",
		StartupProbe:   execProbe("s", manifest.Probe{PeriodSeconds: 1, FailureThreshold: 30}),
		LivenessProbe:  execProbe("l", manifest.Probe{PeriodSeconds: 1}),
		ReadinessProbe: execProbe("r", manifest.Probe{PeriodSeconds: 1}),
	}
	ups, s := run(t, c, map[string][]int{"s": {1, 1, 1, 0}, "l": {0}, "r": {0}}, func(u []Update) bool {
		return len(kinds(u, Liveness)) >= 2 && len(kinds(u, Readiness)) >= 2
	})
	st := kinds(ups, Startup)
	if len(st) != 4 || st[3].State != Success || !st[3].Changed {
		t.Fatalf("startup attempts: %+v", st)
	}
	if !s.Started() {
		t.Error("Started() false after the startup probe succeeded")
	}
	for i, u := range ups {
		if u.Kind != Startup && i < 3 {
			t.Errorf("%v probe ran before startup succeeded (update %d)", u.Kind, i)
		}
	}
	if r := kinds(ups, Readiness); r[0].State != Success || !r[0].Changed {
		t.Errorf("readiness after startup: %+v", r[0])
	}
	if s2, _ := New(Config{Container: &manifest.Container{Name: "x"}}); !s2.Started() {
		t.Error("a container without startup probe is not Started")
	}
}

func TestStartupFailureHolds(t *testing.T) {
	c := &manifest.Container{Name: "c", StartupProbe: execProbe("s", manifest.Probe{PeriodSeconds: 1, FailureThreshold: 3}),
		ReadinessProbe: execProbe("r", manifest.Probe{PeriodSeconds: 1})}
	ups, s := run(t, c, map[string][]int{"s": {1}, "r": {0}}, func(u []Update) bool { return u[len(u)-1].State == Failure })
	if len(ups) != 3 || len(kinds(ups, Readiness)) != 0 || s.Started() {
		t.Errorf("startup failure: %+v started=%v", ups, s.Started())
	}
}

// Nothing runs before initialDelaySeconds, on an injected clock.
func TestInitialDelay(t *testing.T) {
	c := &manifest.Container{Name: "c", ReadinessProbe: execProbe("r", manifest.Probe{InitialDelaySeconds: 50, PeriodSeconds: 1})}
	start := time.Now()
	ups, _ := run(t, c, map[string][]int{"r": {0}}, func(u []Update) bool { return len(u) >= 1 })
	if ups[0].Time.Sub(start) < 50*time.Millisecond {
		t.Errorf("first attempt %v after start, before the initial delay", ups[0].Time.Sub(start))
	}
}

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	added   chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	f.waiters = append(f.waiters, waiter{f.now.Add(d), ch})
	f.added <- struct{}{}
	return ch
}
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	var keep []waiter
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			keep = append(keep, w)
		}
	}
	f.waiters = keep
}

// With the kubelet defaults (period 10 s), on an injected clock: one attempt
// per period, the first after the initial delay.
func TestDefaultsOnFakeClock(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0), added: make(chan struct{}, 100)}
	c := &manifest.Container{Name: "c", LivenessProbe: execProbe("l", manifest.Probe{InitialDelaySeconds: 5})}
	sc := &script{codes: map[string][]int{"l": {0}}, calls: map[string]int{}}
	got := make(chan Update, 10)
	s, err := New(Config{Container: c, Target: Target{Exec: sc.exec}, Clock: clk, Report: func(u Update) { got <- u }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background(), clk.Now())
	defer s.Stop()
	<-clk.added // waiting for the initial delay
	clk.advance(4 * time.Second)
	select {
	case u := <-got:
		t.Fatalf("attempt before the initial delay: %+v", u)
	default:
	}
	clk.advance(time.Second)
	if u := <-got; !u.Time.Equal(time.Unix(1005, 0)) {
		t.Errorf("first attempt at %v, want 1005", u.Time.Unix())
	}
	<-clk.added
	clk.advance(10 * time.Second)
	if u := <-got; !u.Time.Equal(time.Unix(1015, 0)) {
		t.Errorf("second attempt at %v, want 1015 (period 10 s)", u.Time.Unix())
	}
}
