// stop.go: stopping runs and the pod: preStop, SIGTERM, SIGKILL after
// the grace period, sidecars last and in turn, and the pod's end (logs
// drained and infra stopped off the loop).

package supervisor

import (
	"cmp"
	"context"
	"time"

	"github.com/podrun/podrun/pod/manifest"
	"golang.org/x/sys/unix"
)

// minTermWindow is kubelet's minimumGracePeriodInSeconds: however long
// a preStop hook took, SIGTERM gets this long before SIGKILL.
const minTermWindow = 2 * time.Second

// termWindow is how long SIGTERM gets before SIGKILL after a preStop hook
// that ran for hookRan of the grace period: what is left of it, counted
// in whole seconds as kubelet's killContainer does, and at least
// minTermWindow.
func termWindow(grace, hookRan time.Duration) time.Duration {
	return max(grace-hookRan.Truncate(time.Second), minTermWindow)
}

// kill stops a run: preStop hook (cut off at the grace period), SIGTERM,
// and SIGKILL when the rest of the grace period is over (termWindow).
// The exit is handled by onExit.
func (d *daemon) kill(c *ctr, r *run, reason, msg string, grace time.Duration) {
	if r.killing || r.p == nil { // nil: a lost run, its exit is queued
		return
	}
	r.killing = true
	if reason != "" {
		d.event(Normal, reason, c.object(), msg)
	}
	t := Target{Sandbox: d.sb, Container: c.spec, ID: r.id}
	var preStop *manifest.LifecycleHandler
	if c.spec.Lifecycle != nil {
		preStop = c.spec.Lifecycle.PreStop
	}
	turn := r.turn
	go func() {
		window := grace
		start := time.Now()
		if preStop != nil {
			if err := d.runHook(context.Background(), t, preStop, grace); err != nil {
				d.post(func() { d.event(Warning, "FailedPreStopHook", c.object(), err.Error()) })
			}
		}
		if turn != nil {
			select {
			case <-turn:
			case <-r.exited:
				return
			}
		}
		// A sidecar's wait for its turn counts against its grace period;
		// a forced stop (grace 0) stays a SIGKILL at once.
		if preStop != nil || (turn != nil && grace > 0) {
			window = termWindow(grace, time.Since(start))
		}
		r.p.signal(unix.SIGTERM)
		wait := time.NewTimer(window)
		defer wait.Stop()
		select {
		case <-r.exited:
		case <-wait.C:
			r.p.signal(unix.SIGKILL)
		}
	}()
}

// stop stops the pod: no more starts, every run killed within grace.
func (d *daemon) stop(grace time.Duration, reply chan error) {
	if reply != nil {
		d.stopWait = append(d.stopWait, reply)
	}
	if d.stopping || d.finishing {
		return
	}
	d.stopping = true
	d.stopRuns(grace)
	d.save()
}

// ending says no container is (re)started any more: the pod stops, or
// completes.
func (d *daemon) ending() bool { return d.stopping || d.completing }

// stopRuns cancels pending restarts and kills every run within grace,
// the sidecars last (stopSidecarsInTurn).
func (d *daemon) stopRuns(grace time.Duration) {
	d.endGrace = grace
	for _, c := range d.ctrs {
		d.stopRun(c, grace)
	}
	d.stopSidecarsInTurn()
}

// stopRun cancels c's pending restart and kills its run within grace; a
// sidecar's stop signal waits for its turn (stopSidecarsInTurn).
func (d *daemon) stopRun(c *ctr, grace time.Duration) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
		delete(d.rec.RestartAt, c.name)
		d.step(c.st.RestartCancelled())
	}
	if r := c.run; r != nil {
		if c.role == RoleSidecar && !r.killing {
			r.turn = make(chan struct{})
		}
		d.kill(c, r, "Killing", "Stopping container "+c.name, grace)
	}
}

// stopSidecarsInTurn, while the pod stops, gives the stop signal to the
// sidecar whose turn it is (SidecarToStop).
func (d *daemon) stopSidecarsInTurn() {
	if !d.ending() {
		return
	}
	vs := make([]StopView, len(d.ctrs))
	for i, c := range d.ctrs {
		vs[i] = StopView{Role: c.role, Active: c.run != nil}
		if r := c.run; r != nil {
			vs[i].Signaled = r.turn == nil || r.turnGiven
		}
	}
	if i := SidecarToStop(vs); i >= 0 {
		r := d.ctrs[i].run
		r.turnGiven = true
		close(r.turn)
	}
}

// finishIfDone starts the end of the pod once nothing runs and nothing
// will, and the ended runs' containers are removed: off the loop
// (finishPod), the logs are drained and the infra stopped (last); then,
// back on the loop (finished), the record is marked final and waiters
// answered. It reports true once the pod is finished.
// The loop keeps serving (status, stop, attach) meanwhile.
func (d *daemon) finishIfDone() bool {
	if d.over {
		return true
	}
	if d.finishing || d.activeRuns() > 0 || d.removing > 0 {
		return false
	}
	for _, c := range d.ctrs {
		if c.timer != nil {
			return false
		}
	}
	if !d.stopping && !Terminal(d.rec.Status.Phase) {
		return false
	}
	d.finishing = true
	d.save()
	go d.finishPod(d.infra)
	return false
}

// finishPod, off the loop: everything the containers wrote is in the
// logs (bounded: an escaped process may hold a pipe) before the record says final (pod run and logs -f stop
// reading then), and the infra goes last (its watcher reaps it; SIGKILL
// after a while).
func (d *daemon) finishPod(infra watched) {
	d.drainLogs(cmp.Or(d.drainLimit, 5*time.Second))
	if infra != nil {
		infra.signal(unix.SIGTERM)
		t := time.AfterFunc(cmp.Or(d.infraLimit, 10*time.Second), func() { infra.signal(unix.SIGKILL) })
		<-d.infraDone
		t.Stop()
	}
	d.post(d.finished)
}

// finished, on the loop: the pod is done; the loop returns after it.
func (d *daemon) finished() {
	if d.infra != nil {
		d.infra.close()
		d.infra = nil
	}
	d.rec.Final = true
	d.rec.Runs = nil
	d.save()
	d.holder.quit()
	for _, w := range d.stopWait {
		w <- nil
	}
	d.over = true
	close(d.done)
}
