package supervisor

import (
	"os"
	"testing"

	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
)

// The liveness signal is the supervisor's flock: with it held the recorded
// status is shown, without it an unfinished pod is Unknown (readiness
// unknown, the rest as last recorded), a finished one keeps its phase.
func TestStatusUnknownWithoutSupervisor(t *testing.T) {
	dir := t.TempDir()
	sb := &pod.Sandbox{Name: "p", StateDir: dir}
	if Alive(dir) {
		t.Fatal("alive without a lock file")
	}
	rec := &Record{Status: manifest.PodStatus{
		Phase:             manifest.PodRunning,
		Conditions:        []manifest.PodCondition{{Type: manifest.PodReady, Status: manifest.ConditionTrue}},
		ContainerStatuses: []manifest.ContainerStatus{{Name: "c", Ready: true, RestartCount: 4}},
	}}
	if err := rec.save(dir); err != nil {
		t.Fatal(err)
	}
	lock, err := lockSupervisor(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockSupervisor(dir); err != errAlreadySupervised {
		t.Errorf("second supervisor: %v", err)
	}
	s, alive, err := Status(sb)
	if err != nil || !alive || s.Phase != manifest.PodRunning || !s.ContainerStatuses[0].Ready {
		t.Fatalf("with supervisor: %+v alive=%v err=%v", s, alive, err)
	}
	lock.Close() // the supervisor dies
	s, alive, err = Status(sb)
	if err != nil || alive || s.Phase != manifest.PodUnknown {
		t.Fatalf("without supervisor: phase %s alive=%v err=%v", s.Phase, alive, err)
	}
	if c := s.ContainerStatuses[0]; c.Ready || c.RestartCount != 4 {
		t.Errorf("container view: %+v", c)
	}
	if s.Conditions[0].Status != manifest.ConditionUnknown {
		t.Errorf("Ready condition: %+v", s.Conditions[0])
	}
	// The record itself is untouched.
	if r, _ := LoadRecord(dir); r.Status.Phase != manifest.PodRunning || !r.Status.ContainerStatuses[0].Ready {
		t.Errorf("record changed: %+v", r.Status)
	}
	rec.Final, rec.Status.Phase = true, manifest.PodSucceeded
	rec.save(dir)
	if s, _, _ := Status(sb); s.Phase != manifest.PodSucceeded {
		t.Errorf("finished pod: %s", s.Phase)
	}
	// Temp files of the atomic writes never linger.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != statusFile && e.Name() != lockFile {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvBackoff, "100ms,1s")
	t.Setenv(EnvLogMax, "4096,2")
	c, err := ConfigFromEnv(DefaultConfig())
	if err != nil || c.BackoffInitial.String() != "100ms" || c.BackoffMax.String() != "1s" || c.BackoffReset.String() != "2s" || c.LogMaxSize != 4096 || c.LogMaxFiles != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"1s", "2s,1s", "x,1s", "1s,2s,3s,4s"} {
		t.Setenv(EnvBackoff, bad)
		if _, err := ConfigFromEnv(DefaultConfig()); err == nil {
			t.Errorf("%s=%q accepted", EnvBackoff, bad)
		}
	}
}
