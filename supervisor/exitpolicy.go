// exitpolicy.go: the end of a run: its exit watched off the loop, its
// terminated status, restartPolicy (ShouldRestart) and the back-off
// before the next run.

package supervisor

import (
	"fmt"
	"os"
	"time"

	"github.com/podrun/podrun/pod/manifest"
	"golang.org/x/sys/unix"
)

// watch reports the run's end to the loop.
func (d *daemon) watch(c *ctr, r *run) {
	go func() {
		info, err := r.p.wait()
		if err != nil {
			info = exitInfo{}
		}
		if pid, _, child := r.p.ident(); child {
			d.reaper.forget(pid)
		}
		// As containerd reports an exit once the I/O is done: the log
		// holds all output before the status says terminated (bounded:
		// a process that escaped the container may keep a pipe open).
		copied := make(chan struct{})
		go func() { r.copies.Wait(); close(copied) }()
		t := time.NewTimer(2 * time.Second)
		select {
		case <-copied:
		case <-t.C:
		}
		t.Stop()
		code := int32(info.ExitCode)
		if !info.Known {
			code = 137
		}
		info.Message = d.terminationMessage(c, r, code)
		d.post(func() { d.onExit(c, r, info) })
	}()
}

// onExit records the end of a run and decides about the next one.
func (d *daemon) onExit(c *ctr, r *run, info exitInfo) {
	if c.run != r {
		return
	}
	close(r.exited)
	if r.cancel != nil {
		r.cancel()
	}
	if r.p != nil {
		r.p.close()
	}
	finished := d.now()
	oom, _ := d.ctl.oomKilled(r.id)
	term := termination(info, oom, r.id, r.startedAt, finished)
	switch term.Reason {
	case manifest.ReasonOOMKilled:
		d.event(Warning, "OOMKilled", c.object(), "Container "+c.name+" was killed by the OOM killer (memory limit)")
	case reasonStatusUnknown:
		d.event(Warning, reasonStatusUnknown, c.object(), "Container "+c.name+" exited; its exit code is unknown (it was adopted by a recovered supervisor)")
	}
	if info.Known {
		d.event(Normal, "Exited", c.object(), fmt.Sprintf("Container %s exited with code %d (cpu %.2fs, max rss %d KiB)",
			c.name, info.ExitCode, cpuSeconds(info.Rusage), info.Rusage.Maxrss))
	}
	d.dropIO(c.name, r.attempt)
	if r.stdin != nil {
		r.stdin.Close()
	}
	if rel, ok := d.Handlers.(interface{ Release(id string) }); ok {
		rel.Release(r.id)
	}
	// Removed off the loop (unmounts, cgroup); the pod does not end
	// before (finishIfDone).
	d.removing++
	go func(id string) {
		if err := d.ctl.remove(d.sb, id); err != nil {
			fmt.Fprintf(os.Stderr, "supervisor: removing %s: %v\n", id, err)
		}
		d.post(func() { d.removing-- })
	}(r.id)
	c.run = nil
	delete(d.rec.Runs, c.name)
	d.step(c.st.Terminated(term, c.role == RoleInit))
	if !d.ending() && ShouldRestart(d.policy(), c.role, int(term.ExitCode)) {
		d.scheduleRestart(c, finished, true)
	}
	d.advance()
	d.stopSidecarsInTurn()
	d.save()
}

// reasonStatusUnknown is kubelet's reason for a container whose end it
// saw but whose exit code it could not learn.
const reasonStatusUnknown = "ContainerStatusUnknown"

// termination is the terminated state kubelet reports for run id that
// started at started and ended at finished as info says; oom: the OOM
// killer ended it.
func termination(info exitInfo, oom bool, id string, started, finished time.Time) *manifest.ContainerStateTerminated {
	term := &manifest.ContainerStateTerminated{
		ExitCode: int32(info.ExitCode), Signal: int32(info.Signal),
		StartedAt: manifest.NewTime(started), FinishedAt: manifest.NewTime(finished),
		ContainerID: "podrun://" + id,
	}
	switch {
	case oom:
		term.Reason = manifest.ReasonOOMKilled
		if !info.Known {
			term.ExitCode, term.Signal = 137, 9
		}
	case !info.Known:
		// Not our child (adopted after a supervisor restart): Linux
		// gives the status to the parent only. kubelet reports a
		// container it lost this way.
		term.ExitCode, term.Reason = 137, reasonStatusUnknown
		term.Message = "The container exited while podrun's supervisor was not its parent; its exit code is unknown"
	default:
		term.Reason = ExitReason(info.ExitCode, false)
	}
	if msg := info.Message; msg != "" {
		if term.Message != "" {
			term.Message += ": "
		}
		term.Message += msg
	}
	return term
}

func cpuSeconds(ru unix.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// scheduleRestart waits out the back-off, then starts the next run.
// exited: the previous run ended (its terminated state becomes lastState).
func (d *daemon) scheduleRestart(c *ctr, finished time.Time, exited bool) {
	wait := d.backoff.OnExit(c.name, finished)
	if exited {
		msg := ""
		if wait > 0 {
			msg = BackOffMessage(wait, c.name, d.sb.Pod)
		}
		d.step(c.st.RestartPending(msg))
	}
	if wait > 0 {
		d.event(Warning, "BackOff", c.object(), fmt.Sprintf("Back-off %s restarting failed container %s", wait, c.name))
	}
	at := finished.Add(wait)
	d.rec.RestartAt[c.name] = PendingRestart{At: at, Count: exited}
	d.armRestart(c, at, exited)
}

func (d *daemon) armRestart(c *ctr, at time.Time, count bool) {
	c.timer = time.AfterFunc(at.Sub(d.now()), func() {
		d.post(func() {
			c.timer = nil
			if d.ending() || c.run != nil {
				return
			}
			if count {
				d.step(c.st.Restarting())
			}
			d.start(c)
		})
	})
}
