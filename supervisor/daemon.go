package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
)

// Target is the container run a probe or hook handler acts on.
type Target struct {
	Sandbox   *pod.Sandbox
	Container *manifest.Container
	ID        string // OCI container id
}

// Handlers builds probe and hook handlers (package probes in podrun).
type Handlers interface {
	Handler(t Target, h *manifest.ProbeHandler) (Handler, error)
}

// Deps are the supervisor's collaborators.
type Deps struct {
	Manager  *pod.Manager
	Handlers Handlers
	// Holder re-executes podrun as the fd holder; the infra pid is
	// appended. Nil: no holder (container pipes die with the supervisor).
	HolderArgs []string
	Exe        string
	Now        func() time.Time
	// ctl is what the loop asks of containers; nil: the Manager's
	// (managerContainers). Unit tests set a fake.
	ctl containers
	// probeUnit is a probe's second; 0: time.Second (tests shorten it).
	probeUnit time.Duration
	// drainLimit and infraLimit bound the waits at the pod's end for the
	// log copies and for the infra to end on SIGTERM; 0: 5 s and 10 s.
	drainLimit, infraLimit time.Duration
}

// ctr is one container of the pod as the loop sees it.
type ctr struct {
	name  string
	spec  *manifest.Container
	init  bool
	role  Role
	st    *cstatus // into d.rec.Status's slices; moved by its methods only
	run   *run
	timer *time.Timer // restart after back-off
}

// run is one live run of a container.
type run struct {
	id        string
	attempt   int
	p         watched
	logs      *LogWriter
	stdin     *os.File // write end of a stdin: true container's stdin, kept open
	master    *os.File // pty master of a tty: true container
	hub       *attachHub
	copies    sync.WaitGroup
	cancel    context.CancelFunc // stops probes and hooks
	startedAt time.Time
	killing   bool
	// turn, for a sidecar being stopped with the pod: closed when its
	// turn to get the stop signal comes (SidecarToStop); its preStop
	// hook runs before, beside the app containers' (kubelet's order).
	turn      chan struct{}
	turnGiven bool
	// postStartPending: its postStart hook runs still. kubelet runs the
	// hook within the container's start, so a sidecar counts as started
	// (the next init container may start) only once the hook is done.
	postStartPending bool
	exited           chan struct{}
}

type daemon struct {
	Deps
	cfg     Config
	sb      *pod.Sandbox
	dir     string
	rec     *Record
	ctrs    []*ctr // init containers, then app containers
	byName  map[string]*ctr
	backoff *Backoff
	events  *eventLog
	holder  *holderClient
	infra   watched
	// lock is the supervisor lock; it must stay open (and referenced:
	// a collected *os.File closes its fd and drops the lock).
	lock *os.File
	// infraDone is closed once the infra process has ended.
	infraDone chan struct{}

	copies   sync.WaitGroup // log copies of every run
	reaper   *reaper
	loop     chan func()
	stopping bool
	// completing: the app containers are done for good and the sidecars
	// are being stopped (not a stop of the pod: it completes).
	completing bool
	stopWait   []chan error
	// finishing: the pod is ending off the loop (finishPod); over: it
	// has ended (the loop returns).
	finishing, over bool
	refused         []error // status steps refused (step); the loop tests want none
	sidecars        []bool  // sidecars[i]: init container i is a sidecar
	done            chan struct{}
}

func (d *daemon) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// post runs f on the loop goroutine, which owns all state.
func (d *daemon) post(f func()) {
	select {
	case d.loop <- f:
	case <-d.done:
	}
}

func (d *daemon) policy() manifest.RestartPolicy { return d.sb.Pod.Spec.RestartPolicy }

func (d *daemon) event(typ, reason, obj, msg string) {
	d.events.add(Event{Time: d.now(), Type: typ, Reason: reason, Object: obj, Message: msg})
}

func (c *ctr) object() string {
	if c.init {
		return "spec.initContainers{" + c.name + "}"
	}
	return "spec.containers{" + c.name + "}"
}

// newDaemon builds the loop's view of sb; rec is the recovered record or
// nil for a new pod.
func newDaemon(deps Deps, sb *pod.Sandbox, cfg Config, rec *Record) (*daemon, error) {
	if deps.ctl == nil {
		deps.ctl = managerContainers{deps.Manager}
	}
	d := &daemon{Deps: deps, cfg: cfg, sb: sb, dir: sb.StateDir, byName: map[string]*ctr{},
		backoff: &Backoff{Initial: cfg.BackoffInitial, Max: cfg.BackoffMax, Reset: cfg.BackoffReset},
		loop:    make(chan func()), done: make(chan struct{})}
	ev, err := openEventLog(EventsPath(d.dir))
	if err != nil {
		return nil, err
	}
	d.events = ev
	p := sb.Pod
	if rec == nil {
		rec = &Record{Config: cfg}
		now := manifest.NewTime(d.now())
		rec.Status.StartTime = now
		if len(sb.HostIPs) > 0 {
			rec.Status.HostIP = sb.HostIPs[0]
			for _, ip := range sb.HostIPs {
				rec.Status.HostIPs = append(rec.Status.HostIPs, manifest.HostIP{IP: ip})
			}
		}
		if sb.IP != "" {
			rec.Status.PodIP = sb.IP
			rec.Status.PodIPs = []manifest.PodIP{{IP: sb.IP}}
		}
		mk := func(c *manifest.Container, reason string) manifest.ContainerStatus {
			return newCStatus(c, sb.Images[c.Name], reason)
		}
		appReason := manifest.ReasonContainerCreating
		if len(p.Spec.InitContainers) > 0 {
			appReason = manifest.ReasonPodInitializing
		}
		for i := range p.Spec.InitContainers {
			rec.Status.InitContainerStatuses = append(rec.Status.InitContainerStatuses, mk(&p.Spec.InitContainers[i], manifest.ReasonPodInitializing))
		}
		for i := range p.Spec.Containers {
			rec.Status.ContainerStatuses = append(rec.Status.ContainerStatuses, mk(&p.Spec.Containers[i], appReason))
		}
	}
	if rec.Runs == nil {
		rec.Runs = map[string]RunRecord{}
	}
	if rec.RestartAt == nil {
		rec.RestartAt = map[string]PendingRestart{}
	}
	d.backoff.Restore(rec.Backoff)
	rec.SupervisorPid = os.Getpid()
	d.rec = rec
	if len(rec.Status.InitContainerStatuses) != len(p.Spec.InitContainers) || len(rec.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return nil, errors.New("status.json does not match the pod's containers")
	}
	d.sidecars = Sidecars(p)
	for i := range p.Spec.InitContainers {
		c := &ctr{name: p.Spec.InitContainers[i].Name, spec: &p.Spec.InitContainers[i], init: true, st: (*cstatus)(&rec.Status.InitContainerStatuses[i])}
		c.role = RoleOf(c.spec, true)
		d.ctrs = append(d.ctrs, c)
		d.byName[c.name] = c
	}
	for i := range p.Spec.Containers {
		c := &ctr{name: p.Spec.Containers[i].Name, spec: &p.Spec.Containers[i], st: (*cstatus)(&rec.Status.ContainerStatuses[i])}
		d.ctrs = append(d.ctrs, c)
		d.byName[c.name] = c
	}
	return d, nil
}

// save recomputes phase and conditions and writes status.json.
func (d *daemon) save() {
	s := &d.rec.Status
	final := d.ending() && d.activeRuns() == 0
	old := s.Phase
	s.Phase = NextPhase(s.Phase, Phase(d.policy(), s.InitContainerStatuses, s.ContainerStatuses, d.sidecars, final))
	s.Conditions = Conditions(s.Conditions, ConditionInput{
		SandboxReady: d.infra != nil, Phase: s.Phase,
		Inits: s.InitContainerStatuses, Apps: s.ContainerStatuses, Sidecars: d.sidecars,
	}, d.now())
	if old != s.Phase && Terminal(s.Phase) {
		d.event(Normal, "PodCompleted", "pod", "Pod phase is "+string(s.Phase))
	}
	d.rec.Stopping = d.stopping
	d.rec.Backoff = d.backoff.Snapshot()
	if err := d.rec.save(d.dir); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: writing status: %v\n", err)
	}
}

func (d *daemon) activeRuns() int {
	n := 0
	for _, c := range d.ctrs {
		if c.run != nil {
			n++
		}
	}
	return n
}

// loopRun runs the event loop until the pod is finished.
func (d *daemon) loopRun() {
	for {
		select {
		case f := <-d.loop:
			f()
			if d.finishIfDone() {
				return
			}
		}
	}
}

// advance does what NextActions plans: start the next init container or
// the app containers not yet started, or, when only sidecars are left to
// run, stop them: the pod completes.
func (d *daemon) advance() {
	if d.ending() {
		return
	}
	vs := make([]CtrView, len(d.ctrs))
	for i, c := range d.ctrs {
		vs[i] = CtrView{Role: c.role, Status: (*manifest.ContainerStatus)(c.st), Active: c.run != nil, Pending: c.timer != nil,
			PostStartPending: c.run != nil && c.run.postStartPending}
	}
	a := NextActions(d.policy(), d.rec.Status.Phase, vs)
	if a.Complete {
		d.completing = true
		d.stopRuns(d.grace())
		return
	}
	if len(a.Start) == 1 && d.ctrs[a.Start[0]].init {
		d.start(d.ctrs[a.Start[0]])
		return
	}
	apps := make([]*ctr, len(a.Start))
	for i, k := range a.Start {
		apps[i] = d.ctrs[k]
	}
	d.startApps(apps)
}

// startApps starts the app containers cs: created at once (the creations
// overlap: bundles, mounts, cgroup moves), then started in their order, as
// kubelet starts them in order without waiting for each to run.
func (d *daemon) startApps(cs []*ctr) {
	if len(cs) < 2 {
		for _, c := range cs {
			d.start(c)
		}
		return
	}
	ps := make([]*pending, len(cs))
	errs := make([]error, len(cs))
	for i, c := range cs {
		ps[i], errs[i] = d.prepareRun(c, int(c.st.RestartCount))
	}
	d.save() // the intents, before anything is created
	var wg sync.WaitGroup
	for _, p := range ps {
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); d.createRun(p) }()
		}
	}
	wg.Wait()
	for i, c := range cs {
		err := errs[i]
		if err == nil {
			err = d.finishRun(ps[i])
		}
		d.afterStart(c, err)
	}
}

// start creates and starts a run of c; failures to create are retried
// with back-off like crashes.
func (d *daemon) start(c *ctr) {
	d.afterStart(c, d.startRun(c, int(c.st.RestartCount)))
}

// afterStart records the outcome of a start: a failed create is retried
// with back-off.
func (d *daemon) afterStart(c *ctr, err error) {
	if err != nil {
		delete(d.rec.Runs, c.name)
		reason := "CreateContainerError"
		switch {
		case errors.Is(err, pod.ErrContainerConfig):
			reason = "CreateContainerConfigError"
		case errors.Is(err, pod.ErrImageNeverPull):
			reason = "ErrImageNeverPull"
		}
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

func (d *daemon) startRun(c *ctr, attempt int) error {
	p, err := d.prepareRun(c, attempt)
	if err != nil {
		return err
	}
	d.save()
	d.createRun(p)
	return d.finishRun(p)
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

// copyLogs copies a run's stdout and stderr into its log until EOF (every
// writer gone), then closes the log.
func (d *daemon) copyLogs(r *run, out, errf *os.File) {
	r.copies.Add(2)
	d.copies.Add(1)
	r.hub = &attachHub{}
	go func() { defer r.copies.Done(); r.logs.Copy("stdout", io.TeeReader(out, r.hub)); out.Close() }()
	go func() { defer r.copies.Done(); r.logs.Copy("stderr", io.TeeReader(errf, r.hub)); errf.Close() }()
	go func() { r.copies.Wait(); r.logs.Close(); r.hub.closeAll(); d.copies.Done() }()
}

// drainLogs waits until every log copy has reached the end of its pipes
// (bounded: a process that escaped its container may hold one open).
func (d *daemon) drainLogs(limit time.Duration) {
	done := make(chan struct{})
	go func() { d.copies.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		fmt.Fprintf(os.Stderr, "supervisor: log copies still open after %s\n", limit)
	}
}

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

// grace is the pod's terminationGracePeriodSeconds (kubelet's minimum 2 s).
func (d *daemon) grace() time.Duration {
	g := int64(30)
	if v := d.sb.Pod.Spec.TerminationGracePeriodSeconds; v != nil {
		g = *v
	}
	return time.Duration(max(g, 2)) * time.Second
}

func (d *daemon) probeGrace(p *manifest.Probe) time.Duration {
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return time.Duration(max(*p.TerminationGracePeriodSeconds, 2)) * time.Second
	}
	return d.grace()
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
	term := &manifest.ContainerStateTerminated{
		ExitCode: int32(info.ExitCode), Signal: int32(info.Signal),
		StartedAt: manifest.NewTime(r.startedAt), FinishedAt: manifest.NewTime(finished),
		ContainerID: "podrun://" + r.id,
	}
	switch {
	case oom:
		term.Reason = manifest.ReasonOOMKilled
		if !info.Known {
			term.ExitCode, term.Signal = 137, 9
		}
		d.event(Warning, "OOMKilled", c.object(), "Container "+c.name+" was killed by the OOM killer (memory limit)")
	case !info.Known:
		// Not our child (adopted after a supervisor restart): Linux
		// gives the status to the parent only. kubelet reports a
		// container it lost this way.
		term.ExitCode, term.Reason = 137, "ContainerStatusUnknown"
		term.Message = "The container exited while podrun's supervisor was not its parent; its exit code is unknown"
		d.event(Warning, "ContainerStatusUnknown", c.object(), "Container "+c.name+" exited; its exit code is unknown (it was adopted by a recovered supervisor)")
	default:
		term.Reason = ExitReason(info.ExitCode, false)
	}
	if info.Known {
		d.event(Normal, "Exited", c.object(), fmt.Sprintf("Container %s exited with code %d (cpu %.2fs, max rss %d KiB)",
			c.name, info.ExitCode, cpuSeconds(info.Rusage), info.Rusage.Maxrss))
	}
	if msg := info.Message; msg != "" {
		if term.Message != "" {
			term.Message += ": "
		}
		term.Message += msg
	}
	d.dropIO(c.name, r.attempt)
	if r.stdin != nil {
		r.stdin.Close()
	}
	if rel, ok := d.Handlers.(interface{ Release(id string) }); ok {
		rel.Release(r.id)
	}
	if err := d.ctl.remove(d.sb, r.id); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: removing %s: %v\n", r.id, err)
	}
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

// step reports a container status step cstatus refused (the status stays
// as it was): a bug of the loop, not of the pod.
func (d *daemon) step(err error) {
	if err != nil {
		d.refused = append(d.refused, err)
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
	}
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
	for _, c := range d.ctrs {
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
	d.stopSidecarsInTurn()
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
// will: off the loop (finishPod), the logs are drained and the infra
// stopped (last); then, back on the loop (finished), the record is marked
// final and waiters answered. It reports true once the pod is finished.
// The loop keeps serving (status, stop, attach) meanwhile.
func (d *daemon) finishIfDone() bool {
	if d.over {
		return true
	}
	if d.finishing || d.activeRuns() > 0 {
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

// finishPod, off the loop: everything the containers wrote is in the logs
// before the record says final (pod run and logs -f stop reading then),
// and the infra goes last (its watcher reaps it). Both waits are bounded.
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
