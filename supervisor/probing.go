// probing.go: the probes and lifecycle hooks of a run: postStart, the
// startup/liveness/readiness workers and what their results do.

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// startProbesAndHooks starts postStart (fresh runs only) and the probe
// workers of a run; startup gates liveness and readiness.
func (d *daemon) startProbesAndHooks(c *ctr, r *run, fresh bool) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t := Target{Sandbox: d.sb, Container: c.spec, ID: r.id}
	if fresh && c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil {
		go func() {
			err := d.runHook(ctx, t, c.spec.Lifecycle.PostStart, d.grace())
			if err == nil {
				d.post(func() {
					if c.run == r && r.postStartPending {
						r.postStartPending = false
						d.advance()
						d.save()
					}
				})
			}
			if err != nil && ctx.Err() == nil {
				d.post(func() {
					if c.run != r {
						return
					}
					d.event(Warning, "FailedPostStartHook", c.object(), err.Error())
					d.kill(c, r, "FailedPostStartHook", "Container "+c.name+" failed post-start hook, will be killed", d.grace())
				})
			}
		}()
	}
	if c.role == RoleInit || d.Handlers == nil {
		return
	}
	startOthers := func() {
		d.startProbe(ctx, c, r, t, Liveness, c.spec.LivenessProbe)
		d.startProbe(ctx, c, r, t, Readiness, c.spec.ReadinessProbe)
	}
	if c.spec.StartupProbe != nil && !(c.st.Started != nil && *c.st.Started) {
		d.startProbe(ctx, c, r, t, Startup, c.spec.StartupProbe)
		return
	}
	startOthers()
}

func (d *daemon) startProbe(ctx context.Context, c *ctr, r *run, t Target, kind ProbeKind, p *manifest.Probe) {
	if p == nil {
		return
	}
	h, err := d.Handlers.Handler(t, &p.ProbeHandler)
	if err != nil {
		d.event(Warning, "Unhealthy", c.object(), fmt.Sprintf("%s probe errored: %v", kind, err))
		return
	}
	var initial *bool
	if kind == Readiness {
		// A recovered supervisor keeps the recorded readiness until a
		// probe says otherwise (kubelet keeps it across its restarts).
		v := c.st.Ready
		initial = &v
	}
	unit := d.probeUnit
	if unit == 0 {
		unit = time.Second
	}
	go runProbeWorker(ctx, unit, kind, p, h, initial, func(res probeResult) {
		d.post(func() { d.onProbe(ctx, c, r, t, res) })
	})
}

func (d *daemon) onProbe(ctx context.Context, c *ctr, r *run, t Target, res probeResult) {
	if c.run != r || r.killing || d.ending() {
		return
	}
	if !res.ok {
		d.event(Warning, "Unhealthy", c.object(), fmt.Sprintf("%s probe failed: %s", res.kind, res.msg))
	}
	if !res.flipped {
		return
	}
	switch res.kind {
	case Startup:
		if res.ok {
			d.step(c.st.StartupDone(c.spec.ReadinessProbe == nil))
			d.startProbe(ctx, c, r, t, Liveness, c.spec.LivenessProbe)
			d.startProbe(ctx, c, r, t, Readiness, c.spec.ReadinessProbe)
			d.advance() // a started sidecar lets the next init container start
			d.save()
			return
		}
		d.kill(c, r, "Killing", fmt.Sprintf("Container %s failed startup probe, will be restarted", c.name), d.probeGrace(c.spec.StartupProbe))
	case Liveness:
		d.kill(c, r, "Killing", fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.name), d.probeGrace(c.spec.LivenessProbe))
	case Readiness:
		d.step(c.st.SetReady(res.ok))
		d.save()
	}
}

// runHook runs a lifecycle handler with a deadline.
func (d *daemon) runHook(ctx context.Context, t Target, lh *manifest.LifecycleHandler, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if lh.Sleep != nil {
		select {
		case <-time.After(time.Duration(lh.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	if d.Handlers == nil {
		return errors.New("no hook handlers")
	}
	h, err := d.Handlers.Handler(t, &manifest.ProbeHandler{Exec: lh.Exec, HTTPGet: lh.HTTPGet, TCPSocket: lh.TCPSocket})
	if err != nil {
		return err
	}
	if ok, msg := h(ctx); !ok {
		if msg == "" && ctx.Err() != nil {
			msg = "timed out"
		}
		return errors.New(msg)
	}
	return nil
}
