package supervisor

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// fakeHooks are probe and hook handlers: each attempt of the handler
// whose exec command is NAME is logged ("hook NAME") and answers what the
// test sends on ch[NAME] (the attempt waits for it: the test decides when
// and how it answers).
type fakeHooks struct {
	f  *fakeCtl
	ch map[string]chan bool
}

func (fh fakeHooks) Handler(t Target, h *manifest.ProbeHandler) (Handler, error) {
	name := h.Exec.Command[0]
	ch := fh.ch[name]
	return func(ctx context.Context) (bool, string) {
		fh.f.add("hook " + name)
		select {
		case ok := <-ch:
			return ok, "said the test"
		case <-ctx.Done():
			return false, ""
		}
	}, nil
}

func execHook(name string) *manifest.LifecycleHandler {
	return &manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{name}}}
}

// events are the reasons of the pod's events, in order.
func events(t *testing.T, d *daemon) []string {
	t.Helper()
	evs, err := ReadEvents(EventsPath(d.dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Reason)
	}
	return out
}

func TestLoopOOMKilled(t *testing.T) {
	t.Run("Always", func(t *testing.T) {
		f := newFakeCtl()
		d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: ctrs("a")})
		f.waitFor(t, "start a", 1)
		f.setOOM("a")
		f.exit(t, "a", 137)
		f.waitFor(t, "start a", 2)
		inLoop(t, d, func() {
			st := d.byName["a"].st
			if lt := st.LastTerminationState.Terminated; lt == nil || lt.Reason != manifest.ReasonOOMKilled || lt.ExitCode != 137 || st.RestartCount != 1 {
				t.Errorf("lastState %+v, restartCount %d: want OOMKilled 137, restarted once", lt, st.RestartCount)
			}
		})
		if !slices.Contains(events(t, d), "Warning OOMKilled") {
			t.Errorf("no OOMKilled event: %q", events(t, d))
		}
	})
	t.Run("Never", func(t *testing.T) {
		f := newFakeCtl()
		d := runDaemon(t, f, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyNever, Containers: ctrs("a")})
		f.waitFor(t, "start a", 1)
		f.setOOM("a")
		f.exit(t, "a", 137)
		waitDone(t, d)
		st := d.rec.Status.ContainerStatuses[0]
		if tt := st.State.Terminated; tt == nil || tt.Reason != manifest.ReasonOOMKilled || d.rec.Status.Phase != manifest.PodFailed {
			t.Errorf("state %+v, phase %s: want OOMKilled, Failed", tt, d.rec.Status.Phase)
		}
	})
}

func TestLoopPostStartHookFails(t *testing.T) {
	f := newFakeCtl()
	hooks := fakeHooks{f, map[string]chan bool{"post": make(chan bool)}}
	app := ctrs("a")
	app[0].Lifecycle = &manifest.Lifecycle{PostStart: execHook("post")}
	d := runDaemonWith(t, f, hooks, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: app})
	f.waitFor(t, "hook post", 1)
	hooks.ch["post"] <- false
	// The failed hook kills the container; it is restarted per policy
	// and its hook runs again.
	f.waitFor(t, "TERM a", 1)
	f.waitFor(t, "hook post", 2)
	inLoop(t, d, func() {
		if n := d.byName["a"].st.RestartCount; n != 1 {
			t.Errorf("restartCount %d, want 1", n)
		}
	})
	evs := events(t, d)
	if !slices.Contains(evs, "Warning FailedPostStartHook") || !slices.Contains(evs, "Normal FailedPostStartHook") {
		t.Errorf("events %q: want the hook's failure and the kill", evs)
	}
}

func TestLoopPostStartGatesSidecar(t *testing.T) {
	f := newFakeCtl()
	hooks := fakeHooks{f, map[string]chan bool{"post": make(chan bool)}}
	side := sidecars("s")
	side[0].Lifecycle = &manifest.Lifecycle{PostStart: execHook("post")}
	d := runDaemonWith(t, f, hooks, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways,
		InitContainers: append(side, ctrs("i")...), Containers: ctrs("a")})
	f.waitFor(t, "hook post", 1)
	inLoop(t, d, func() {})
	if n := count(f.entries(), "start i"); n != 0 {
		t.Fatalf("the next init container started before the sidecar's postStart hook ended: %q", f.entries())
	}
	hooks.ch["post"] <- true
	f.waitFor(t, "start i", 1)
}

func TestLoopPreStopBeforeTerm(t *testing.T) {
	f := newFakeCtl()
	hooks := fakeHooks{f, map[string]chan bool{"pre": make(chan bool)}}
	app := ctrs("a")
	app[0].Lifecycle = &manifest.Lifecycle{PreStop: execHook("pre")}
	d := runDaemonWith(t, f, hooks, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: app})
	f.waitFor(t, "start a", 1)
	reply := make(chan error, 1)
	d.post(func() { d.stop(time.Hour, reply) })
	f.waitFor(t, "hook pre", 1)
	inLoop(t, d, func() {})
	if count(f.entries(), "TERM a") != 0 {
		t.Fatalf("SIGTERM before the preStop hook ended: %q", f.entries())
	}
	hooks.ch["pre"] <- true
	waitDone(t, d)
	if err := <-reply; err != nil {
		t.Fatal(err)
	}
	log := f.entries()
	if i, j := slices.Index(log, "hook pre"), slices.Index(log, "TERM a"); j < i {
		t.Errorf("log %q: want the preStop hook, then SIGTERM", log)
	}
}

// TestLoopAdopt: a supervisor dies (its loop stops) and a new one
// recovers the pod from its record: it watches the live run without
// starting it again, reports a run that ended meanwhile as lost, and
// resumes a back-off where it was.
func TestLoopAdopt(t *testing.T) {
	f := newFakeCtl()
	sb := testSandbox(t, manifest.PodSpec{RestartPolicy: manifest.RestartPolicyAlways, Containers: ctrs("a", "b", "c")})
	cfg := DefaultConfig()
	cfg.BackoffInitial, cfg.BackoffMax, cfg.BackoffReset = time.Hour, time.Hour, 10*time.Hour
	d1 := startDaemon(t, f, nil, sb, cfg, nil, testNow)
	f.waitFor(t, "start c", 1)
	// b's second exit waits out an hour of back-off.
	f.exit(t, "b", 1)
	f.waitFor(t, "start b", 2)
	f.exit(t, "b", 1)
	f.waitFor(t, "remove b", 2)
	inLoop(t, d1, func() {
		if _, ok := d1.rec.RestartAt["b"]; !ok {
			t.Fatal("b's restart is not pending")
		}
	})
	// The supervisor dies: its loop never runs again.
	d1.post(func() { select {} })
	// c ends while the pod has no supervisor.
	f.exit(t, "c", 0)
	rec, err := LoadRecord(sb.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	// Recovered two hours later: b's back-off is over.
	d2 := startDaemon(t, f, nil, sb, rec.Config, rec, testNow.Add(2*time.Hour))
	stopAtEnd(t, d2)
	f.waitFor(t, "adopt a", 1)
	f.waitFor(t, "start b", 3)
	f.waitFor(t, "start c", 2)
	inLoop(t, d2, func() {
		if n := count(f.entries(), "start a"); n != 1 {
			t.Errorf("a started %d times, want once (adopted)", n)
		}
		if n := d2.byName["b"].st.RestartCount; n != 2 {
			t.Errorf("b restartCount %d, want 2", n)
		}
		st := d2.byName["c"].st
		if lt := st.LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" || st.RestartCount != 1 {
			t.Errorf("c lastState %+v restartCount %d: want lost, restarted once", lt, st.RestartCount)
		}
	})
	if !slices.Contains(events(t, d2), "Warning ContainerLost") {
		t.Errorf("no ContainerLost event: %q", events(t, d2))
	}
	// The adopted run's end is seen (its status is unknown: not our
	// child) and it is restarted.
	f.exit(t, "a", 0)
	f.waitFor(t, "start a", 2)
	inLoop(t, d2, func() {
		st := d2.byName["a"].st
		if lt := st.LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" || st.RestartCount != 1 {
			t.Errorf("a lastState %+v restartCount %d: want unknown, restarted once", lt, st.RestartCount)
		}
	})
}
