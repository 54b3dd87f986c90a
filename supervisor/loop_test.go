package supervisor

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// fakeCtl is containers without a runtime: runs are fake processes that
// end when the test says (or, unless manual, on a signal), and every
// call is logged ("create a", "start a", "TERM a", "remove a").
type fakeCtl struct {
	mu     sync.Mutex
	pid    int
	procs  map[int]*fakeProc
	last   map[string]*fakeProc // newest run of each container
	log    []string
	manual bool // runs do not end on SIGTERM
	// holdInfra: the infra does not end on its stop signal, only on
	// releaseInfra.
	holdInfra bool
	infra     *fakeProc
	oom       map[string]bool // containers whose runs the OOM killer ends
	// createGate and removeGate, if set, hold every create or remove
	// until they are closed.
	createGate, removeGate chan struct{}
}

type fakeProc struct {
	f    *fakeCtl
	name string
	pid  int
	// done is closed when the run ends with code (every waiter sees it:
	// an old and a new supervisor may both watch a run).
	done chan struct{}
	code int
	once sync.Once
	// infraDone, for the infra: closed on its stop signal.
	infraDone chan struct{}
}

func newFakeCtl() *fakeCtl {
	// Fake pids lie above any real pid (pid_max is at most 2^22): code
	// that looks into /proc/PID finds nothing.
	return &fakeCtl{pid: 1 << 23, procs: map[int]*fakeProc{}, last: map[string]*fakeProc{}, oom: map[string]bool{}}
}

func (f *fakeCtl) add(entry string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, entry)
}

func (f *fakeCtl) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func nameOf(id string) string { // pod.ContainerID: pod_name_attempt
	parts := strings.Split(id, "_")
	return parts[1]
}

func (f *fakeCtl) create(sb *pod.Sandbox, name string, attempt int, cio pod.ContainerIO) (string, createdProc, error) {
	f.mu.Lock()
	f.pid++
	p := &fakeProc{f: f, name: name, pid: f.pid, done: make(chan struct{})}
	f.procs[p.pid] = p
	f.last[name] = p
	f.log = append(f.log, "create "+name)
	gate := f.createGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return pod.ContainerID(sb.Name, name, attempt), p, nil
}

func (f *fakeCtl) watch(pid int) (watched, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[pid], nil
}

// adopt gives a run a new supervisor did not start: not its child, so
// its exit status is unknown.
func (f *fakeCtl) adopt(pid int, start uint64) (watched, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.procs[pid]
	if p == nil || start != 1 {
		return nil, errGone
	}
	select {
	case <-p.done:
		return nil, errGone
	default:
	}
	f.log = append(f.log, "adopt "+p.name)
	return adoptedProc{p}, nil
}

type adoptedProc struct{ *fakeProc }

func (a adoptedProc) wait() (exitInfo, error) {
	<-a.done
	return exitInfo{}, nil
}

func (f *fakeCtl) start(id string) error { f.add("start " + nameOf(id)); return nil }
func (f *fakeCtl) remove(_ *pod.Sandbox, id string) error {
	f.add("remove " + nameOf(id))
	f.mu.Lock()
	gate := f.removeGate
	f.mu.Unlock()
	if gate != nil {
		<-gate
		f.add("removed " + nameOf(id))
	}
	return nil
}
func (f *fakeCtl) oomKilled(id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.oom[nameOf(id)], nil
}
func (f *fakeCtl) state(string) (runtime.OCIState, error) {
	return runtime.OCIState{}, os.ErrNotExist
}

// exit ends the newest run of name with code.
func (f *fakeCtl) exit(t *testing.T, name string, code int) {
	t.Helper()
	f.mu.Lock()
	p := f.last[name]
	f.mu.Unlock()
	if p == nil {
		t.Fatalf("no run of %s", name)
	}
	p.exit(code)
}

// waitFor waits until entry is logged n times (the deadline only stops
// a hung test).
func (f *fakeCtl) waitFor(t *testing.T, entry string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if count(f.entries(), entry) >= n {
			return
		}
	}
	t.Fatalf("%q not logged %d times; log: %q", entry, n, f.entries())
}

func count(log []string, entry string) int {
	n := 0
	for _, e := range log {
		if e == entry {
			n++
		}
	}
	return n
}

// only keeps the entries that start with prefix.
func only(log []string, prefix string) []string {
	var out []string
	for _, e := range log {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// releaseInfra ends the held infra.
func (f *fakeCtl) releaseInfra() { f.infra.once.Do(func() { close(f.infra.infraDone) }) }

// setOOM makes the OOM killer the cause of name's runs' ends.
func (f *fakeCtl) setOOM(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oom[name] = true
}

func (p *fakeProc) exit(code int) { p.once.Do(func() { p.code = code; close(p.done) }) }

func (p *fakeProc) Pid() int                        { return p.pid }
func (p *fakeProc) Kill() error                     { p.exit(137); return nil }
func (p *fakeProc) Wait() (*os.ProcessState, error) { return nil, nil }

func (p *fakeProc) signal(sig unix.Signal) error {
	p.f.add(strings.TrimPrefix(unix.SignalName(sig), "SIG") + " " + p.name)
	if p.infraDone != nil {
		p.f.mu.Lock()
		hold := p.f.holdInfra
		p.f.mu.Unlock()
		if !hold {
			p.once.Do(func() { close(p.infraDone) })
		}
		return nil
	}
	p.f.mu.Lock()
	manual := p.f.manual
	p.f.mu.Unlock()
	if !manual || sig == unix.SIGKILL {
		p.exit(128 + int(sig))
	}
	return nil
}

func (p *fakeProc) wait() (exitInfo, error) {
	<-p.done
	code := p.code
	info := exitInfo{Known: true, ExitCode: code}
	if code > 128 {
		info.Signal = code - 128
	}
	return info, nil
}

func (p *fakeProc) close()                     {}
func (p *fakeProc) ident() (int, uint64, bool) { return p.pid, 1, false }

// testNow is the daemon's clock: it stands still, so the back-off never
// resets and its delays are what the policy says.
var testNow = time.Unix(1_000_000_000, 0)

// runDaemon runs a daemon over f for spec until the test ends. The
// back-off is 1ms doubling to 4ms.
func runDaemon(t *testing.T, f *fakeCtl, spec manifest.PodSpec) *daemon {
	return runDaemonWith(t, f, nil, spec)
}

// runDaemonWith is runDaemon with probe handlers h.
func runDaemonWith(t *testing.T, f *fakeCtl, h Handlers, spec manifest.PodSpec) *daemon {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BackoffInitial, cfg.BackoffMax, cfg.BackoffReset = time.Millisecond, 4*time.Millisecond, time.Hour
	d := startDaemon(t, f, h, testSandbox(t, spec), cfg, nil, testNow)
	stopAtEnd(t, d)
	return d
}

func testSandbox(t *testing.T, spec manifest.PodSpec) *pod.Sandbox {
	dir := t.TempDir()
	return &pod.Sandbox{Name: "p", StateDir: dir, DataDir: dir,
		Pod: &manifest.Pod{Metadata: manifest.ObjectMeta{Name: "p"}, Spec: spec}}
}

// startDaemon starts a supervisor's loop over f for sb with the clock
// standing at now; rec is a recovered record (the supervisor adopts its
// runs) or nil.
func startDaemon(t *testing.T, f *fakeCtl, h Handlers, sb *pod.Sandbox, cfg Config, rec *Record, now time.Time) *daemon {
	t.Helper()
	d, err := newDaemon(Deps{Now: func() time.Time { return now }, ctl: f, Handlers: h, probeUnit: time.Millisecond,
		drainLimit: time.Hour, infraLimit: time.Hour}, sb, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	d.infraDone = make(chan struct{})
	f.infra = &fakeProc{f: f, name: "infra", infraDone: d.infraDone}
	d.infra = f.infra
	if rec != nil {
		d.adopt() // as setup does, before the loop runs
	}
	go d.loopRun()
	d.post(func() { d.advance(); d.save() })
	return d
}

// stopAtEnd stops the pod when the test ends and checks the loop refused
// no status step.
func stopAtEnd(t *testing.T, d *daemon) {
	t.Cleanup(func() {
		go d.post(func() { d.stop(0, nil) }) // a blocked loop fails waitDone
		waitDone(t, d)
		for _, err := range d.refused {
			t.Errorf("refused status step: %v", err)
		}
	})
}

func waitDone(t *testing.T, d *daemon) {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pod did not finish")
	}
}

// inLoop runs fn on the loop and returns once it ran: everything posted
// before is done.
func inLoop(t *testing.T, d *daemon, fn func()) {
	t.Helper()
	ran := make(chan struct{})
	d.post(func() { fn(); close(ran) })
	select {
	case <-ran:
	case <-d.done:
		t.Fatal("the pod finished")
	}
}

func ctrs(names ...string) []manifest.Container {
	var cs []manifest.Container
	for _, n := range names {
		cs = append(cs, manifest.Container{Name: n, Image: "img"})
	}
	return cs
}

func sidecars(names ...string) []manifest.Container {
	cs := ctrs(names...)
	for i := range cs {
		cs[i].RestartPolicy = manifest.ContainerRestartPolicyAlways
	}
	return cs
}

func TestLoopRestartPolicy(t *testing.T) {
	A, F, N := manifest.RestartPolicyAlways, manifest.RestartPolicyOnFailure, manifest.RestartPolicyNever
	for _, c := range []struct {
		policy  manifest.RestartPolicy
		code    int
		restart bool
		phase   manifest.PodPhase
	}{
		{A, 0, true, ""}, {A, 1, true, ""},
		{F, 0, false, manifest.PodSucceeded}, {F, 1, true, ""},
		{N, 0, false, manifest.PodSucceeded}, {N, 1, false, manifest.PodFailed},
	} {
		t.Run(fmt.Sprintf("%s/%d", c.policy, c.code), func(t *testing.T) {
			f := newFakeCtl()
			d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: c.policy, Containers: ctrs("a")})
			f.waitFor(t, "start a", 1)
			f.exit(t, "a", c.code)
			if c.restart {
				f.waitFor(t, "start a", 2)
				inLoop(t, d, func() {
					if st := d.byName["a"].st; st.RestartCount != 1 || st.LastTerminationState.Terminated.ExitCode != int32(c.code) {
						t.Errorf("restartCount %d, lastState %+v", st.RestartCount, st.LastTerminationState.Terminated)
					}
				})
				return
			}
			waitDone(t, d)
			if n := count(f.entries(), "start a"); n != 1 {
				t.Errorf("started %d times, want once", n)
			}
			if got := d.rec.Status.Phase; got != c.phase {
				t.Errorf("phase %s, want %s", got, c.phase)
			}
		})
	}
}

func TestLoopBackoffGrowsAndCaps(t *testing.T) {
	f := newFakeCtl()
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: ctrs("a")})
	for i := 1; i <= 5; i++ {
		f.waitFor(t, "start a", i)
		f.exit(t, "a", 1)
	}
	f.waitFor(t, "start a", 6)
	inLoop(t, d, func() {
		if n := d.byName["a"].st.RestartCount; n != 5 {
			t.Errorf("restartCount %d, want 5", n)
		}
	})
	evs, err := ReadEvents(EventsPath(d.dir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Reason == "BackOff" {
			got = append(got, e.Message)
		}
	}
	// The first exit restarts at once; then the delay doubles up to Max.
	var want []string
	for _, w := range []string{"1ms", "2ms", "4ms", "4ms"} {
		want = append(want, "Back-off "+w+" restarting failed container a")
	}
	if !slices.Equal(got, want) {
		t.Errorf("back-offs %q, want %q", got, want)
	}
}

func TestLoopInitContainersInOrder(t *testing.T) {
	f := newFakeCtl()
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways,
		InitContainers: ctrs("i1", "i2"), Containers: ctrs("a", "b")})
	starts := func(want ...string) {
		t.Helper()
		inLoop(t, d, func() {})
		if got := only(f.entries(), "start "); !slices.Equal(got, want) {
			t.Fatalf("starts %q, want %q", got, want)
		}
	}
	f.waitFor(t, "start i1", 1)
	starts("start i1")
	// A failed init container is run again; the next waits.
	f.exit(t, "i1", 1)
	f.waitFor(t, "start i1", 2)
	starts("start i1", "start i1")
	f.exit(t, "i1", 0)
	f.waitFor(t, "start i2", 1)
	starts("start i1", "start i1", "start i2")
	f.exit(t, "i2", 0)
	f.waitFor(t, "start b", 1)
	starts("start i1", "start i1", "start i2", "start a", "start b")
}

func TestLoopSidecar(t *testing.T) {
	f := newFakeCtl()
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyNever,
		InitContainers: append(sidecars("s"), ctrs("i")...), Containers: ctrs("a")})
	f.waitFor(t, "start i", 1)
	inLoop(t, d, func() {})
	if got := only(f.entries(), "start "); !slices.Equal(got, []string{"start s", "start i"}) {
		t.Fatalf("starts %q, want the sidecar, then the init container", got)
	}
	// A sidecar is restarted under restartPolicy Never.
	f.exit(t, "s", 1)
	f.waitFor(t, "start s", 2)
	f.exit(t, "i", 0)
	f.waitFor(t, "start a", 1)
	// The app done, the sidecar is stopped and the pod completes.
	f.exit(t, "a", 0)
	waitDone(t, d)
	log := f.entries()
	if count(log, "TERM s") != 1 || count(log, "start a") != 1 {
		t.Errorf("log %q: want the sidecar stopped and the app run once", log)
	}
	if got := d.rec.Status.Phase; got != manifest.PodSucceeded {
		t.Errorf("phase %s, want Succeeded", got)
	}
}

func TestLoopStopOrder(t *testing.T) {
	f := newFakeCtl()
	f.manual = true
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways,
		InitContainers: sidecars("s1", "s2"), Containers: ctrs("a", "b")})
	f.waitFor(t, "start b", 1)
	reply := make(chan error, 1)
	d.post(func() { d.stop(time.Hour, reply) })
	f.waitFor(t, "TERM a", 1)
	f.waitFor(t, "TERM b", 1)
	inLoop(t, d, func() {})
	noTerm := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if count(f.entries(), "TERM "+n) > 0 {
				t.Fatalf("%s signalled too early: %q", n, f.entries())
			}
		}
	}
	noTerm("s1", "s2", "infra")
	// The sidecars go once the apps are gone, in reverse order.
	f.exit(t, "a", 143)
	f.exit(t, "b", 143)
	f.waitFor(t, "TERM s2", 1)
	inLoop(t, d, func() {})
	noTerm("s1", "infra")
	f.exit(t, "s2", 143)
	f.waitFor(t, "TERM s1", 1)
	inLoop(t, d, func() {})
	noTerm("infra")
	// The infra goes last.
	f.exit(t, "s1", 143)
	waitDone(t, d)
	if err := <-reply; err != nil {
		t.Fatal(err)
	}
	log := f.entries()
	if i := slices.Index(log, "TERM infra"); i < slices.Index(log, "remove s1") {
		t.Errorf("infra stopped before the last container was removed: %q", log)
	}
	if count(log, "start a") != 1 || count(log, "start s1") != 1 {
		t.Errorf("a container was restarted during the stop: %q", log)
	}
}

func execProbe(name string) *manifest.Probe {
	return &manifest.Probe{ProbeHandler: manifest.ProbeHandler{Exec: &manifest.ExecAction{Command: []string{name}}},
		TimeoutSeconds: 1000, FailureThreshold: 1}
}

func TestLoopProbes(t *testing.T) {
	f := newFakeCtl()
	probes := fakeHooks{f, map[string]chan bool{"startup": make(chan bool), "live": make(chan bool), "ready": make(chan bool)}}
	side := sidecars("s")
	side[0].StartupProbe = execProbe("startup")
	app := ctrs("a")
	app[0].LivenessProbe, app[0].ReadinessProbe = execProbe("live"), execProbe("ready")
	d := runDaemonWith(t, f, probes, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways,
		InitContainers: append(side, ctrs("i")...), Containers: app})
	// A sidecar with a startup probe holds the next init container until
	// the probe succeeds.
	f.waitFor(t, "start s", 1)
	probes.ch["startup"] <- false // FailureThreshold 1: the sidecar is killed
	f.waitFor(t, "start s", 2)
	inLoop(t, d, func() {})
	if got := only(f.entries(), "start "); !slices.Equal(got, []string{"start s", "start s"}) {
		t.Fatalf("starts %q: want the sidecar restarted and nothing else", got)
	}
	probes.ch["startup"] <- true
	f.waitFor(t, "start i", 1)
	f.exit(t, "i", 0)
	f.waitFor(t, "start a", 1)
	// Readiness follows its probe.
	ready := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			var got bool
			inLoop(t, d, func() { got = d.byName["a"].st.Ready })
			if got == want {
				return
			}
		}
		t.Fatalf("ready is not %v", want)
	}
	inLoop(t, d, func() {
		if d.byName["a"].st.Ready {
			t.Error("ready before its probe succeeded")
		}
	})
	probes.ch["ready"] <- true
	ready(true)
	probes.ch["live"] <- true
	// A failed liveness probe kills the run; it is restarted.
	probes.ch["live"] <- false
	f.waitFor(t, "TERM a", 1)
	f.waitFor(t, "start a", 2)
	inLoop(t, d, func() {
		if n := d.byName["a"].st.RestartCount; n != 1 {
			t.Errorf("restartCount %d, want 1", n)
		}
	})
}

// served runs check on the loop and fails when the loop does not take it
// (it is blocked).
func served(t *testing.T, d *daemon, what string, check func()) {
	t.Helper()
	ran := make(chan struct{})
	go d.post(func() { check(); close(ran) })
	select {
	case <-ran:
	case <-time.After(10 * time.Second): // only stops a hung test
		t.Fatalf("the loop is blocked while %s", what)
	}
}

// TestLoopServesWhileCreating: containers are created off the loop; a
// stop that comes meanwhile stops them once they are started.
func TestLoopServesWhileCreating(t *testing.T) {
	f := newFakeCtl()
	f.createGate = make(chan struct{})
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: ctrs("a", "b")})
	f.waitFor(t, "create a", 1)
	f.waitFor(t, "create b", 1)
	served(t, d, "containers are created", func() {
		if n := d.activeRuns(); n != 2 {
			t.Errorf("%d active runs, want the 2 being created", n)
		}
		if w := d.byName["a"].st.State.Waiting; w == nil {
			t.Errorf("a's state %+v while created, want waiting", d.byName["a"].st.State)
		}
	})
	reply := make(chan error, 1)
	d.post(func() { d.stop(time.Hour, reply) })
	served(t, d, "containers are created", func() {})
	select {
	case <-reply:
		t.Fatal("the pod stopped while its containers were being created")
	default:
	}
	close(f.createGate)
	waitDone(t, d)
	if err := <-reply; err != nil {
		t.Fatal(err)
	}
	log := f.entries()
	for _, n := range []string{"a", "b"} {
		if i, j := slices.Index(log, "start "+n), slices.Index(log, "TERM "+n); i < 0 || j < i {
			t.Errorf("log %q: want %s started, then stopped", log, n)
		}
		if tt := d.byName[n].st.State.Terminated; tt == nil || tt.ExitCode != 143 {
			t.Errorf("%s's state %+v, want terminated by SIGTERM", n, d.byName[n].st.State)
		}
	}
}

// TestLoopWhenStarted: Launch's answer (whenStarted) waits for the first
// containers to be started, as pod run -d did when setup created them.
func TestLoopWhenStarted(t *testing.T) {
	f := newFakeCtl()
	f.createGate = make(chan struct{})
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: ctrs("a", "b")})
	f.waitFor(t, "create b", 1)
	answered := make(chan manifest.PodStatus, 1)
	inLoop(t, d, func() { d.whenStarted(func() { answered <- d.rec.Status }) })
	select {
	case <-answered:
		t.Fatal("answered before the containers were started")
	default:
	}
	close(f.createGate)
	s := <-answered
	for _, c := range s.ContainerStatuses {
		if c.State.Running == nil {
			t.Errorf("%s is %+v when answered, want running", c.Name, c.State)
		}
	}
}

// TestLoopServesWhileRemoving: an ended run's container is removed off
// the loop; the pod ends (infra last) once it is gone.
func TestLoopServesWhileRemoving(t *testing.T) {
	f := newFakeCtl()
	f.removeGate = make(chan struct{})
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyNever, Containers: ctrs("a")})
	f.waitFor(t, "start a", 1)
	f.exit(t, "a", 0)
	f.waitFor(t, "remove a", 1)
	served(t, d, "a container is removed", func() {
		if d.byName["a"].st.State.Terminated == nil {
			t.Errorf("a's state %+v, want terminated", d.byName["a"].st.State)
		}
	})
	served(t, d, "a container is removed", func() {
		if d.finishing || d.rec.Final {
			t.Error("the pod ends before its container was removed")
		}
	})
	close(f.removeGate)
	waitDone(t, d)
	if !d.rec.Final {
		t.Error("the record is not final")
	}
	if log := f.entries(); slices.Index(log, "TERM infra") < slices.Index(log, "removed a") {
		t.Errorf("log %q: want the container removed, then the infra stopped", log)
	}
}

// TestLoopServesWhileFinishing: the end of the pod waits for the log
// copies and then the infra off the loop; meanwhile the loop answers.
func TestLoopServesWhileFinishing(t *testing.T) {
	f := newFakeCtl()
	f.holdInfra = true
	d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyNever, Containers: ctrs("a")})
	f.waitFor(t, "start a", 1)
	// A log copy still open (a process that escaped holds a pipe).
	inLoop(t, d, func() { d.copies.Add(1) })
	f.exit(t, "a", 0)
	f.waitFor(t, "remove a", 1)
	served(t, d, "the logs drain", func() {
		if !d.finishing || d.rec.Final {
			t.Errorf("finishing %v, final %v: want finishing, not final", d.finishing, d.rec.Final)
		}
		if count(f.entries(), "TERM infra") != 0 {
			t.Error("the infra was stopped before the logs were drained")
		}
	})
	// A stop asked meanwhile is answered once the pod is finished.
	reply := make(chan error, 1)
	d.post(func() { d.stop(time.Hour, reply) })
	inLoop(t, d, func() { d.copies.Done() })
	f.waitFor(t, "TERM infra", 1)
	served(t, d, "the infra stops", func() {
		if d.rec.Final {
			t.Error("final before the infra ended")
		}
		if d.stopping {
			t.Error("a stop of a finishing pod changed its record")
		}
	})
	select {
	case <-reply:
		t.Fatal("the stop was answered before the pod finished")
	default:
	}
	f.releaseInfra()
	waitDone(t, d)
	if err := <-reply; err != nil {
		t.Fatal(err)
	}
	rec, err := LoadRecord(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Final || rec.Status.Phase != manifest.PodSucceeded || rec.Stopping {
		t.Errorf("record final %v phase %s stopping %v: want final, Succeeded, not stopping", rec.Final, rec.Status.Phase, rec.Stopping)
	}
}
