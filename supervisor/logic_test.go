package supervisor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

func TestBackoffGrowsCapsAndResets(t *testing.T) {
	b := &Backoff{Initial: 10 * time.Second, Max: 300 * time.Second, Reset: 600 * time.Second}
	t0 := time.Unix(1000, 0)
	var got []time.Duration
	at := t0
	for i := 0; i < 8; i++ {
		w := b.OnExit("c", at)
		got = append(got, w)
		at = at.Add(w + time.Second) // restarted after w, ran 1s
	}
	want := []time.Duration{0, 10, 20, 40, 80, 160, 300, 300}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delays = %v, want %v s", got, want)
		}
	}
	// Ran longer than Reset since the last exit: starts over.
	if w := b.OnExit("c", at.Add(601*time.Second)); w != 0 {
		t.Errorf("after a long run: %v, want 0", w)
	}
	if w := b.OnExit("c", at.Add(602*time.Second)); w != 10*time.Second {
		t.Errorf("next: %v, want 10s", w)
	}
	// Other containers are independent; Snapshot/Restore keep the pace.
	if w := b.OnExit("d", at); w != 0 {
		t.Errorf("d: %v", w)
	}
	b2 := &Backoff{Initial: 10 * time.Second, Max: 300 * time.Second, Reset: 600 * time.Second}
	b2.Restore(b.Snapshot())
	if w := b2.OnExit("c", at.Add(603*time.Second)); w != 20*time.Second {
		t.Errorf("restored: %v, want 20s", w)
	}
}

func TestShouldRestart(t *testing.T) {
	A, F, N := manifest.RestartPolicyAlways, manifest.RestartPolicyOnFailure, manifest.RestartPolicyNever
	for _, c := range []struct {
		p    manifest.RestartPolicy
		role Role
		code int
		want bool
	}{
		{A, RoleApp, 0, true},
		{A, RoleApp, 1, true},
		{"", RoleApp, 0, true},
		{F, RoleApp, 0, false},
		{F, RoleApp, 1, true},
		{N, RoleApp, 1, false},
		{N, RoleApp, 0, false},
		{A, RoleInit, 0, false},
		{A, RoleInit, 1, true},
		{F, RoleInit, 2, true},
		{N, RoleInit, 1, false},
		// A sidecar restarts whatever the pod's policy and its exit.
		{N, RoleSidecar, 0, true},
		{N, RoleSidecar, 1, true},
		{F, RoleSidecar, 0, true},
		{A, RoleSidecar, 137, true},
	} {
		if got := ShouldRestart(c.p, c.role, c.code); got != c.want {
			t.Errorf("ShouldRestart(%q, role %d, %d) = %v", c.p, c.role, c.code, got)
		}
	}
}

func TestRoleOf(t *testing.T) {
	side := &manifest.Container{RestartPolicy: manifest.ContainerRestartPolicyAlways}
	if RoleOf(side, true) != RoleSidecar || RoleOf(&manifest.Container{}, true) != RoleInit || RoleOf(&manifest.Container{}, false) != RoleApp {
		t.Error("RoleOf")
	}
}

// NextInit follows kubelet's computeInitContainerActions: one at a time,
// a sidecar lets the next one start once started (startup probe passed),
// a regular init container once it exited 0.
func TestNextInit(t *testing.T) {
	side := func(ever, started bool) InitProgress {
		return InitProgress{Sidecar: true, Ever: ever, Started: started}
	}
	reg := func(ever, ok bool) InitProgress { return InitProgress{Ever: ever, Succeeded: ok} }
	type P = []InitProgress
	for i, c := range []struct {
		inits       P
		appsStarted bool
		next        int
		initialized bool
	}{
		{nil, false, -1, true},
		{P{side(false, false), reg(false, false)}, false, 0, false},
		// The sidecar runs, its startup probe has not passed: wait.
		{P{side(true, false), reg(false, false)}, false, -1, false},
		{P{side(true, true), reg(false, false)}, false, 1, false},
		{P{side(true, true), reg(true, false)}, false, -1, false},
		{P{side(true, true), reg(true, true)}, false, -1, true},
		// A regular init container before a sidecar must complete first.
		{P{reg(true, false), side(false, false)}, false, -1, false},
		{P{reg(true, true), side(false, false)}, false, 1, false},
		{P{reg(true, true), side(true, false)}, false, -1, false},
		{P{reg(true, true), side(true, true)}, false, -1, true},
		// Only the latest one counts: an earlier sidecar restarting does
		// not hold back the next (kubelet scans from the last).
		{P{side(true, false), side(true, true), reg(false, false)}, false, 2, false},
		// Once an app container ran, the pod stays initialized.
		{P{side(true, false)}, true, -1, true},
	} {
		next, init := NextInit(c.inits, c.appsStarted)
		if next != c.next || init != c.initialized {
			t.Errorf("case %d: NextInit = %d, %v; want %d, %v", i, next, init, c.next, c.initialized)
		}
	}
}

// SidecarToStop: app and init containers first, then the sidecars one
// by one, last first.
func TestSidecarToStop(t *testing.T) {
	type V = []StopView
	app := func(active bool) StopView { return StopView{Role: RoleApp, Active: active, Signaled: active} }
	side := func(active, sig bool) StopView { return StopView{Role: RoleSidecar, Active: active, Signaled: sig} }
	for i, c := range []struct {
		cs   V
		want int
	}{
		{V{side(true, false), side(true, false), app(true)}, -1},
		{V{side(true, false), side(true, false), app(false)}, 1},
		{V{side(true, false), side(true, true), app(false)}, -1},
		{V{side(true, false), side(false, false), app(false)}, 0},
		{V{side(false, false), side(false, false), app(false)}, -1},
		{V{{Role: RoleInit, Active: true, Signaled: true}, side(true, false)}, -1},
	} {
		if got := SidecarToStop(c.cs); got != c.want {
			t.Errorf("case %d: SidecarToStop = %d, want %d", i, got, c.want)
		}
	}
}

func running(n string) manifest.ContainerStatus {
	return manifest.ContainerStatus{Name: n, State: manifest.ContainerState{Running: &manifest.ContainerStateRunning{}}}
}
func exited(n string, code int32) manifest.ContainerStatus {
	return manifest.ContainerStatus{Name: n, State: manifest.ContainerState{Terminated: &manifest.ContainerStateTerminated{ExitCode: code}}}
}
func waiting(n, reason string) manifest.ContainerStatus {
	return manifest.ContainerStatus{Name: n, State: manifest.ContainerState{Waiting: &manifest.ContainerStateWaiting{Reason: reason}}}
}
func backingOff(n string, code int32) manifest.ContainerStatus {
	s := waiting(n, manifest.ReasonCrashLoopBackOff)
	s.LastTerminationState.Terminated = &manifest.ContainerStateTerminated{ExitCode: code}
	return s
}

func TestPhase(t *testing.T) {
	type S = []manifest.ContainerStatus
	A, F, N := manifest.RestartPolicyAlways, manifest.RestartPolicyOnFailure, manifest.RestartPolicyNever
	for i, c := range []struct {
		p     manifest.RestartPolicy
		inits S
		apps  S
		final bool
		want  manifest.PodPhase
	}{
		{A, nil, S{waiting("a", manifest.ReasonContainerCreating)}, false, manifest.PodPending},
		{A, S{running("i")}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{A, S{exited("i", 1)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{N, S{exited("i", 1)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodFailed},
		{F, S{backingOff("i", 1)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{A, S{exited("i", 0)}, S{running("a")}, false, manifest.PodRunning},
		{A, nil, S{running("a"), exited("b", 0)}, false, manifest.PodRunning},
		{A, nil, S{exited("a", 0)}, false, manifest.PodRunning},
		{A, nil, S{backingOff("a", 1)}, false, manifest.PodRunning},
		{F, nil, S{exited("a", 0), exited("b", 0)}, false, manifest.PodSucceeded},
		{F, nil, S{exited("a", 0), backingOff("b", 1)}, false, manifest.PodRunning},
		{N, nil, S{exited("a", 0), exited("b", 0)}, false, manifest.PodSucceeded},
		{N, nil, S{exited("a", 0), exited("b", 2)}, false, manifest.PodFailed},
		{N, nil, S{running("a"), exited("b", 2)}, false, manifest.PodRunning},
		{A, nil, S{exited("a", 0), exited("b", 143)}, true, manifest.PodFailed},
		{A, nil, S{exited("a", 0)}, true, manifest.PodSucceeded},
		{A, nil, S{{Name: "x"}}, false, manifest.PodPending},
		{A, nil, S{exited("a", 0), waiting("b", manifest.ReasonContainerCreating)}, true, manifest.PodFailed},
	} {
		if got := Phase(c.p, c.inits, c.apps, nil, c.final); got != c.want {
			t.Errorf("case %d: Phase = %s, want %s", i, got, c.want)
		}
	}
	if NextPhase(manifest.PodSucceeded, manifest.PodRunning) != manifest.PodSucceeded ||
		NextPhase(manifest.PodFailed, manifest.PodPending) != manifest.PodFailed ||
		NextPhase(manifest.PodPending, manifest.PodRunning) != manifest.PodRunning {
		t.Error("NextPhase left a terminal phase")
	}
}

func TestConditionsTransitionTimes(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	notReady := running("a")
	in := ConditionInput{SandboxReady: true, Phase: manifest.PodRunning, Apps: []manifest.ContainerStatus{notReady}}
	c1 := Conditions(nil, in, t0)
	if len(c1) != 5 {
		t.Fatalf("conditions: %+v", c1)
	}
	ready := func(cs []manifest.PodCondition) manifest.PodCondition {
		for _, c := range cs {
			if c.Type == manifest.PodReady {
				return c
			}
		}
		t.Fatal("no Ready")
		return manifest.PodCondition{}
	}
	r := ready(c1)
	if r.Status != manifest.ConditionFalse || r.Reason != "ContainersNotReady" || r.Message != "containers with unready status: [a]" {
		t.Errorf("Ready = %+v", r)
	}
	// Same status later: the transition time stays.
	c2 := Conditions(c1, in, t0.Add(time.Minute))
	if !ready(c2).LastTransitionTime.Equal(t0) {
		t.Errorf("unchanged Ready moved its transition time: %v", ready(c2).LastTransitionTime)
	}
	// Flip: the time moves, reason and message go.
	in.Apps[0].Ready = true
	c3 := Conditions(c2, in, t0.Add(2*time.Minute))
	if r := ready(c3); r.Status != manifest.ConditionTrue || !r.LastTransitionTime.Equal(t0.Add(2*time.Minute)) || r.Reason != "" {
		t.Errorf("flipped Ready = %+v", r)
	}
	// PodScheduled did not change.
	if !c3[0].LastTransitionTime.Equal(t0) {
		t.Errorf("PodScheduled moved: %+v", c3[0])
	}
	// Init incomplete.
	in = ConditionInput{SandboxReady: true, Phase: manifest.PodPending, Inits: []manifest.ContainerStatus{running("i")}}
	for _, c := range Conditions(nil, in, t0) {
		if c.Type == manifest.PodInitialized && (c.Status != manifest.ConditionFalse || c.Message != "containers with incomplete status: [i]") {
			t.Errorf("Initialized = %+v", c)
		}
	}
}

// A terminal pod's Ready and ContainersReady are False with the phase as
// the reason (kubelet's generateContainersReadyConditionForTerminalPhase);
// a Succeeded pod is Initialized with reason PodCompleted.
func TestConditionsTerminalPhase(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	readyApp := running("a")
	readyApp.Ready = true
	for _, c := range []struct {
		phase      manifest.PodPhase
		apps       []manifest.ContainerStatus
		wantReason string
	}{
		{manifest.PodFailed, []manifest.ContainerStatus{exited("a", 1)}, "PodFailed"},
		// A failed pod whose container still reports ready while it terminates.
		{manifest.PodFailed, []manifest.ContainerStatus{readyApp}, "PodFailed"},
		{manifest.PodSucceeded, []manifest.ContainerStatus{exited("a", 0)}, "PodCompleted"},
	} {
		in := ConditionInput{SandboxReady: true, Phase: c.phase, Inits: []manifest.ContainerStatus{exited("i", 0)}, Apps: c.apps}
		got := map[manifest.PodConditionType]manifest.PodCondition{}
		for _, cond := range Conditions(nil, in, t0) {
			got[cond.Type] = cond
		}
		for _, typ := range []manifest.PodConditionType{manifest.ContainersReady, manifest.PodReady} {
			if cond := got[typ]; cond.Status != manifest.ConditionFalse || cond.Reason != c.wantReason || cond.Message != "" {
				t.Errorf("%s pod: %s = %+v, want False/%s", c.phase, typ, cond, c.wantReason)
			}
		}
		init := got[manifest.PodInitialized]
		wantInitReason := ""
		if c.phase == manifest.PodSucceeded {
			wantInitReason = "PodCompleted"
		}
		if init.Status != manifest.ConditionTrue || init.Reason != wantInitReason {
			t.Errorf("%s pod: Initialized = %+v, want True/%q", c.phase, init, wantInitReason)
		}
	}
}

func TestDisplayStatus(t *testing.T) {
	s := &manifest.PodStatus{Phase: manifest.PodRunning, ContainerStatuses: []manifest.ContainerStatus{backingOff("a", 1)}}
	if got := DisplayStatus(s, nil, false); got != "CrashLoopBackOff" {
		t.Errorf("got %q", got)
	}
	s = &manifest.PodStatus{Phase: manifest.PodPending, InitContainerStatuses: []manifest.ContainerStatus{exited("i", 0), running("j")},
		ContainerStatuses: []manifest.ContainerStatus{waiting("a", manifest.ReasonPodInitializing)}}
	if got := DisplayStatus(s, nil, false); got != "Init:1/2" {
		t.Errorf("got %q", got)
	}
	r := running("a")
	r.Ready = true
	s = &manifest.PodStatus{Phase: manifest.PodRunning, ContainerStatuses: []manifest.ContainerStatus{r}}
	if got := DisplayStatus(s, nil, false); got != "Running" {
		t.Errorf("got %q", got)
	}
}

func TestCRILogRoundTripAndRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c", "0.log")
	clock := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	w, err := OpenLog(p, 200, 3, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLogLine+10)
	if err := w.Copy("stdout", strings.NewReader("hello\nworld\n"+long+"\nno newline")); err != nil {
		t.Fatal(err)
	}
	if err := w.Copy("stderr", strings.NewReader("oops\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	files := LogFiles(p)
	if len(files) != 3 { // current + 2 rotated: MaxFiles bounds the count
		t.Fatalf("files = %v", files)
	}
	first, _ := os.ReadFile(files[len(files)-1])
	if !bytes.HasSuffix(first, []byte("2026-01-02T03:04:05.123456789Z stderr F oops\n")) || len(first) > 200 {
		t.Errorf("current file = %q", first)
	}
	// A bigger limit keeps everything; messages come back joined.
	p2 := filepath.Join(dir, "d", "0.log")
	w2, _ := OpenLog(p2, 10<<20, 5, nil)
	w2.Copy("stdout", strings.NewReader("hello\n"+long+"\nlast"))
	w2.Close()
	f, _ := os.Open(p2)
	defer f.Close()
	var out bytes.Buffer
	if err := WriteMessages(&out, f); err != nil {
		t.Fatal(err)
	}
	if want := "hello\n" + long + "\nlast\n"; out.String() != want {
		t.Errorf("messages differ: %d bytes, want %d", out.Len(), len(want))
	}
	raw, _ := os.ReadFile(p2)
	if !bytes.Contains(raw, []byte(" stdout P ")) {
		t.Error("no partial record for a long line")
	}
	if _, err := ParseLogLine([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestEventsRotate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := openEventLog(p)
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("m", 1000)
	n := 3 * maxEventsFile / 1000
	for i := 0; i < n; i++ {
		l.add(Event{Reason: "Unhealthy", Message: msg})
	}
	for _, f := range []string{p, p + ".1"} {
		if st, err := os.Stat(f); err != nil || st.Size() > maxEventsFile {
			t.Errorf("%s: %v", f, err)
		}
	}
	evs, err := ReadEvents(p)
	if err != nil || len(evs) == 0 || len(evs) >= n {
		t.Errorf("read %d of %d events: %v", len(evs), n, err)
	}
}

// kubelet's killContainer: the preStop hook's whole seconds come off the
// grace period, and SIGTERM always gets at least 2 s before SIGKILL.
func TestTermWindow(t *testing.T) {
	for _, c := range []struct{ grace, ran, want time.Duration }{
		{30 * time.Second, 0, 30 * time.Second},
		{30 * time.Second, 10500 * time.Millisecond, 20 * time.Second},
		{3 * time.Second, 3 * time.Second, 2 * time.Second}, // hook cut off at the grace period
		{5 * time.Second, 4 * time.Second, 2 * time.Second},
		{2 * time.Second, 0, 2 * time.Second},
	} {
		if got := termWindow(c.grace, c.ran); got != c.want {
			t.Errorf("termWindow(%s, %s) = %s, want %s", c.grace, c.ran, got, c.want)
		}
	}
}

func TestActiveDeadline(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	p := &manifest.Pod{}
	if _, ok := ActiveDeadline(p, start); ok {
		t.Error("a pod without activeDeadlineSeconds has a deadline")
	}
	d := int64(90)
	p.Spec.ActiveDeadlineSeconds = &d
	if at, ok := ActiveDeadline(p, start); !ok || !at.Equal(start.Add(90*time.Second)) {
		t.Errorf("deadline %v %v", at, ok)
	}
	if _, ok := ActiveDeadline(p, time.Time{}); ok {
		t.Error("a pod not started has a deadline")
	}
}

func startedSidecar(n string, ready bool) manifest.ContainerStatus {
	s := running(n)
	t := true
	s.Started, s.Ready = &t, ready
	return s
}

// getPhase with sidecars (kubelet_pods.go): a sidecar not yet started
// keeps the pod Pending, a running one counts as running, an exited or
// restarting one counts for nothing.
func TestPhaseSidecars(t *testing.T) {
	type S = []manifest.ContainerStatus
	A, N := manifest.RestartPolicyAlways, manifest.RestartPolicyNever
	sc := []bool{true, false}
	notStarted := running("s")
	for i, c := range []struct {
		p     manifest.RestartPolicy
		inits S
		apps  S
		final bool
		want  manifest.PodPhase
	}{
		{N, S{waiting("s", manifest.ReasonPodInitializing), waiting("i", manifest.ReasonPodInitializing)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{N, S{notStarted, waiting("i", manifest.ReasonPodInitializing)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{N, S{startedSidecar("s", true), running("i")}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodPending},
		{N, S{startedSidecar("s", true), exited("i", 0)}, S{running("a")}, false, manifest.PodRunning},
		// The app finished, the sidecar still runs: Running until it is stopped.
		{N, S{startedSidecar("s", true), exited("i", 0)}, S{exited("a", 0)}, false, manifest.PodRunning},
		// Stopped sidecar (exit 143) does not fail the pod: the app decides.
		{N, S{exited("s", 143), exited("i", 0)}, S{exited("a", 0)}, false, manifest.PodSucceeded},
		{N, S{exited("s", 0), exited("i", 0)}, S{exited("a", 3)}, false, manifest.PodFailed},
		{A, S{backingOff("s", 1), exited("i", 0)}, S{running("a")}, false, manifest.PodRunning},
		{N, S{startedSidecar("s", true), exited("i", 1)}, S{waiting("a", manifest.ReasonPodInitializing)}, false, manifest.PodFailed},
	} {
		if got := Phase(c.p, c.inits, c.apps, sc, c.final); got != c.want {
			t.Errorf("case %d: Phase = %s, want %s", i, got, c.want)
		}
	}
}

// AppsFinished: a pod whose app containers are done for good completes
// even though its sidecars would run forever.
func TestAppsFinished(t *testing.T) {
	type S = []manifest.ContainerStatus
	sc := []bool{true}
	side := S{startedSidecar("s", true)}
	for i, c := range []struct {
		p    manifest.RestartPolicy
		apps S
		want bool
	}{
		{manifest.RestartPolicyNever, S{exited("a", 0)}, true},
		{manifest.RestartPolicyNever, S{exited("a", 1)}, true},
		{manifest.RestartPolicyOnFailure, S{exited("a", 0)}, true},
		{manifest.RestartPolicyOnFailure, S{backingOff("a", 1)}, false},
		{manifest.RestartPolicyAlways, S{exited("a", 0)}, false},
		{manifest.RestartPolicyNever, S{exited("a", 0), running("b")}, false},
		{manifest.RestartPolicyNever, S{waiting("a", manifest.ReasonPodInitializing)}, false},
	} {
		if got := AppsFinished(c.p, side, c.apps, sc); got != c.want {
			t.Errorf("case %d: AppsFinished = %v, want %v", i, got, c.want)
		}
	}
	// A regular init container failed under Never: finished too.
	if !AppsFinished(manifest.RestartPolicyNever, S{startedSidecar("s", true), exited("i", 1)}, S{waiting("a", "")}, []bool{true, false}) {
		t.Error("failed init under Never: not finished")
	}
}

// Initialized needs the sidecars started; ContainersReady and Ready
// count the sidecars' readiness (kubelet's status/generate.go).
func TestConditionsSidecars(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	get := func(in ConditionInput) map[manifest.PodConditionType]manifest.PodCondition {
		m := map[manifest.PodConditionType]manifest.PodCondition{}
		for _, c := range Conditions(nil, in, t0) {
			m[c.Type] = c
		}
		return m
	}
	readyApp := running("a")
	readyApp.Ready = true
	sc := []bool{true, false}
	// Sidecar running, startup probe not passed: not initialized.
	m := get(ConditionInput{SandboxReady: true, Phase: manifest.PodPending, Sidecars: sc,
		Inits: []manifest.ContainerStatus{running("s"), waiting("i", "")}, Apps: []manifest.ContainerStatus{waiting("a", "")}})
	if c := m[manifest.PodInitialized]; c.Status != manifest.ConditionFalse || c.Message != "containers with incomplete status: [s i]" {
		t.Errorf("Initialized = %+v", c)
	}
	// Started sidecar, completed init: initialized; the unready sidecar
	// holds Ready back.
	m = get(ConditionInput{SandboxReady: true, Phase: manifest.PodRunning, Sidecars: sc,
		Inits: []manifest.ContainerStatus{startedSidecar("s", false), exited("i", 0)}, Apps: []manifest.ContainerStatus{readyApp}})
	if c := m[manifest.PodInitialized]; c.Status != manifest.ConditionTrue {
		t.Errorf("Initialized = %+v", c)
	}
	if c := m[manifest.PodReady]; c.Status != manifest.ConditionFalse || c.Message != "containers with unready status: [s]" {
		t.Errorf("Ready = %+v", c)
	}
	m = get(ConditionInput{SandboxReady: true, Phase: manifest.PodRunning, Sidecars: sc,
		Inits: []manifest.ContainerStatus{startedSidecar("s", true), exited("i", 0)}, Apps: []manifest.ContainerStatus{readyApp}})
	if c := m[manifest.ContainersReady]; c.Status != manifest.ConditionTrue {
		t.Errorf("ContainersReady = %+v", c)
	}
	// The sidecar restarts after the app started: still initialized.
	m = get(ConditionInput{SandboxReady: true, Phase: manifest.PodRunning, Sidecars: sc,
		Inits: []manifest.ContainerStatus{backingOff("s", 1), exited("i", 0)}, Apps: []manifest.ContainerStatus{readyApp}})
	if c := m[manifest.PodInitialized]; c.Status != manifest.ConditionTrue {
		t.Errorf("Initialized while the sidecar restarts = %+v", c)
	}
}

// kubectl's printPod with sidecars: a started sidecar does not hold the
// pod in Init and counts in READY; once initialized, RESTARTS counts the
// sidecars and app containers only.
func TestDisplaySidecars(t *testing.T) {
	sc := []bool{true, false}
	app := running("a")
	app.Ready = true
	init := exited("i", 0)
	init.RestartCount = 4
	side := startedSidecar("s", false)
	side.RestartCount = 1
	s := &manifest.PodStatus{Phase: manifest.PodRunning, InitContainerStatuses: []manifest.ContainerStatus{side, init},
		ContainerStatuses: []manifest.ContainerStatus{app},
		Conditions:        []manifest.PodCondition{{Type: manifest.PodInitialized, Status: manifest.ConditionTrue}}}
	if got := DisplayStatus(s, sc, false); got != "Running" {
		t.Errorf("status %q, want Running", got)
	}
	if r, n := ReadyCount(s, sc); r != 1 || n != 2 {
		t.Errorf("ready %d/%d, want 1/2 (the sidecar is not ready)", r, n)
	}
	if n, _ := Restarts(s, sc); n != 1 {
		t.Errorf("restarts %d, want 1 (the sidecar's; the init container's are not shown once initialized)", n)
	}
	s.InitContainerStatuses[0].Ready = true
	if r, n := ReadyCount(s, sc); r != 2 || n != 2 {
		t.Errorf("ready %d/%d, want 2/2", r, n)
	}
	// Not started yet: the pod is initializing.
	s = &manifest.PodStatus{Phase: manifest.PodPending, InitContainerStatuses: []manifest.ContainerStatus{running("s"), waiting("i", manifest.ReasonPodInitializing)},
		ContainerStatuses: []manifest.ContainerStatus{waiting("a", manifest.ReasonPodInitializing)}}
	if got := DisplayStatus(s, sc, false); got != "Init:0/2" {
		t.Errorf("status %q, want Init:0/2", got)
	}
	// Without the sidecar marks the same pod reads as initializing.
	s = &manifest.PodStatus{Phase: manifest.PodRunning, InitContainerStatuses: []manifest.ContainerStatus{side, init},
		ContainerStatuses: []manifest.ContainerStatus{app}}
	if got := DisplayStatus(s, nil, false); got != "Init:0/2" {
		t.Errorf("without sidecars: %q", got)
	}
	if got := DisplayStatus(s, sc, false); got != "Running" {
		t.Errorf("with sidecars: %q", got)
	}
}
