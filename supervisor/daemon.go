// daemon.go: the loop and the state it owns: the daemon, its containers
// and runs, the record it saves, and advance, which carries out the
// pod's plan (NextActions). The other concerns: create.go, probing.go,
// exitpolicy.go, stop.go, stdio.go, adopt.go, control.go.

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

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
	// creating: a run is being created off the loop (start); it counts
	// as active.
	creating bool
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
	removing int            // ended runs' containers being removed off the loop
	// firstStarted runs once the creations under way are started
	// (whenStarted).
	firstStarted func()
	reaper       *reaper
	loop         chan func()
	stopping     bool
	// completing: the app containers are done for good and the sidecars
	// are being stopped (not a stop of the pod: it completes).
	completing bool
	stopWait   []chan error
	// finishing: the pod is ending off the loop (finishPod); over: it
	// has ended (the loop returns).
	finishing, over bool
	refused         []error // status steps refused (step); the loop tests want none
	// endGrace is the grace period of the stop of the pod's runs (the
	// pod's stop, or its sidecars' when it completes).
	endGrace time.Duration
	sidecars []bool // sidecars[i]: init container i is a sidecar
	done     chan struct{}
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
		if c.run != nil || c.creating {
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
		vs[i] = CtrView{Role: c.role, Status: (*manifest.ContainerStatus)(c.st), Active: c.run != nil || c.creating, Pending: c.timer != nil,
			PostStartPending: c.run != nil && c.run.postStartPending}
	}
	a := NextActions(d.policy(), d.rec.Status.Phase, vs)
	if a.Complete {
		d.completing = true
		d.stopRuns(d.grace())
		return
	}
	if len(a.Start) == 0 {
		return
	}
	cs := make([]*ctr, len(a.Start))
	for i, k := range a.Start {
		cs[i] = d.ctrs[k]
	}
	d.start(cs...)
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

// step reports a container status step cstatus refused (the status stays
// as it was): a bug of the loop, not of the pod.
func (d *daemon) step(err error) {
	if err != nil {
		if len(d.refused) < 16 { // the first ones tell; a bug may repeat
			d.refused = append(d.refused, err)
		}
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
	}
}
