// create.go: starting runs. A run's I/O and intent are recorded on the
// loop, its container created off it (several at once for the app
// containers), then started and watched back on the loop.

package supervisor

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/podrun/podrun/pod"
	"golang.org/x/sys/unix"
)

// start starts runs of cs (one init container, or the app containers):
// their I/O and intents are made and saved on the loop, their containers
// created off it, all at once (the creations overlap: bundles, mounts,
// cgroup moves), then, back on the loop (started), started in their
// order, as kubelet starts them in order without waiting for each to run.
// Failures to create are retried with back-off like crashes.
func (d *daemon) start(cs ...*ctr) {
	ps := make([]*pending, len(cs))
	errs := make([]error, len(cs))
	for i, c := range cs {
		c.creating = true
		ps[i], errs[i] = d.prepareRun(c, int(c.st.RestartCount))
	}
	d.save() // the intents, before anything is created
	go func() {
		var wg sync.WaitGroup
		for _, p := range ps {
			if p != nil {
				wg.Add(1)
				go func() { defer wg.Done(); d.createRun(p) }()
			}
		}
		wg.Wait()
		// The loop waits for these (activeRuns counts them): the post is
		// taken.
		d.post(func() { d.started(cs, ps, errs) })
	}()
}

// started starts the created runs in order. A stop that came during the
// creation stops them at once, as kubelet kills what its last sync
// started.
func (d *daemon) started(cs []*ctr, ps []*pending, errs []error) {
	for i, c := range cs {
		c.creating = false
		err := errs[i]
		if err == nil {
			err = d.finishRun(ps[i])
		}
		d.afterStart(c, err)
		if d.ending() {
			d.stopRun(c, d.endGrace)
		}
	}
	d.stopSidecarsInTurn()
	if f := d.firstStarted; f != nil {
		d.firstStarted = nil
		f()
	}
}

// whenStarted runs f (on the loop) once the containers being created
// are started; at once when none is.
func (d *daemon) whenStarted(f func()) {
	creating := false
	for _, c := range d.ctrs {
		creating = creating || c.creating
	}
	if !creating {
		f()
		return
	}
	prev := d.firstStarted
	d.firstStarted = func() {
		if prev != nil {
			prev()
		}
		f()
	}
}

// afterStart records the outcome of a start: a failed create is retried
// with back-off.
func (d *daemon) afterStart(c *ctr, err error) {
	if err != nil {
		delete(d.rec.Runs, c.name)
		reason := CreateFailureReason(err)
		if reason == "ErrImageNeverPull" {
			d.event(Warning, reason, c.object(), err.Error()) // kubelet's image manager event
		} else {
			d.event(Warning, "Failed", c.object(), "Error: "+err.Error())
		}
		d.step(c.st.Waiting(reason, err.Error()))
		d.scheduleRestart(c, d.now(), false)
	} else if c.role == RoleSidecar {
		d.advance() // started (no startup probe): the next may start
	}
	d.save()
}

// CreateFailureReason is kubelet's waiting reason for a container whose
// creation failed with err.
func CreateFailureReason(err error) string {
	switch {
	case errors.Is(err, pod.ErrContainerConfig):
		return "CreateContainerConfigError"
	case errors.Is(err, pod.ErrImageNeverPull):
		return "ErrImageNeverPull"
	}
	return "CreateContainerError"
}

func (d *daemon) logPath(name string, attempt int) string {
	return filepath.Join(d.sb.DataDir, "logs", name, strconv.Itoa(attempt)+".log")
}

func fdKey(name string, attempt int, stream string) string {
	return name + "/" + strconv.Itoa(attempt) + "/" + stream
}

// pending is a run being created: its I/O, then its container and init.
type pending struct {
	c       *ctr
	attempt int
	rio     *runIO
	id      string
	child   createdProc
	err     error
}

// prepareRun makes the run's I/O and records its intent (the caller saves
// the record before the create): a supervisor killed between the create
// and the next save leaves a run its successor can find (or remove) by id.
func (d *daemon) prepareRun(c *ctr, attempt int) (*pending, error) {
	rio, err := newRunIO(c.spec)
	if err != nil {
		return nil, err
	}
	d.rec.Runs[c.name] = RunRecord{ID: pod.ContainerID(d.sb.Name, c.name, attempt), Attempt: attempt}
	delete(d.rec.RestartAt, c.name)
	return &pending{c: c, attempt: attempt, rio: rio}, nil
}

// createRun creates the run's container (not started). It touches no
// daemon state, so creations may run at once off the loop.
func (d *daemon) createRun(p *pending) {
	var err error
	d.reaper.spawn(func() []int {
		p.id, p.child, err = d.ctl.create(d.sb, p.c.name, p.attempt, p.rio.pass)
		if err != nil {
			return nil
		}
		return []int{p.child.Pid()}
	})
	if err = p.rio.created(err); err != nil {
		p.rio.closeOurs()
		if p.child != nil { // created, but its pty master never came
			p.child.Kill()
			p.child.Wait()
			d.reaper.forget(p.child.Pid())
			_ = d.ctl.remove(d.sb, p.id)
		}
		p.err = err
	}
}

// finishRun starts a created run and watches it (on the loop).
func (d *daemon) finishRun(pr *pending) error {
	if pr.err != nil {
		return pr.err
	}
	c, attempt, rio, id, child := pr.c, pr.attempt, pr.rio, pr.id, pr.child
	closeR := rio.closeOurs
	p, err := d.ctl.watch(child.Pid())
	if err != nil {
		closeR()
		_ = d.ctl.remove(d.sb, id)
		return err
	}
	r := &run{id: id, attempt: attempt, p: p, exited: make(chan struct{}),
		postStartPending: c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil}
	lw, err := OpenLog(d.logPath(c.name, attempt), d.cfg.LogMaxSize, d.cfg.LogMaxFiles, nil)
	if err != nil {
		closeR()
		p.signal(unix.SIGKILL)
		p.wait()
		_ = d.ctl.remove(d.sb, id)
		return err
	}
	r.logs = lw
	r.stdin, r.master = rio.stdin, rio.master
	d.holdIO(c.name, attempt, rio)
	if rio.master != nil {
		d.copyTTY(r, rio.master)
	} else {
		d.copyLogs(r, rio.out, rio.errR)
	}
	d.event(Normal, "Created", c.object(), "Created container "+c.name)
	if err := d.ctl.start(id); err != nil {
		p.signal(unix.SIGKILL)
		// The watcher reports the exit; the start error is the event.
		d.event(Warning, "Failed", c.object(), "Error: "+err.Error())
	}
	r.startedAt = d.now()
	c.run = r
	delete(d.rec.RestartAt, c.name)
	pid, pidStart, _ := p.ident()
	d.rec.Runs[c.name] = RunRecord{ID: id, Attempt: attempt, Pid: pid, PidStart: pidStart, Started: r.startedAt}
	started := c.spec.StartupProbe == nil
	d.step(c.st.Running(id, r.startedAt, started, c.role != RoleInit && started && c.spec.ReadinessProbe == nil))
	d.event(Normal, "Started", c.object(), "Started container "+c.name)
	d.watch(c, r)
	d.startProbesAndHooks(c, r, true)
	return nil
}
