package supervisor

import (
	"context"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// ProbeKind is liveness, readiness or startup.
type ProbeKind string

const (
	Liveness  ProbeKind = "Liveness"
	Readiness ProbeKind = "Readiness"
	Startup   ProbeKind = "Startup"
)

// Handler runs one probe (or hook) attempt; ctx carries its timeout. It
// returns success and, on failure, why (kubelet's probe output).
type Handler func(ctx context.Context) (ok bool, msg string)

// probeResult is what a worker reports to the supervisor's loop: every
// failed attempt (for the Unhealthy event) and every flip of the result.
type probeResult struct {
	kind    ProbeKind
	ok      bool
	msg     string
	flipped bool
}

// runProbeWorker is kubelet's prober worker for one probe of one container
// run: nothing before initialDelaySeconds, then one attempt per
// periodSeconds with timeoutSeconds; the result flips after
// successThreshold/failureThreshold equal results in a row, from the start
// values kubelet uses (readiness failure, liveness success, startup
// unknown). A liveness or startup worker ends at its failure flip (the
// container is killed; its next run gets new workers), a startup worker at
// its success flip. One timer, no polling in between.
//
// unit is the length of the manifest's "second" (time.Second; tests
// shorten it).
func runProbeWorker(ctx context.Context, unit time.Duration, kind ProbeKind, p *manifest.Probe, h Handler, initial *bool, report func(probeResult)) {
	period := secs(p.PeriodSeconds, manifest.DefaultProbePeriodSeconds, unit)
	timeout := secs(p.TimeoutSeconds, manifest.DefaultProbeTimeoutSeconds, unit)
	succT, failT := int(max(p.SuccessThreshold, 1)), int(max(p.FailureThreshold, 1))
	if p.FailureThreshold == 0 {
		failT = manifest.DefaultProbeFailureThreshold
	}
	var current *bool // unknown
	switch kind {
	case Readiness:
		current = new(bool)
	case Liveness:
		t := true
		current = &t
	}
	if initial != nil {
		v := *initial
		current = &v
	}
	t := time.NewTimer(time.Duration(p.InitialDelaySeconds) * unit)
	defer t.Stop()
	last, run := false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		ok, msg := h(actx)
		if !ok && actx.Err() == context.DeadlineExceeded && msg == "" {
			msg = "timeout: probe did not answer within " + timeout.String()
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if run > 0 && ok == last {
			run++
		} else {
			last, run = ok, 1
		}
		need := failT
		if ok {
			need = succT
		}
		flip := run >= need && (current == nil || *current != ok)
		if flip {
			v := ok
			current = &v
		}
		if !ok || flip {
			report(probeResult{kind: kind, ok: ok, msg: msg, flipped: flip})
		}
		if flip && ((kind != Readiness && !ok) || (kind == Startup && ok)) {
			return
		}
		t.Reset(period)
	}
}

func secs(v, def int32, unit time.Duration) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * unit
}
