package integration

// The pod supervisor through the binary: probes, restartPolicy and
// back-off, phases, OOM, recovery after kill -9, stop with preStop and
// grace, init containers. Back-off is shortened with PODRUN_POD_BACKOFF;
// probe periods are the manifests' (1 s).

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/pod/manifest"
)

// svEnv is a harness with an image store holding busybox:test and a
// private pod data dir.
type svEnv struct {
	*H
	store, data string
	env         []string
	pods        []string
}

func newSvEnv(t *testing.T, env ...string) *svEnv {
	h := New(t)
	tmp := t.TempDir()
	e := &svEnv{H: h, store: filepath.Join(tmp, "store"), data: filepath.Join(tmp, "data"),
		env: append([]string{"PODRUN_POD_BACKOFF=200ms,1s"}, env...)}
	archive := filepath.Join(tmp, "busybox.tar")
	testimage.OCIArchive(t, archive, "busybox:test")
	e.Must("image", "import", "--store", e.store, "--name", "busybox:test", archive)
	t.Cleanup(e.cleanup)
	return e
}

// pod runs `podrun pod --store S --data-dir D ARGS...` with the env.
func (e *svEnv) pod(args ...string) Result {
	e.t.Helper()
	cmd := e.Cmd(append([]string{"pod", "--store", e.store, "--data-dir", e.data}, args...)...)
	cmd.Env = append(os.Environ(), e.env...)
	return e.RunCmd(cmd)
}

func (e *svEnv) mustPod(args ...string) Result {
	e.t.Helper()
	r := e.pod(args...)
	if r.Code != 0 {
		e.t.Fatalf("podrun pod %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// run starts a pod from a YAML manifest (detached).
func (e *svEnv) run(name, yaml string) {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), name+".yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.pods = append(e.pods, name)
	e.mustPod("run", "-d", "-f", f)
}

func (e *svEnv) cleanup() {
	for _, p := range e.pods {
		if r := e.pod("rm", "-f", p); r.Code != 0 && !strings.Contains(r.Stderr, "does not exist") {
			e.t.Errorf("pod rm -f %s: %s", p, r.Stderr)
		}
	}
	os.Remove(filepath.Join(e.Root, "pods"))
	// No supervisor or fd holder may outlive its pod.
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if strings.Contains(string(cl), e.Root) && strings.Contains(string(cl), "supervise") {
			e.t.Errorf("supervisor process left: %s %q", ent.Name(), strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
}

// status returns `pod status NAME -o json`.
func (e *svEnv) status(name string) manifest.PodStatus {
	e.t.Helper()
	r := e.mustPod("status", "-o", "json", name)
	var s manifest.PodStatus
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		e.t.Fatalf("status: %v\n%s", err, r.Stdout)
	}
	return s
}

// waitStatus polls the status until cond holds (60 s bound), else fails
// with the last status and the events.
func (e *svEnv) waitStatus(name, what string, cond func(s manifest.PodStatus) bool) manifest.PodStatus {
	e.t.Helper()
	var s manifest.PodStatus
	if !waitFor(60*time.Second, func() bool { s = e.status(name); return cond(s) }) {
		b, _ := json.MarshalIndent(s, "", "  ")
		e.t.Fatalf("pod %s: %s never happened; status:\n%s\nevents:\n%s", name, what, b, e.pod("events", name).Stdout)
	}
	return s
}

func ctrStatus(s manifest.PodStatus, name string) manifest.ContainerStatus {
	for _, c := range append(append([]manifest.ContainerStatus{}, s.InitContainerStatuses...), s.ContainerStatuses...) {
		if c.Name == name {
			return c
		}
	}
	return manifest.ContainerStatus{}
}

func condStatus(s manifest.PodStatus, t manifest.PodConditionType) manifest.ConditionStatus {
	if c := podCondition(&s, t); c != nil {
		return c.Status
	}
	return ""
}

// podCondition is the condition of type t, or nil. (The integration test
// binary stays pure Go, for the VM runs: it must not import supervisor,
// which links the pause's cgo constructor.)
func podCondition(s *manifest.PodStatus, t manifest.PodConditionType) *manifest.PodCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// events returns the pod's events as JSON objects.
func (e *svEnv) events(name string) []map[string]any {
	e.t.Helper()
	r := e.mustPod("events", "-o", "json", name)
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			e.t.Fatalf("event %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func countEvents(evs []map[string]any, reason, substr string) int {
	n := 0
	for _, ev := range evs {
		if ev["reason"] == reason && strings.Contains(fmt.Sprint(ev["message"]), substr) {
			n++
		}
	}
	return n
}

// loop is a container command that exits 0 on SIGTERM at once.
const loop = `["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]`

func podYAML(name, policy, grace, body string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  restartPolicy: %s\n  terminationGracePeriodSeconds: %s\n%s", name, policy, grace, body)
}

// ctlPodYAML is podYAML with a hostPath volume "ctl" of dir, which the
// containers that talk with the test mount at /ctl.
func ctlPodYAML(name, policy, grace, dir, body string) string {
	return podYAML(name, policy, grace, "  volumes:\n  - name: ctl\n    hostPath: {path: "+dir+", type: Directory}\n"+body)
}

// A failing liveness probe of each handler type restarts its container
// (restartCount grows, the event names the probe), while a sibling whose
// probe of the same type passes is left alone.
func TestPodLivenessRestarts(t *testing.T) {
	for _, c := range []struct{ kind, good, bad string }{
		{"exec", `exec: {command: ["true"]}`, `exec: {command: ["false"]}`},
		{"httpGet", `httpGet: {path: /, port: 8080}`, `httpGet: {path: /, port: 8081}`},
		{"tcpSocket", `tcpSocket: {port: 8080}`, `tcpSocket: {port: 8082}`},
	} {
		t.Run(c.kind, func(t *testing.T) {
			e := newSvEnv(t)
			name := "live-" + strings.ToLower(c.kind)
			e.run(name, podYAML(name, "Always", "2", fmt.Sprintf(`  containers:
  - name: good
    image: busybox:test
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    livenessProbe:
      %s
      periodSeconds: 1
      failureThreshold: 3 # httpd may not listen yet at the first probe
  - name: bad
    image: busybox:test
    command: %s
    livenessProbe:
      %s
      periodSeconds: 1
      failureThreshold: 1
`, c.good, loop, c.bad)))
			s := e.waitStatus(name, "2 liveness restarts of bad", func(s manifest.PodStatus) bool { return ctrStatus(s, "bad").RestartCount >= 2 })
			if n := ctrStatus(s, "good").RestartCount; n != 0 {
				t.Errorf("good container restarted %d times", n)
			}
			evs := e.events(name)
			if countEvents(evs, "Killing", "Container bad failed liveness probe, will be restarted") < 2 {
				t.Errorf("no liveness kill events: %v", evs)
			}
			if countEvents(evs, "Killing", "Container good") != 0 {
				t.Errorf("good container killed: %v", evs)
			}
			if s.Phase != manifest.PodRunning {
				t.Errorf("phase %s, want Running", s.Phase)
			}
		})
	}
}

// Readiness follows a file the test controls (a hostPath volume), both
// ways; Ready and ContainersReady follow, the container is not restarted.
func TestPodReadinessFlips(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("ready", ctlPodYAML("ready", "Always", "2", dir, fmt.Sprintf(`  containers:
  - name: app
    image: busybox:test
    command: %s
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    readinessProbe:
      exec: {command: ["test", "-f", "/ctl/ready"]}
      periodSeconds: 1
      failureThreshold: 1
`, loop)))
	isReady := func(want bool) func(manifest.PodStatus) bool {
		ws := manifest.ConditionFalse
		if want {
			ws = manifest.ConditionTrue
		}
		return func(s manifest.PodStatus) bool {
			return ctrStatus(s, "app").Ready == want && condStatus(s, manifest.PodReady) == ws &&
				condStatus(s, manifest.ContainersReady) == ws && ctrStatus(s, "app").State.Running != nil
		}
	}
	// Not ready before the first success (readiness starts failed).
	s := e.waitStatus("ready", "running, not ready", isReady(false))
	if c := ctrStatus(s, "app"); c.Started == nil || !*c.Started {
		t.Errorf("started = %v, want true (no startup probe)", c.Started)
	}
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
	e.waitStatus("ready", "Ready", isReady(true))
	if r := e.mustPod("ls"); !regexp.MustCompile(`(?m)^ready\s+1/1\s+Running\s+0\s`).MatchString(r.Stdout) {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
	os.Remove(filepath.Join(dir, "ready"))
	s = e.waitStatus("ready", "not Ready again", isReady(false))
	if n := ctrStatus(s, "app").RestartCount; n != 0 {
		t.Errorf("readiness failure restarted the container (%d)", n)
	}
	e.mustPod("wait", "--for", "condition=Ready=False", "--timeout", "5s", "ready")
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
	e.mustPod("wait", "--for", "condition=Ready", "--timeout", "60s", "ready")
}

// While the startup probe has not succeeded, liveness does not run (the
// failing liveness kills nothing); once startup succeeds it does.
func TestPodStartupProbeGatesLiveness(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("startup", ctlPodYAML("startup", "Always", "2", dir, fmt.Sprintf(`  containers:
  - name: app
    image: busybox:test
    command: %s
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    startupProbe:
      exec: {command: ["test", "-f", "/ctl/started"]}
      periodSeconds: 1
      failureThreshold: 1000
    livenessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 1
`, loop)))
	if !waitFor(60*time.Second, func() bool { return countEvents(e.events("startup"), "Unhealthy", "Startup probe failed") >= 3 }) {
		t.Fatalf("no startup probe failures: %v", e.events("startup"))
	}
	s := e.status("startup")
	c := ctrStatus(s, "app")
	if c.RestartCount != 0 || c.Started == nil || *c.Started || c.State.Running == nil {
		t.Fatalf("before startup succeeded: %+v", c)
	}
	if n := countEvents(e.events("startup"), "Unhealthy", "Liveness"); n != 0 {
		t.Fatalf("liveness probed %d times before startup succeeded", n)
	}
	os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)
	e.waitStatus("startup", "liveness restart after startup", func(s manifest.PodStatus) bool { return ctrStatus(s, "app").RestartCount >= 1 })
	if countEvents(e.events("startup"), "Killing", "failed liveness probe") == 0 {
		t.Error("restart was not a liveness kill")
	}
}

// restartPolicy and the phases they lead to.
func TestPodRestartPolicyPhases(t *testing.T) {
	e := newSvEnv(t)
	one := func(name, policy, cmd string) {
		e.run(name, podYAML(name, policy, "2", fmt.Sprintf("  containers:\n  - name: c\n    image: busybox:test\n    command: %s\n", cmd)))
	}
	one("onfail-1", "OnFailure", `["sh", "-c", "exit 1"]`)
	one("onfail-0", "OnFailure", `["true"]`)
	one("never-1", "Never", `["sh", "-c", "exit 3"]`)
	one("never-0", "Never", `["true"]`)
	one("always-0", "Always", `["true"]`)

	s := e.waitStatus("onfail-1", "restarts", func(s manifest.PodStatus) bool { return ctrStatus(s, "c").RestartCount >= 2 })
	if s.Phase != manifest.PodRunning {
		t.Errorf("OnFailure exit 1: phase %s, want Running", s.Phase)
	}
	if lt := ctrStatus(s, "c").LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
		t.Errorf("OnFailure exit 1: lastState %+v", lt)
	}
	s = e.waitStatus("onfail-0", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	if c := ctrStatus(s, "c"); c.RestartCount != 0 || c.State.Terminated == nil || c.State.Terminated.Reason != "Completed" {
		t.Errorf("OnFailure exit 0: %+v", c)
	}
	s = e.waitStatus("never-1", "Failed", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodFailed })
	if c := ctrStatus(s, "c"); c.RestartCount != 0 || c.State.Terminated == nil || c.State.Terminated.ExitCode != 3 {
		t.Errorf("Never exit 3: %+v", c)
	}
	e.waitStatus("never-0", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	e.mustPod("wait", "--for", "phase=Succeeded", "--timeout", "5s", "never-0")
	if r := e.pod("wait", "--for", "phase=Succeeded", "--timeout", "5s", "never-1"); r.Code == 0 {
		t.Error("wait for Succeeded of a Failed pod succeeded")
	}
	s = e.waitStatus("always-0", "restarts", func(s manifest.PodStatus) bool { return ctrStatus(s, "c").RestartCount >= 2 })
	if s.Phase != manifest.PodRunning {
		t.Errorf("Always exit 0: phase %s, want Running", s.Phase)
	}
	// A terminal phase stays: nothing restarts a finished pod.
	if s := e.status("never-1"); s.Phase != manifest.PodFailed || condStatus(s, manifest.PodReady) != manifest.ConditionFalse {
		t.Errorf("Never pod later: %s", s.Phase)
	}
	// kubelet's status/generate.go: a terminal pod's Ready and
	// ContainersReady are False with reason PodFailed or PodCompleted.
	for pod, want := range map[string]string{"never-1": "PodFailed", "never-0": "PodCompleted", "onfail-0": "PodCompleted"} {
		s := e.status(pod)
		for _, c := range s.Conditions {
			if (c.Type == manifest.PodReady || c.Type == manifest.ContainersReady) && (c.Status != manifest.ConditionFalse || c.Reason != want) {
				t.Errorf("%s (%s): condition %s = %s/%s, want False/%s", pod, s.Phase, c.Type, c.Status, c.Reason, want)
			}
		}
	}
}

// Back-off: the delays between restarts double from the initial value and
// stop at the cap, and the container waits in CrashLoopBackOff meanwhile.
func TestPodBackoffGrowsAndCaps(t *testing.T) {
	e := newSvEnv(t, "PODRUN_POD_BACKOFF=100ms,800ms,10m") // no reset: a slow host must not reset the delays
	e.run("crash", podYAML("crash", "Always", "2", "  containers:\n  - name: c\n    image: busybox:test\n    command: [\"sh\", \"-c\", \"echo run; exit 2\"]\n"))
	e.waitStatus("crash", "6 restarts", func(s manifest.PodStatus) bool { return ctrStatus(s, "c").RestartCount >= 6 })
	var delays []string
	for _, ev := range e.events("crash") {
		if ev["reason"] == "BackOff" {
			m := regexp.MustCompile(`Back-off (\S+) restarting`).FindStringSubmatch(fmt.Sprint(ev["message"]))
			if m != nil {
				delays = append(delays, m[1])
			}
		}
	}
	want := []string{"100ms", "200ms", "400ms", "800ms", "800ms"}
	if len(delays) < len(want) {
		t.Fatalf("back-off delays %v, want %v...", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("back-off delays %v, want %v...", delays, want)
		}
	}
	// The first restart is immediate (kubelet), the next ones back off.
	e.waitStatus("crash", "CrashLoopBackOff", func(s manifest.PodStatus) bool {
		w := ctrStatus(s, "c").State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff" && strings.Contains(w.Message, "restarting failed container=c pod=crash_default(")
	})
	// The container keeps crashing and restarting: ls shows the back-off
	// whenever it catches the container waiting, which is most of the time.
	var ls string
	if !waitFor(10*time.Second, func() bool {
		ls = e.mustPod("ls").Stdout
		return strings.Contains(ls, "CrashLoopBackOff")
	}) {
		t.Errorf("pod ls does not show CrashLoopBackOff:\n%s", ls)
	}
	// Logs of the current and the previous run.
	if r := e.mustPod("logs", "--previous", "crash"); r.Stdout != "run\n" {
		t.Errorf("logs --previous = %q", r.Stdout)
	}
}

// A container over its memory limit is OOM-killed and reported so.
func TestPodOOMKilled(t *testing.T) {
	e := newSvEnv(t)
	e.run("oom", podYAML("oom", "Never", "2", `  containers:
  - name: hog
    image: busybox:test
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=160M", "count=1"]
    resources:
      limits: {memory: 32Mi}
`))
	s := e.waitStatus("oom", "Failed", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodFailed })
	term := ctrStatus(s, "hog").State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("terminated = %+v, want OOMKilled 137", term)
	}
	if countEvents(e.events("oom"), "OOMKilled", "hog") == 0 {
		t.Error("no OOMKilled event")
	}
}

// kill -9 of the supervisor: the containers keep running, the pod is
// Unknown; pod recover adopts them (same pids, counts kept), output
// written meanwhile reaches the log, and restarts go on.
func TestPodSupervisorRecovery(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("rec", ctlPodYAML("rec", "Always", "2", dir, `  containers:
  - name: talker
    image: busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done"]
  - name: crasher
    image: busybox:test
    command: ["sh", "-c", "sleep 0.3; exit 1"]
  - name: quitter
    image: busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; while [ ! -f /ctl/quit ]; do sleep 0.05; done; rm /ctl/quit; exit 3"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	s := e.waitStatus("rec", "crasher restarted", func(s manifest.PodStatus) bool { return ctrStatus(s, "crasher").RestartCount >= 2 })
	talkerID := ctrStatus(s, "talker").ContainerID
	rec := readRecord(t, filepath.Join(e.Root, "pods", "rec"))
	talkerPid, quitterPid := rec.Runs["talker"].Pid, rec.Runs["quitter"].Pid
	if talkerPid == 0 || quitterPid == 0 || rec.SupervisorPid == 0 {
		t.Fatalf("record: %+v", rec)
	}
	// The supervisor forks exec probes into containers: it must run from
	// the sealed read-only view, not the host binary (CVE-2019-5736).
	assertSealedExe(t, rec.SupervisorPid)
	e.killSupervisor("rec")
	before := ctrStatus(e.status("rec"), "crasher").RestartCount
	// The quitter exits while no supervisor is its parent.
	os.WriteFile(filepath.Join(dir, "quit"), nil, 0o644)
	if !waitFor(30*time.Second, func() bool { return !running(quitterPid) }) {
		t.Fatal("quitter did not exit")
	}
	// Output keeps flowing into the pipe while nobody copies it: the
	// talker must not die of SIGPIPE (the fd holder keeps the pipe).
	time.Sleep(500 * time.Millisecond)
	if !running(talkerPid) {
		t.Fatal("talker died without its supervisor")
	}
	if r := e.mustPod("ls"); !strings.Contains(r.Stdout, "Unknown") {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
	e.mustPod("recover", "rec")
	s = e.waitStatus("rec", "Running and counting again", func(s manifest.PodStatus) bool {
		return s.Phase == manifest.PodRunning && ctrStatus(s, "crasher").RestartCount > before
	})
	if ctrStatus(s, "talker").ContainerID != talkerID || ctrStatus(s, "talker").RestartCount != 0 {
		t.Errorf("talker was restarted: %+v", ctrStatus(s, "talker"))
	}
	if !running(talkerPid) {
		t.Error("talker gone after recovery")
	}
	// The log goes on across the gap, in order. What the killed
	// supervisor had read from the pipe but not yet written (one read,
	// typically the line in flight) is lost; the rest, written while no
	// supervisor ran, was kept in the pipe and is there.
	logs := e.mustPod("logs", "-c", "talker", "rec").Stdout
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	gaps, prev := 0, 0
	for i, l := range lines {
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil || n <= prev {
			t.Fatalf("log line %d = %q after line %d", i+1, l, prev)
		}
		if n != prev+1 {
			gaps++
		}
		prev = n
	}
	if gaps > 1 || len(lines) < 20 {
		t.Errorf("%d gaps in %d lines of the talker's log", gaps, len(lines))
	}
	evs := e.events("rec")
	if countEvents(evs, "Recovered", "") != 1 {
		t.Error("no Recovered event")
	}
	// The quitter ended while no supervisor was its parent: its exit
	// code is unknowable, and said so (kubelet's lost container); it is
	// restarted like any exited container.
	if countEvents(evs, "ContainerLost", "quitter") != 1 {
		t.Errorf("the quitter's exit during the gap is not reported: %v", evs)
	}
	s = e.waitStatus("rec", "quitter restarted", func(s manifest.PodStatus) bool { return ctrStatus(s, "quitter").RestartCount >= 1 })
	if lt := ctrStatus(s, "quitter").LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" || lt.ExitCode != 137 {
		t.Errorf("quitter lastState: %+v", lt)
	}
	// Killed again: the next command that needs a supervisor recovers it.
	e.killSupervisor("rec")
	e.mustPod("wait", "--for", "phase=Running", "--timeout", "30s", "rec")
	// And once more: pod stop recovers the pod to stop it properly.
	e.killSupervisor("rec")
	e.mustPod("stop", "--timeout", "1", "rec")
	if s := e.status("rec"); s.Phase != manifest.PodSucceeded && s.Phase != manifest.PodFailed {
		t.Errorf("after stop of a pod without supervisor: phase %s", s.Phase)
	}
	if running(talkerPid) {
		t.Errorf("talker %d still runs after stop", talkerPid)
	}
}

type svRecord struct {
	SupervisorPid int `json:"supervisorPid"`
	Runs          map[string]struct {
		Pid int `json:"pid"`
	} `json:"runs"`
}

// killSupervisor kill -9s pod name's supervisor and waits until the pod
// shows Unknown.
func (e *svEnv) killSupervisor(name string) {
	e.t.Helper()
	rec := readRecord(e.t, filepath.Join(e.Root, "pods", name))
	if err := syscall.Kill(rec.SupervisorPid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return e.status(name).Phase == manifest.PodUnknown }) {
		e.t.Fatalf("pod %s not Unknown after its supervisor was killed", name)
	}
}

func readRecord(t *testing.T, dir string) svRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r svRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// pod stop runs preStop first, then SIGTERM; a container ignoring SIGTERM
// is killed once the grace period is over, one handling it exits at once.
func TestPodStopPreStopAndGrace(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("stop", ctlPodYAML("stop", "Always", "3", dir, `  containers:
  - name: stubborn
    image: busybox:test
    command: ["sh", "-c", "trap '' TERM; touch /ctl/stubborn; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop > /ctl/prestop"]}
  - name: polite
    image: busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /ctl/polite; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	e.waitStatus("stop", "Running", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodRunning })
	// Both shells have set their SIGTERM disposition (a PID 1 without a
	// handler would ignore SIGTERM).
	if !waitFor(30*time.Second, func() bool {
		_, e1 := os.Stat(filepath.Join(dir, "stubborn"))
		_, e2 := os.Stat(filepath.Join(dir, "polite"))
		return e1 == nil && e2 == nil
	}) {
		t.Fatal("containers did not start their loops")
	}
	start := time.Now()
	e.mustPod("stop", "stop")
	took := time.Since(start)
	if b, err := os.ReadFile(filepath.Join(dir, "prestop")); err != nil || string(b) != "prestop\n" {
		t.Errorf("preStop did not run: %q, %v", b, err)
	}
	s := e.status("stop")
	st, po := ctrStatus(s, "stubborn").State.Terminated, ctrStatus(s, "polite").State.Terminated
	if st == nil || st.ExitCode != 137 || po == nil || po.ExitCode != 0 {
		t.Fatalf("after stop: stubborn %+v, polite %+v", st, po)
	}
	if took < 3*time.Second {
		t.Errorf("stop took %s, less than the 3 s grace period of a container ignoring SIGTERM", took)
	}
	if s.Phase != manifest.PodFailed {
		t.Errorf("phase after stop = %s, want Failed (a container was killed)", s.Phase)
	}
	if condStatus(s, manifest.PodReadyToStartContainers) != manifest.ConditionFalse {
		t.Error("sandbox still ready after stop")
	}
}

// Init containers run one by one in order before the app containers; a
// failing one (Never) fails the pod and the app containers never start.
func TestPodInitContainers(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("init", ctlPodYAML("init", "Always", "2", dir, `  initContainers:
  - name: one
    image: busybox:test
    command: ["sh", "-c", "sleep 0.3; echo one >> /ctl/order"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  - name: two
    image: busybox:test
    command: ["sh", "-c", "echo two >> /ctl/order"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  containers:
  - name: app
    image: busybox:test
    command: ["sh", "-c", "echo app >> /ctl/order; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	s := e.waitStatus("init", "Running", func(s manifest.PodStatus) bool { return ctrStatus(s, "app").State.Running != nil })
	// Running is recorded once the app is started, maybe before its
	// shell wrote its line.
	var b []byte
	waitFor(10*time.Second, func() bool {
		b, _ = os.ReadFile(filepath.Join(dir, "order"))
		return strings.Count(string(b), "\n") >= 3
	})
	if string(b) != "one\ntwo\napp\n" {
		t.Errorf("order = %q", b)
	}
	if condStatus(s, manifest.PodInitialized) != manifest.ConditionTrue {
		t.Errorf("Initialized = %s", condStatus(s, manifest.PodInitialized))
	}

	dir2 := t.TempDir()
	e.run("initfail", ctlPodYAML("initfail", "Never", "2", dir2, `  initContainers:
  - name: bad
    image: busybox:test
    command: ["sh", "-c", "exit 7"]
  containers:
  - name: app
    image: busybox:test
    command: ["sh", "-c", "echo app > /ctl/app"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	s = e.waitStatus("initfail", "Failed", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodFailed })
	if c := ctrStatus(s, "app"); c.State.Waiting == nil || c.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("app after a failed init: %+v", c.State)
	}
	if t7 := ctrStatus(s, "bad").State.Terminated; t7 == nil || t7.ExitCode != 7 {
		t.Errorf("bad init: %+v", ctrStatus(s, "bad").State)
	}
	if _, err := os.Stat(filepath.Join(dir2, "app")); err == nil {
		t.Error("the app container ran after its init container failed")
	}
	if r := e.mustPod("ls"); !regexp.MustCompile(`(?m)^initfail\s+0/1\s+Init:Error\s`).MatchString(r.Stdout) {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
}

// Container logs are bounded: with PODRUN_POD_LOG_MAX=4096,3 a chatty
// container leaves at most 3 files of about 4 KiB, and pod logs prints the
// newest lines, in order, up to the last one.
func TestPodLogRotation(t *testing.T) {
	e := newSvEnv(t, "PODRUN_POD_LOG_MAX=4096,3")
	e.run("chatty", podYAML("chatty", "Never", "2", `  containers:
  - name: c
    image: busybox:test
    command: ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; done"]
`))
	e.waitStatus("chatty", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	var sb struct {
		DataDir string `json:"dataDir"`
	}
	b, err := os.ReadFile(filepath.Join(e.Root, "pods", "chatty", "pod.json"))
	if err != nil || json.Unmarshal(b, &sb) != nil {
		t.Fatalf("pod.json: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(sb.DataDir, "logs", "c", "0.log*"))
	if len(files) != 3 {
		t.Errorf("log files %v, want 3", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > 4096 {
			t.Errorf("%s: %v bytes (limit 4096)", f, st.Size())
		}
	}
	out := strings.Split(strings.TrimSpace(e.mustPod("logs", "chatty").Stdout), "\n")
	first, _ := strconv.Atoi(strings.Fields(out[0])[1])
	for i, l := range out {
		if !strings.HasPrefix(l, fmt.Sprintf("line %d ", first+i)) {
			t.Fatalf("logs line %d = %q, want line %d", i, l, first+i)
		}
	}
	if !strings.HasPrefix(out[len(out)-1], "line 2000 ") || first == 1 {
		t.Errorf("logs from line %d to %q", first, out[len(out)-1])
	}
}

// postStart runs after the start; a failing one kills the container, which
// is restarted per restartPolicy.
func TestPodPostStart(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("hooks", ctlPodYAML("hooks", "Always", "2", dir, fmt.Sprintf(`  containers:
  - name: ok
    image: busybox:test
    command: %s
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo poststart > /ctl/poststart"]}
  - name: failing
    image: busybox:test
    command: %s
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "exit 1"]}
`, loop, loop)))
	s := e.waitStatus("hooks", "failing restarted", func(s manifest.PodStatus) bool { return ctrStatus(s, "failing").RestartCount >= 1 })
	if ctrStatus(s, "ok").RestartCount != 0 {
		t.Errorf("ok restarted: %+v", ctrStatus(s, "ok"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "poststart")); err != nil || string(b) != "poststart\n" {
		t.Errorf("postStart of ok: %q %v", b, err)
	}
	if countEvents(e.events("hooks"), "FailedPostStartHook", "") == 0 {
		t.Error("no FailedPostStartHook event")
	}
}

// The supervisor's commands: output formats and one-line errors.
func TestPodSupervisorCLI(t *testing.T) {
	e := newSvEnv(t)
	e.run("cli", podYAML("cli", "Always", "2", fmt.Sprintf("  containers:\n  - name: a\n    image: busybox:test\n    command: [\"sh\", \"-c\", \"echo hello from a; %s\"]\n  - name: b\n    image: busybox:test\n    command: %s\n",
		"trap 'exit 0' TERM; while :; do sleep 0.1; done", loop)))
	e.mustPod("wait", "--for", "condition=Ready", "--timeout", "60s", "cli")
	if r := e.mustPod("status", "-o", "yaml", "cli"); !strings.Contains(r.Stdout, "phase: Running") || !strings.Contains(r.Stdout, "containerStatuses:") {
		t.Errorf("status -o yaml:\n%s", r.Stdout)
	}
	if r := e.mustPod("status", "-o", "wide", "cli"); !regexp.MustCompile(`(?m)^cli\s+2/2\s+Running\s+0\s+\S+\s+\S+\s+\S+`).MatchString(r.Stdout) {
		t.Errorf("status -o wide:\n%s", r.Stdout)
	}
	if r := e.mustPod("status", "cli"); !strings.Contains(r.Stdout, "Ready                      True") {
		t.Errorf("status:\n%s", r.Stdout)
	}
	if !waitFor(30*time.Second, func() bool { return e.mustPod("logs", "-c", "a", "cli").Stdout == "hello from a\n" }) {
		t.Errorf("logs -c a: %q", e.mustPod("logs", "-c", "a", "cli").Stdout)
	}
	if r := e.mustPod("events", "cli"); !strings.Contains(r.Stdout, "Started container a") {
		t.Errorf("events:\n%s", r.Stdout)
	}
	for _, c := range []struct {
		want string
		args []string
	}{
		{"a container name must be specified for pod cli, choose one of: [a b]", []string{"logs", "cli"}},
		{"--container: pod cli has no container \"x\"", []string{"logs", "-c", "x", "cli"}},
		{"previous terminated container not found", []string{"logs", "--previous", "-c", "a", "cli"}},
		{"--for: \"nonsense\"", []string{"wait", "--for", "nonsense", "cli"}},
		{"timed out waiting for the condition on pods/cli", []string{"wait", "--for", "phase=Succeeded", "--timeout", "200ms", "cli"}},
		{"--output: unknown format \"xml\"", []string{"status", "-o", "xml", "cli"}},
		{"pod status: unknown flag --nope", []string{"status", "cli", "--nope"}},
		{"pod does not exist", []string{"status", "nope"}},
	} {
		r := e.pod(c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
			t.Errorf("pod %v: exit %d, stderr %q; want one line with %q", c.args, r.Code, r.Stderr, c.want)
		}
	}
}

// assertSealedExe fails unless /proc/<pid>/exe is another file than the
// podrun binaries under test (a sealed overlay or memfd view of one).
func assertSealedExe(t *testing.T, pid int) {
	t.Helper()
	var exe syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/exe", pid), &exe); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{podrunBin, podrunPodBin} {
		var bin syscall.Stat_t
		if err := syscall.Stat(b, &bin); err != nil {
			t.Fatal(err)
		}
		if exe.Dev == bin.Dev && exe.Ino == bin.Ino {
			t.Fatalf("pid %d runs the host's %s itself, not a sealed view", pid, b)
		}
	}
}

// kubelet's rules for a container's configuration (kuberuntime_container.go,
// kubelet_pods.go makeEnvironmentVariables): runAsNonRoot against a root
// image leaves the container waiting with CreateContainerConfigError, and
// $(VAR) in env, command and args expands from the manifest's own earlier
// entries only: the image's PATH is not there, so $(PATH) stays literal.
func TestPodContainerConfigRules(t *testing.T) {
	e := newSvEnv(t)
	e.run("nonroot", podYAML("nonroot", "Always", "2", `  containers:
  - name: c
    image: busybox:test
    command: ["sleep", "1000"]
    securityContext: {runAsNonRoot: true}
`))
	s := e.waitStatus("nonroot", "CreateContainerConfigError", func(s manifest.PodStatus) bool {
		w := ctrStatus(s, "c").State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError"
	})
	if w := ctrStatus(s, "c").State.Waiting; !strings.Contains(w.Message, "runAsNonRoot") {
		t.Errorf("waiting message %q", w.Message)
	}

	e.run("expand", podYAML("expand", "Never", "2", `  containers:
  - name: c
    image: busybox:test
    env:
    - {name: A, value: "a"}
    - {name: B, value: "$(A)-$(PATH)-$(C)"}
    - {name: C, value: "c"}
    command: ["sh", "-c", "echo \"B=$B arg=$1 PATH=$PATH\"", "--", "$(A)$(PATH)"]
`))
	e.waitStatus("expand", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	out := e.mustPod("logs", "-c", "c", "expand").Stdout
	// The image's PATH still reaches the process's environment.
	if !strings.Contains(out, "B=a-$(PATH)-$(C) arg=a$(PATH) PATH=/") {
		t.Errorf("logs %q: want B=a-$(PATH)-$(C), arg a$(PATH) and the image's PATH", out)
	}
}

// kubelet's killContainer (minimumGracePeriodInSeconds): a preStop hook
// that runs into the grace period is cut off there, and SIGTERM still gets
// 2 s before SIGKILL, so a container that needs a second to shut down
// finishes it (before, SIGKILL came at once at the deadline).
func TestPodStopPreStopOverrunsGrace(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("overrun", ctlPodYAML("overrun", "Always", "2", dir, `  containers:
  - name: c
    image: busybox:test
    command: ["sh", "-c", "trap 'echo term >> /ctl/log; sleep 1; echo done >> /ctl/log; exit 0' TERM; touch /ctl/up; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop >> /ctl/log; sleep 100"]}
`))
	e.waitStatus("overrun", "Running", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodRunning })
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "up")); return err == nil }) {
		t.Fatal("container did not start its loop")
	}
	e.mustPod("stop", "overrun")
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	if string(b) != "prestop\nterm\ndone\n" {
		t.Errorf("container log %q: want the preStop, then SIGTERM with time to finish", b)
	}
	if c := ctrStatus(e.status("overrun"), "c").State.Terminated; c == nil || c.ExitCode != 0 {
		t.Errorf("terminated %+v, want exit 0 after SIGTERM", c)
	}
}

// imagePullPolicy Never with an image not in the store: the pod is
// accepted, the container waits with reason ErrImageNeverPull and
// kubelet's message (images/image_manager.go) while the pod is Pending,
// and it starts once the image is imported.
func TestPodImageNeverPull(t *testing.T) {
	e := newSvEnv(t)
	e.run("never", podYAML("never", "Always", "2", `  containers:
  - name: c
    image: later:v1
    imagePullPolicy: Never
    command: ["sleep", "1000"]
`))
	s := e.waitStatus("never", "ErrImageNeverPull", func(s manifest.PodStatus) bool {
		w := ctrStatus(s, "c").State.Waiting
		return w != nil && w.Reason == "ErrImageNeverPull"
	})
	if w := ctrStatus(s, "c").State.Waiting; w.Message != `Container image "later:v1" is not present with pull policy of Never` || s.Phase != manifest.PodPending {
		t.Errorf("phase %s, waiting %+v", s.Phase, w)
	}
	if countEvents(e.events("never"), "ErrImageNeverPull", "later:v1") == 0 {
		t.Error("no ErrImageNeverPull event")
	}
	archive := filepath.Join(t.TempDir(), "later.tar")
	testimage.OCIArchive(t, archive, "later:v1")
	e.Must("image", "import", "--store", e.store, "--name", "later:v1", archive)
	e.waitStatus("never", "Running once imported", func(s manifest.PodStatus) bool { return ctrStatus(s, "c").State.Running != nil })
}

// As a kubelet's node: spec.nodeName is the host name (lower case) in pod
// inspect, status.hostIP is an address of the host (the default route's
// interface when there is one), and the downward API gives both.
func TestPodNodeNameAndHostIP(t *testing.T) {
	e := newSvEnv(t)
	e.run("node", podYAML("node", "Never", "2", `  containers:
  - name: c
    image: busybox:test
    command: ["sh", "-c", "echo node=$NODE host=$HOST_IP hosts=$HOST_IPS"]
    env:
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
    - {name: HOST_IPS, valueFrom: {fieldRef: {fieldPath: status.hostIPs}}}
`))
	s := e.waitStatus("node", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	host, _ := os.Hostname()
	node := strings.ToLower(host)
	var in struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(e.mustPod("inspect", "node").Stdout), &in); err != nil {
		t.Fatal(err)
	}
	if in.Spec.NodeName != node {
		t.Errorf("inspect spec.nodeName = %q, want %q", in.Spec.NodeName, node)
	}
	addrs, _ := net.InterfaceAddrs()
	hostAddr := false
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == s.HostIP && n.IP.IsGlobalUnicast() {
			hostAddr = true
		}
	}
	if !hostAddr || len(s.HostIPs) == 0 || s.HostIPs[0].IP != s.HostIP {
		t.Errorf("status.hostIP %q (hostIPs %v) is not a global address of this host", s.HostIP, s.HostIPs)
	}
	want := fmt.Sprintf("node=%s host=%s hosts=%s", node, s.HostIP, s.HostIP)
	if out := e.mustPod("logs", "node").Stdout; !strings.HasPrefix(out, want) {
		t.Errorf("downward API: %q, want %q...", out, want)
	}
}

// Termination messages (kubelet's getTerminationMessage; the manifest is
// the one of the Kubernetes docs' "Determine the Reason for Pod Failure"):
// the file at terminationMessagePath, written by a non-root user too,
// becomes the terminated state's message (its last 4 KiB); with
// FallbackToLogsOnError, a failed container that wrote none gets the tail
// of its log; a custom path works.
func TestPodTerminationMessage(t *testing.T) {
	e := newSvEnv(t)
	e.run("msg", podYAML("msg", "Never", "2", `  containers:
  - name: file
    image: busybox:test
    command: ["/bin/sh"]
    args: ["-c", "sleep 1 && echo Sleep expired > /dev/termination-log"]
  - name: nonroot
    image: busybox:test
    securityContext: {runAsUser: 1000}
    terminationMessagePath: /tmp/my-log
    command: ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a > /tmp/my-log; echo -n END >> /tmp/my-log; exit 3"]
  - name: fallback
    image: busybox:test
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "for i in $(seq 1 100); do echo out $i; done; echo oops >&2; exit 1"]
  - name: fallback-ok
    image: busybox:test
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo fine"]
`))
	s := e.waitStatus("msg", "Failed", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodFailed })
	term := func(name string) *manifest.ContainerStateTerminated {
		tm := ctrStatus(s, name).State.Terminated
		if tm == nil {
			t.Fatalf("%s not terminated: %+v", name, ctrStatus(s, name))
		}
		return tm
	}
	if m := term("file").Message; m != "Sleep expired\n" {
		t.Errorf("file: message %q", m)
	}
	if m := term("nonroot").Message; len(m) != 4096 || !strings.HasSuffix(m, "aaaEND") {
		t.Errorf("nonroot: message of %d bytes ending %q, want the last 4096", len(m), m[max(0, len(m)-10):])
	}
	m := term("fallback").Message
	// stdout and stderr reach the log through two pipes: their order
	// may differ from the writes', so "oops" may fall before the tail.
	if lines := strings.Split(strings.TrimSuffix(m, "\n"), "\n"); len(lines) != 80 || !slices.Contains(lines, "out 100") || slices.Contains(lines, "out 20") {
		t.Errorf("fallback: %d lines %q...", len(lines), m[:min(len(m), 40)])
	}
	if m := term("fallback-ok").Message; m != "" {
		t.Errorf("fallback of a container that succeeded: %q", m)
	}
	var in struct {
		Spec struct {
			Containers []struct {
				TerminationMessagePath   string `json:"terminationMessagePath"`
				TerminationMessagePolicy string `json:"terminationMessagePolicy"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(e.mustPod("inspect", "msg").Stdout), &in); err != nil {
		t.Fatal(err)
	}
	if c := in.Spec.Containers[0]; c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != "File" {
		t.Errorf("defaults in inspect: %+v", c)
	}
}

// activeDeadlineSeconds (kubelet's active_deadline.go): once the pod has
// been active that long, its containers are stopped and it is Failed with
// reason DeadlineExceeded and kubelet's message; restartPolicy Always
// does not bring it back.
func TestPodActiveDeadline(t *testing.T) {
	e := newSvEnv(t)
	e.run("deadline", podYAML("deadline", "Always", "2", `  activeDeadlineSeconds: 2
  containers:
  - name: c
    image: busybox:test
    command: `+loop+`
`))
	s := e.waitStatus("deadline", "Failed", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodFailed })
	if s.Reason != "DeadlineExceeded" || s.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q message %q", s.Reason, s.Message)
	}
	if countEvents(e.events("deadline"), "DeadlineExceeded", "longer than the specified deadline") != 1 {
		t.Error("no DeadlineExceeded event")
	}
	e.mustPod("wait", "--for", "phase=Failed", "--timeout", "30s", "deadline")
	s = e.waitStatus("deadline", "container stopped", func(s manifest.PodStatus) bool { return ctrStatus(s, "c").State.Terminated != nil })
	if c := ctrStatus(s, "c"); c.RestartCount != 0 || s.Phase != manifest.PodFailed {
		t.Errorf("after the deadline: phase %s, container %+v", s.Phase, c)
	}
}

// fsGroup and supplementalGroupsPolicy, with the manifests of the
// Kubernetes docs' "Configure a Security Context for a Pod": fsGroup is
// in the process's groups, the emptyDir is group-owned by it with setgid
// (files made there inherit it), and the image's /etc/group membership of
// the user (tester is in group extra, 1001) is kept under Merge and left
// out under Strict (kubelet's determineEffectiveSecurityContext and
// SetVolumeOwnership).
func TestPodFSGroupAndGroupsPolicy(t *testing.T) {
	e := newSvEnv(t)
	body := func(policy string) string {
		return `  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    supplementalGroups: [4000]
` + policy + `  volumes:
  - name: sec-ctx-vol
    emptyDir: {}
  containers:
  - name: sec-ctx-demo
    image: busybox:test
    command: ["sh", "-c", "id; stat -c '%A %g' /data/demo; touch /data/demo/f; stat -c '%g' /data/demo/f"]
    volumeMounts:
    - name: sec-ctx-vol
      mountPath: /data/demo
    securityContext:
      allowPrivilegeEscalation: false
`
	}
	e.run("merge", podYAML("merge", "Never", "2", body("")))
	e.run("strict", podYAML("strict", "Never", "2", body("    supplementalGroupsPolicy: Strict\n")))
	for pod, groups := range map[string]string{"merge": "groups=1001(extra),2000,3000,4000", "strict": "groups=2000,3000,4000"} {
		e.waitStatus(pod, "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
		out := e.mustPod("logs", pod).Stdout
		want := "uid=1000(tester) gid=3000 " + groups + "\ndrwxrwsrwx 2000\n2000\n"
		if out != want {
			t.Errorf("%s: output\n%s\nwant\n%s", pod, out, want)
		}
	}
}

// hostAliases, dnsPolicy None with dnsConfig, and setHostnameAsFQDN, with
// the Kubernetes docs' manifests ("Adding entries to Pod /etc/hosts with
// HostAliases", "DNS for Services and Pods"): kubelet's managed hosts file
// ends with the aliases, resolv.conf is made of dnsConfig alone, and the
// kernel hostname is the FQDN.
func TestPodHostsAndDNS(t *testing.T) {
	e := newSvEnv(t)
	e.run("hostaliases-pod", `apiVersion: v1
kind: Pod
metadata:
  name: hostaliases-pod
spec:
  restartPolicy: Never
  hostAliases:
  - ip: "127.0.0.1"
    hostnames:
    - "foo.local"
    - "bar.local"
  - ip: "10.1.2.3"
    hostnames:
    - "foo.remote"
    - "bar.remote"
  containers:
  - name: cat-hosts
    image: busybox:test
    command:
    - cat
    args:
    - "/etc/hosts"
`)
	e.run("dns-example", `apiVersion: v1
kind: Pod
metadata:
  namespace: default
  name: dns-example
spec:
  restartPolicy: Never
  subdomain: sub
  setHostnameAsFQDN: true
  containers:
    - name: test
      image: busybox:test
      command: ["sh", "-c", "cat /etc/resolv.conf; hostname; cat /etc/hostname"]
  dnsPolicy: "None"
  dnsConfig:
    nameservers:
      - 192.0.2.1 # this is an example
    searches:
      - ns1.svc.cluster-domain.example
      - my.dns.search.suffix
    options:
      - name: ndots
        value: "2"
      - name: edns0
`)
	for _, p := range []string{"hostaliases-pod", "dns-example"} {
		e.waitStatus(p, "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	}
	hosts := e.mustPod("logs", "hostaliases-pod").Stdout
	if !strings.HasPrefix(hosts, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n") ||
		!strings.HasSuffix(hosts, "\thostaliases-pod\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	want := "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 192.0.2.1\noptions ndots:2 edns0\n" +
		"dns-example.sub.default.svc.cluster.local\ndns-example.sub.default.svc.cluster.local\n"
	if out := e.mustPod("logs", "dns-example").Stdout; out != want {
		t.Errorf("resolv.conf and hostname:\n%s\nwant\n%s", out, want)
	}
	// dnsPolicy None without nameservers is refused, naming the field.
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  dnsPolicy: None\n  containers: [{name: c, image: busybox:test}]\n"), 0o644)
	if r := e.pod("run", "-d", "-f", f); r.Code == 0 || !strings.Contains(r.Stderr, "spec.dnsConfig.nameservers") {
		t.Errorf("dnsPolicy None without nameservers: exit %d, %q", r.Code, r.Stderr)
	}
}

// resourceFieldRef, with the Kubernetes docs' manifest "Expose Pod
// Information to Containers Through Environment Variables"
// (dapi-envars-resourcefieldref): cpu rounds up to whole cores, memory in
// bytes; with a divisor, and a missing limit as the node's memory.
func TestPodResourceFieldRef(t *testing.T) {
	e := newSvEnv(t)
	e.run("dapi-envars-resourcefieldref", `apiVersion: v1
kind: Pod
metadata:
  name: dapi-envars-resourcefieldref
spec:
  containers:
    - name: test-container
      image: busybox:test
      command: [ "sh", "-c"]
      args:
      - for v in MY_CPU_REQUEST MY_CPU_LIMIT MY_MEM_REQUEST MY_MEM_LIMIT MY_CPU_MILLIS MY_NODE_MEM_KI; do eval echo \$$$v; done
      resources:
        requests:
          memory: "32Mi"
          cpu: "125m"
        limits:
          memory: "64Mi"
          cpu: "250m"
      env:
        - name: MY_CPU_REQUEST
          valueFrom:
            resourceFieldRef:
              containerName: test-container
              resource: requests.cpu
        - name: MY_CPU_LIMIT
          valueFrom:
            resourceFieldRef:
              containerName: test-container
              resource: limits.cpu
        - name: MY_MEM_REQUEST
          valueFrom:
            resourceFieldRef:
              containerName: test-container
              resource: requests.memory
        - name: MY_MEM_LIMIT
          valueFrom:
            resourceFieldRef:
              containerName: test-container
              resource: limits.memory
        - name: MY_CPU_MILLIS
          valueFrom:
            resourceFieldRef:
              resource: limits.cpu
              divisor: 1m
        - name: MY_NODE_MEM_KI
          valueFrom:
            resourceFieldRef:
              containerName: other
              resource: limits.memory
              divisor: 1Ki
    - name: other
      image: busybox:test
      command: ["true"]
  restartPolicy: Never
`)
	e.waitStatus("dapi-envars-resourcefieldref", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	var memKi string
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		memKi = strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1]
	}
	want := "1\n1\n33554432\n67108864\n250\n" + memKi + "\n"
	if out := e.mustPod("logs", "-c", "test-container", "dapi-envars-resourcefieldref").Stdout; out != want {
		t.Errorf("env:\n%s\nwant\n%s", out, want)
	}
}

// persistentVolumeClaim volumes are named host volumes: made on first
// use, shared by the pods naming the claim, kept across pod rm, listed
// and removed by `pod volume ls/rm` (refused while a pod uses one);
// readOnly mounts read-only; fsGroup owns them.
func TestPodPersistentVolumeClaim(t *testing.T) {
	e := newSvEnv(t)
	claimPod := func(name, cmd, extra string) string {
		return podYAML(name, "Never", "2", extra+`  volumes:
  - name: data
    persistentVolumeClaim: {claimName: my-claim}
  - name: ro
    persistentVolumeClaim: {claimName: my-claim, readOnly: true}
  containers:
  - name: c
    image: busybox:test
    command: ["sh", "-c", "`+cmd+`"]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: ro, mountPath: /ro}
`)
	}
	e.run("writer", claimPod("writer", "echo kept > /data/f; touch /ro/x 2>/dev/null && echo ro-writable; stat -c %g /data", "  securityContext: {fsGroup: 2345}\n"))
	e.waitStatus("writer", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	if out := e.mustPod("logs", "writer").Stdout; out != "2345\n" {
		t.Errorf("writer output %q: want the fsGroup and no write through the readOnly claim", out)
	}
	if r := e.pod("volume", "rm", "my-claim"); r.Code == 0 || !strings.Contains(r.Stderr, "in use") {
		t.Errorf("volume rm of a used claim: exit %d %q", r.Code, r.Stderr)
	}
	if out := e.mustPod("volume", "ls").Stdout; !strings.Contains(out, "my-claim") || !strings.Contains(out, "writer") {
		t.Errorf("volume ls:\n%s", out)
	}
	e.mustPod("rm", "writer")
	e.pods = nil
	// A PersistentVolumeClaim document in the stream makes its volume
	// even when no pod volume names it (as kube play).
	e.run("reader", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: stream-claim}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n---\n"+
		claimPod("reader", "cat /data/f", ""))
	e.waitStatus("reader", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	if out := e.mustPod("logs", "reader").Stdout; out != "kept\n" {
		t.Errorf("the claim's data did not outlive its pod: %q", out)
	}
	if out := e.mustPod("volume", "ls").Stdout; !strings.Contains(out, "stream-claim") {
		t.Errorf("volume ls lacks the stream's claim:\n%s", out)
	}
	e.mustPod("volume", "rm", "stream-claim")
	e.mustPod("rm", "reader")
	e.pods = nil
	e.mustPod("volume", "rm", "my-claim")
	if out := e.mustPod("volume", "ls").Stdout; strings.Contains(out, "my-claim") {
		t.Errorf("volume ls after rm:\n%s", out)
	}
	if m, _ := filepath.Glob(filepath.Join(e.data, "claims", "my-claim")); len(m) != 0 {
		t.Errorf("claim dir left: %v", m)
	}
}

// seccompProfile (the restricted Pod Security Standard asks for it):
// RuntimeDefault is containerd's default profile (filter mode 2), a
// container's Unconfined overrides the pod's, privileged containers get
// none, and Localhost loads an OCI profile from --seccomp-profile-root.
func TestPodSeccompProfile(t *testing.T) {
	root := t.TempDir()
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "profiles", "no-mkdir.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newSvEnv(t, "PODRUN_SECCOMP_PROFILE_ROOT="+root)
	mode := `["sh", "-c", "grep ^Seccomp: /proc/self/status | tr -d '\\t '"]`
	e.run("seccomp", podYAML("seccomp", "Never", "2", `  securityContext:
    seccompProfile: {type: RuntimeDefault}
  containers:
  - {name: default, image: busybox:test, command: `+mode+`}
  - {name: unconfined, image: busybox:test, command: `+mode+`, securityContext: {seccompProfile: {type: Unconfined}}}
  - {name: privileged, image: busybox:test, command: `+mode+`, securityContext: {privileged: true}}
  - name: localhost
    image: busybox:test
    command: ["sh", "-c", "mkdir /tmp/x 2>&1 || echo denied"]
    securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/no-mkdir.json}}
`))
	e.waitStatus("seccomp", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	for c, want := range map[string]string{"default": "Seccomp:2\n", "unconfined": "Seccomp:0\n", "privileged": "Seccomp:0\n"} {
		if out := e.mustPod("logs", "-c", c, "seccomp").Stdout; out != want {
			t.Errorf("%s: %q, want %q", c, out, want)
		}
	}
	if out := e.mustPod("logs", "-c", "localhost", "seccomp").Stdout; !strings.Contains(out, "denied") {
		t.Errorf("localhost profile: %q", out)
	}
	// A Localhost profile outside the root is refused by validation.
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte(podYAML("bad", "Never", "2", `  containers:
  - {name: c, image: busybox:test, securityContext: {seccompProfile: {type: Localhost, localhostProfile: ../../etc/x.json}}}
`)), 0o644)
	if r := e.pod("run", "-d", "-f", f); r.Code == 0 || !strings.Contains(r.Stderr, "seccompProfile.localhostProfile") {
		t.Errorf("localhostProfile with ..: exit %d %q", r.Code, r.Stderr)
	}
}
