package integration

// Native sidecars (initContainers[].restartPolicy: Always) through the
// binary, with the "Sidecar Containers" manifests of the Kubernetes docs
// (a log shipper tailing the file the app writes): start order with the
// init containers and startup-probe gating, readiness in Ready, restarts
// under restartPolicy Never, a Job-like pod completing, stop order.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// ctlLines returns the words of a file the containers append to.
func ctlLines(t *testing.T, f string) []string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// A sidecar starts before the next init container, which starts only once
// the sidecar's startup probe passed (the init container fails, and with
// restartPolicy Never fails the pod, if the sidecar does not serve yet);
// the app starts after both and the log shipper's postStart hook. The
// log shipper sees what the app writes to a shared emptyDir. The
// sidecar's readiness holds the pod's Ready back.
// pod stop stops the app first, then the sidecars, last first, their
// preStop hooks run.
func TestPodSidecarOrderReadinessAndStop(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	e.run("myapp", ctlPodYAML("myapp", "Never", "10", dir, `  - name: data
    emptyDir: {}
  initContainers:
  - name: web
    image: busybox:test
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo stop-web >> /ctl/order; exit 0' TERM; sleep 1; echo web >> /ctl/order; mkdir -p /www; echo up > /www/index.html; httpd -p 8080 -h /www; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {exec: {command: ["test", "-f", "/ctl/ready"]}, periodSeconds: 1}
  - name: init
    image: busybox:test
    command: ["sh", "-c", "wget -q -O /dev/null http://127.0.0.1:8080/ && echo init >> /ctl/order"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  - name: logshipper
    image: busybox:test
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo stop-logshipper >> /ctl/order; exit 0' TERM; tail -F /opt/logs.txt & wait"]
    volumeMounts: [{name: data, mountPath: /opt}, {name: ctl, mountPath: /ctl}]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "sleep 1; echo poststart-logshipper >> /ctl/order"]}
      preStop:
        exec: {command: ["sh", "-c", "echo prestop-logshipper >> /ctl/order"]}
  containers:
  - name: myapp
    image: busybox:test
    command: ["sh", "-c", "trap 'sleep 1; echo stop-myapp >> /ctl/order; exit 0' TERM; echo myapp >> /ctl/order; while true; do echo logging >> /opt/logs.txt; sleep 1; done"]
    volumeMounts: [{name: data, mountPath: /opt}, {name: ctl, mountPath: /ctl}]
`))
	s := e.waitStatus("myapp", "Running with the app started", func(s manifest.PodStatus) bool {
		return s.Phase == manifest.PodRunning && ctrStatus(s, "myapp").State.Running != nil
	})
	waitFor(30*time.Second, func() bool { return len(ctlLines(t, order)) >= 4 })
	// The app starts once logshipper's postStart hook is done (kubelet
	// runs it within the container's start).
	if got := ctlLines(t, order); strings.Join(got, " ") != "web init poststart-logshipper myapp" {
		t.Errorf("start order %q, want web init poststart-logshipper myapp", got)
	}
	// Sidecars in initContainerStatuses: running, started; web not ready
	// (its readiness file is missing), which holds Ready back.
	for _, n := range []string{"web", "logshipper"} {
		c := ctrStatus(s, n)
		if c.State.Running == nil || c.Started == nil || !*c.Started {
			t.Errorf("sidecar %s: %+v, want running and started", n, c)
		}
	}
	if c := ctrStatus(s, "init"); c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 || !c.Ready || c.Started == nil || *c.Started {
		t.Errorf("init: %+v ready %v started %v, want completed, ready, not started (kubelet's)", c.State, c.Ready, c.Started)
	}
	if condStatus(s, manifest.PodInitialized) != manifest.ConditionTrue {
		t.Errorf("Initialized %s with the sidecars started and init completed", condStatus(s, manifest.PodInitialized))
	}
	s = e.waitStatus("myapp", "unready because of web", func(s manifest.PodStatus) bool {
		c := podCondition(&s, manifest.PodReady)
		return ctrStatus(s, "logshipper").Ready && ctrStatus(s, "myapp").Ready && c != nil &&
			c.Status == manifest.ConditionFalse && c.Message == "containers with unready status: [web]"
	})
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
	e.waitStatus("myapp", "Ready", func(s manifest.PodStatus) bool {
		return ctrStatus(s, "web").Ready && condStatus(s, manifest.PodReady) == manifest.ConditionTrue &&
			condStatus(s, manifest.ContainersReady) == manifest.ConditionTrue
	})
	// kubectl's columns: the sidecars count in READY, a started one does
	// not show the pod as Init.
	if r := e.mustPod("ls"); !regexp.MustCompile(`(?m)^myapp\s+3/3\s+Running\s+0\s`).MatchString(r.Stdout) {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
	// The log shipper tails what the app writes.
	if !waitFor(30*time.Second, func() bool {
		return strings.Contains(e.mustPod("logs", "-c", "logshipper", "myapp").Stdout, "logging\n")
	}) {
		t.Errorf("logshipper logs: %q", e.mustPod("logs", "-c", "logshipper", "myapp").Stdout)
	}

	e.mustPod("stop", "myapp")
	got := ctlLines(t, order)
	stops := []string{}
	prestop := -1
	for i, l := range got {
		if strings.HasPrefix(l, "stop-") {
			stops = append(stops, l)
		}
		if l == "prestop-logshipper" {
			prestop = i
		}
	}
	if strings.Join(stops, " ") != "stop-myapp stop-logshipper stop-web" {
		t.Errorf("stop order %q, want the app, then logshipper, then web (all lines %q)", stops, got)
	}
	if prestop < 0 || prestop > indexOf(got, "stop-logshipper") {
		t.Errorf("logshipper's preStop hook did not run before its SIGTERM: %q", got)
	}
	s = e.status("myapp")
	for _, n := range []string{"web", "logshipper", "myapp"} {
		if c := ctrStatus(s, n); c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 {
			t.Errorf("%s after stop: %+v, want exited 0 on SIGTERM", n, c.State)
		}
	}
	if s.Phase != manifest.PodSucceeded {
		t.Errorf("phase after stop %s, want Succeeded (the app exited 0; sidecars do not count)", s.Phase)
	}
}

func indexOf(l []string, s string) int {
	for i, v := range l {
		if v == s {
			return i
		}
	}
	return len(l)
}

// A Job-like pod (restartPolicy Never): the sidecar is restarted after it
// exits, whatever the pod's policy; once the app exited 0 the sidecar is
// stopped and the pod ends Succeeded, the sidecar's exit not counted.
func TestPodSidecarJobCompletes(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	e.run("job", ctlPodYAML("job", "Never", "10", dir, `  initContainers:
  - name: flaky
    image: busybox:test
    restartPolicy: Always
    command: ["sh", "-c", "trap 'exit 0' TERM; echo run >> /ctl/runs; if [ $(wc -l < /ctl/runs) -lt 3 ]; then sleep 0.3; exit 1; fi; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
  containers:
  - name: job
    image: busybox:test
    command: ["sh", "-c", "until [ $(wc -l < /ctl/runs) -ge 3 ]; do sleep 0.1; done; echo done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	s := e.waitStatus("job", "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
	f := ctrStatus(s, "flaky")
	if f.RestartCount != 2 {
		t.Errorf("sidecar restartCount %d, want 2 (restarted after each exit 1 under restartPolicy Never)", f.RestartCount)
	}
	if f.State.Terminated == nil || f.State.Terminated.ExitCode != 0 || f.Ready {
		t.Errorf("sidecar after the job: %+v ready=%v, want stopped (exit 0 on SIGTERM)", f.State, f.Ready)
	}
	if l := f.LastTerminationState.Terminated; l == nil || l.ExitCode != 1 {
		t.Errorf("sidecar lastState %+v, want its exit 1", f.LastTerminationState)
	}
	if j := ctrStatus(s, "job"); j.State.Terminated == nil || j.State.Terminated.ExitCode != 0 {
		t.Errorf("job: %+v", j.State)
	}
	if c := podCondition(&s, manifest.PodReady); c == nil || c.Status != manifest.ConditionFalse || c.Reason != "PodCompleted" {
		t.Errorf("Ready = %+v, want False/PodCompleted", c)
	}
	if r := e.mustPod("ls"); !regexp.MustCompile(`(?m)^job\s+0/2\s+Completed\s+2\s`).MatchString(r.Stdout) {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
	if n := len(ctlLines(t, filepath.Join(dir, "runs"))); n != 3 {
		t.Errorf("sidecar ran %d times, want 3 (not restarted once the pod completes)", n)
	}
	evs := e.events("job")
	if countEvents(evs, "Killing", "Stopping container flaky") != 1 {
		t.Errorf("no stop event for the sidecar: %v", evs)
	}
	// The second restart waits out CrashLoopBackOff (the first is at once).
	if countEvents(evs, "BackOff", "restarting failed container flaky") != 1 {
		t.Errorf("no back-off before the sidecar's second restart: %v", evs)
	}
}

// A regular init container failing under restartPolicy Never fails the
// pod: the sidecar started before it is stopped, the app never starts.
func TestPodSidecarFailedInit(t *testing.T) {
	e := newSvEnv(t)
	e.run("initfail", podYAML("initfail", "Never", "10", `  initContainers:
  - name: proxy
    image: busybox:test
    restartPolicy: Always
    command: `+loop+`
  - name: migrate
    image: busybox:test
    command: ["sh", "-c", "exit 3"]
  containers:
  - name: app
    image: busybox:test
    command: `+loop+`
`))
	s := e.waitStatus("initfail", "Failed with the sidecar stopped", func(s manifest.PodStatus) bool {
		return s.Phase == manifest.PodFailed && ctrStatus(s, "proxy").State.Terminated != nil
	})
	if m := ctrStatus(s, "migrate").State.Terminated; m == nil || m.ExitCode != 3 {
		t.Errorf("migrate: %+v", ctrStatus(s, "migrate").State)
	}
	if a := ctrStatus(s, "app"); a.State.Waiting == nil || a.RestartCount != 0 {
		t.Errorf("app ran: %+v", a.State)
	}
	if r := e.mustPod("ls"); !regexp.MustCompile(`(?m)^initfail\s+0/2\s+Init:Error\s`).MatchString(r.Stdout) {
		t.Errorf("pod ls:\n%s", r.Stdout)
	}
}

// A supervisor killed with -9 and recovered adopts the sidecar (same
// run, still started), does not start the app again, and still stops the
// app before the sidecar.
func TestPodSidecarRecovery(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	e.run("sidecar-rec", ctlPodYAML("sidecar-rec", "Always", "10", dir, `  initContainers:
  - name: side
    image: busybox:test
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo stop-side >> /ctl/order; exit 0' TERM; touch /ctl/side; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
    startupProbe: {exec: {command: ["test", "-f", "/ctl/side"]}, periodSeconds: 1}
  containers:
  - name: app
    image: busybox:test
    command: ["sh", "-c", "trap 'sleep 1; echo stop-app >> /ctl/order; exit 0' TERM; touch /ctl/app; while :; do sleep 0.1; done"]
    volumeMounts: [{name: ctl, mountPath: /ctl}]
`))
	s := e.waitStatus("sidecar-rec", "Running", func(s manifest.PodStatus) bool {
		return s.Phase == manifest.PodRunning && ctrStatus(s, "app").State.Running != nil
	})
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "app")); return err == nil }) {
		t.Fatal("app did not set its SIGTERM trap")
	}
	sideID, appID := ctrStatus(s, "side").ContainerID, ctrStatus(s, "app").ContainerID
	e.killSupervisor("sidecar-rec")
	e.mustPod("recover", "sidecar-rec")
	s = e.waitStatus("sidecar-rec", "Running again", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodRunning })
	side, app := ctrStatus(s, "side"), ctrStatus(s, "app")
	if side.ContainerID != sideID || side.RestartCount != 0 || side.Started == nil || !*side.Started {
		t.Errorf("sidecar after recovery: %+v", side)
	}
	if app.ContainerID != appID || app.RestartCount != 0 {
		t.Errorf("app after recovery: %+v", app)
	}
	e.mustPod("stop", "sidecar-rec")
	if got := strings.Join(ctlLines(t, order), " "); got != "stop-app stop-side" {
		t.Errorf("stop order after recovery %q, want stop-app stop-side", got)
	}
}
