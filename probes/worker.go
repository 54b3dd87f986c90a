package probes

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// Kind of probe.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	}
	return "Startup"
}

// Initial is the state a probe reports before its first flip, as kubelet:
// readiness fails, liveness succeeds, startup is unknown.
func Initial(k Kind) Result {
	switch k {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

// Clock is the time source of workers; tests inject their own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Update is one probe attempt of one container instance.
type Update struct {
	Container string
	Kind      Kind
	// Attempt is this attempt's result; State is the probe's result after
	// the thresholds (what kubelet acts on); Changed is true when State
	// flipped with this attempt.
	Attempt, State Result
	Changed        bool
	Output         string
	Err            error
	Time           time.Time
}

// Config of a container's probe set.
type Config struct {
	// Container is the (defaulted) container spec: its probes and ports.
	Container *manifest.Container
	Target    Target
	// Clock defaults to RealClock.
	Clock Clock
	// Second is the length of one manifest "second" (default time.Second);
	// tests shorten it to run kubelet timings in milliseconds.
	Second time.Duration
	// Report receives every attempt, in order per probe, from the probe's
	// goroutine; it must not block for long.
	Report func(Update)
}

// Set runs the probes of one container instance. A restarted container
// gets a new Set: kubelet likewise resets results for a new container ID.
type Set struct {
	cfg     Config
	workers []*worker
	started atomic.Bool // startup probe succeeded (or there is none)
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New prepares the probes of cfg.Container; it fails if a handler cannot be
// built (an unknown port name, grpc). Nothing runs before Start.
func New(cfg Config) (*Set, error) {
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	if cfg.Second <= 0 {
		cfg.Second = time.Second
	}
	s := &Set{cfg: cfg}
	c := cfg.Container
	for _, p := range []struct {
		k Kind
		p *manifest.Probe
	}{{Startup, c.StartupProbe}, {Liveness, c.LivenessProbe}, {Readiness, c.ReadinessProbe}} {
		if p.p == nil {
			continue
		}
		h, err := NewHandler(&p.p.ProbeHandler, cfg.Target)
		if err != nil {
			return nil, err
		}
		s.workers = append(s.workers, &worker{set: s, kind: p.k, probe: withDefaults(*p.p), handler: h})
	}
	s.started.Store(c.StartupProbe == nil)
	return s, nil
}

// Started reports whether the container counts as started: its startup
// probe succeeded, or it has none (ContainerStatus.started).
func (s *Set) Started() bool { return s.started.Load() }

// Start begins probing a container instance that started at startedAt.
func (s *Set) Start(ctx context.Context, startedAt time.Time) {
	ctx, s.cancel = context.WithCancel(ctx)
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(ctx, startedAt)
		}()
	}
}

// Stop ends every probe and waits for the workers to return.
func (s *Set) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

func withDefaults(p manifest.Probe) manifest.Probe {
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = manifest.DefaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = manifest.DefaultProbePeriodSeconds
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = manifest.DefaultProbeSuccessThreshold
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = manifest.DefaultProbeFailureThreshold
	}
	return p
}

// worker is one probe of one container instance (kubelet's prober worker).
type worker struct {
	set     *Set
	kind    Kind
	probe   manifest.Probe
	handler Handler

	state      Result // reported (thresholded) result
	lastResult Result // last attempt
	resultRun  int    // attempts in a row with lastResult
}

func (w *worker) run(ctx context.Context, startedAt time.Time) {
	cfg := w.set.cfg
	sec := cfg.Second
	period := time.Duration(w.probe.PeriodSeconds) * sec
	w.state = Initial(w.kind)
	next := startedAt.Add(time.Duration(w.probe.InitialDelaySeconds) * sec)
	for {
		if d := next.Sub(cfg.Clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-cfg.Clock.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		next = next.Add(period)
		if now := cfg.Clock.Now(); next.Before(now) {
			next = now.Add(period) // a slow attempt or a stalled clock: no burst
		}
		if !w.doProbe(ctx) {
			return
		}
	}
}

// doProbe makes one attempt; false ends the worker (kubelet's onHold: a
// failed liveness or startup probe waits for a new container instance,
// which gets a new Set; a succeeded startup probe is done).
func (w *worker) doProbe(ctx context.Context) bool {
	s := w.set
	if w.kind == Startup && s.started.Load() {
		return false
	}
	if w.kind != Startup && !s.started.Load() {
		return true // startup gates liveness and readiness
	}
	actx, cancel := timeoutCtx(ctx, time.Duration(w.probe.TimeoutSeconds)*s.cfg.Second)
	r, out, err := w.handler.Probe(actx)
	cancel()
	if ctx.Err() != nil {
		return false // stopped mid-attempt: don't report a spurious failure
	}
	if err != nil || r == Unknown {
		r = Failure
	}
	if r == w.lastResult {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = r, 1
	}
	u := Update{Container: s.cfg.Container.Name, Kind: w.kind, Attempt: r, State: w.state,
		Output: out, Err: err, Time: s.cfg.Clock.Now()}
	if (r == Failure && w.resultRun >= int(w.probe.FailureThreshold)) ||
		(r == Success && w.resultRun >= int(w.probe.SuccessThreshold)) {
		u.Changed = w.state != r
		w.state, u.State = r, r
	}
	// Startup success opens the gate before anyone hears of it, so the
	// other probes run on their next tick.
	if w.kind == Startup && u.State == Success {
		s.started.Store(true)
	}
	if s.cfg.Report != nil {
		s.cfg.Report(u)
	}
	if u.State == Failure && (w.kind == Liveness || w.kind == Startup) {
		return false
	}
	return !(w.kind == Startup && u.State == Success)
}
