package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testimage"
)

// lcHookRecord is one line a recording hook appended to the hook log.
type lcHookRecord struct {
	Kind, MntNS, HookVar, Home string
	State                      specs.State
}

// lcHookBody records the hook's kind ($1), mount namespace, two env
// variables (one given, one that must not leak in) and its stdin (the
// state JSON) on one line of log.
func lcHookBody(log string) string {
	return `st=$(cat)
echo "$1|$(readlink /proc/self/ns/mnt)|${HOOKVAR-unset}|${HOME-unset}|$st" >> ` + log
}

// lcReadHookLog parses the hook log; lines that are not hook records
// (the user process's) come back with Kind only.
func lcReadHookLog(t *testing.T, path string) []lcHookRecord {
	t.Helper()
	b, _ := os.ReadFile(path)
	var recs []lcHookRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		r := lcHookRecord{Kind: f[0]}
		if len(f) > 1 {
			r.MntNS = f[1]
		}
		if len(f) == 5 {
			r.HookVar, r.Home = f[2], f[3]
			if err := json.Unmarshal([]byte(f[4]), &r.State); err != nil {
				t.Errorf("hook %s: state on stdin %q: %v", r.Kind, f[4], err)
			}
		}
		recs = append(recs, r)
	}
	return recs
}

func lcKinds(recs []lcHookRecord) []string {
	var k []string
	for _, r := range recs {
		k = append(k, r.Kind)
	}
	return k
}

// TestHooksLifecycle runs every kind of hook and checks when each runs,
// in which mount namespace, with which argv, env and state on stdin.
// prestart, createRuntime, poststart and poststop are host scripts run in
// the runtime namespace. createContainer runs in the container's mount
// namespace before pivot_root (as runc: its path still resolves in the
// host's tree); startContainer runs after pivot_root, so its path is a
// script inside the rootfs.
func TestHooksLifecycle(t *testing.T) {
	h := New(t)
	id := h.ID()
	logDir := t.TempDir()
	hostLog := filepath.Join(logDir, "log")
	script := lcScript(t, filepath.Join(t.TempDir(), "record.sh"), lcHookBody(hostLog))
	const inRootfs = "/usr/bin/podrun-test-start-hook"
	if _, err := os.Stat(inRootfs); err == nil {
		t.Fatalf("%s exists on the host; the test needs a path only the container has", inRootfs)
	}
	hook := func(path, kind string) []specs.Hook {
		return []specs.Hook{{Path: path, Args: []string{"record", kind}, Env: []string{"PATH=/usr/bin:/bin", "HOOKVAR=" + kind}}}
	}
	bundle := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{
			Prestart:        hook(script, "prestart"),
			CreateRuntime:   hook(script, "createRuntime"),
			CreateContainer: hook(script, "createContainer"),
			StartContainer:  hook(inRootfs, "startContainer"),
			Poststart:       hook(script, "poststart"),
			Poststop:        hook(script, "poststop"),
		}
	}, "sh", "-c", `echo "user|$(readlink /proc/self/ns/mnt)" >> /hooklog/log`)
	lcScript(t, filepath.Join(bundle, "rootfs", inRootfs), lcHookBody("/hooklog/log"))
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}

	pid := lcCreate(h, bundle, id)
	ctrNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		t.Fatal(err)
	}
	if ctrNS == hostNS {
		t.Fatal("the container has the host's mount namespace")
	}
	recs := lcReadHookLog(t, hostLog)
	if k := lcKinds(recs); !slices.Equal(k, []string{"prestart", "createRuntime", "createContainer"}) {
		t.Fatalf("hooks run by create: %v, want prestart, createRuntime, createContainer", k)
	}
	check := func(r lcHookRecord, ns, status string, pids ...int) {
		t.Helper()
		if r.MntNS != ns {
			t.Errorf("%s hook ran in mount ns %s, want %s (host %s)", r.Kind, r.MntNS, ns, hostNS)
		}
		if r.HookVar != r.Kind || r.Home != "unset" {
			t.Errorf("%s hook env: HOOKVAR=%q HOME=%q, want exactly the hook's env", r.Kind, r.HookVar, r.Home)
		}
		st := r.State
		if st.ID != id || st.Bundle != bundle || string(st.Status) != status || st.Version == "" {
			t.Errorf("%s hook state: %+v, want id %s bundle %s status %s", r.Kind, st, id, bundle, status)
		}
		if !slices.Contains(pids, st.Pid) {
			t.Errorf("%s hook state pid %d, want one of %v", r.Kind, st.Pid, pids)
		}
	}
	check(recs[0], hostNS, "creating", pid)
	check(recs[1], hostNS, "creating", pid)
	// runc gives createContainer and startContainer the pid as the init
	// sees it (getpid() in the container: 1 in a new pid namespace).
	check(recs[2], ctrNS, "creating", pid, 1)

	lcMust(h, "start", id)
	// poststart ran before start returned; startContainer ran in the init
	// before the user process. poststart may race with both (runc's too).
	recs = lcReadHookLog(t, hostLog)
	if !slices.Contains(lcKinds(recs), "poststart") {
		t.Errorf("poststart did not run before start returned: %v", lcKinds(recs))
	}
	h.WaitStatus(id, "stopped")
	recs = lcReadHookLog(t, hostLog)
	kinds := lcKinds(recs)
	is, iu, ip := slices.Index(kinds, "startContainer"), slices.Index(kinds, "user"), slices.Index(kinds, "poststart")
	if len(recs) != 6 || is < 3 || iu < is || ip < 3 {
		t.Fatalf("hooks after start: %v, want startContainer then the user process, and poststart", kinds)
	}
	check(recs[is], ctrNS, "created", pid, 1)
	check(recs[ip], hostNS, "running", pid)
	if recs[iu].MntNS != ctrNS {
		t.Errorf("user process in mount ns %s, want %s", recs[iu].MntNS, ctrNS)
	}

	h.Must("delete", id)
	recs = lcReadHookLog(t, hostLog)
	if len(recs) != 7 || recs[6].Kind != "poststop" {
		t.Fatalf("hooks after delete: %v, want poststop last", lcKinds(recs))
	}
	// runc gives poststop the state of a stopped container: pid 0 (the
	// dead init's pid may be another process's by now).
	check(recs[6], hostNS, "stopped", 0)
}

// TestHooksRunOnRun checks that run (create + start + delete) runs every
// host hook once, poststop included.
func TestHooksRunOnRun(t *testing.T) {
	h := New(t)
	log := filepath.Join(t.TempDir(), "log")
	script := lcScript(t, filepath.Join(t.TempDir(), "record.sh"), lcHookBody(log))
	hook := func(kind string) []specs.Hook {
		return []specs.Hook{{Path: script, Args: []string{"record", kind}, Env: []string{"PATH=/usr/bin:/bin", "HOOKVAR=" + kind}}}
	}
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{Prestart: hook("prestart"), CreateRuntime: hook("createRuntime"),
			CreateContainer: hook("createContainer"), Poststart: hook("poststart"), Poststop: hook("poststop")}
	}, "true")
	h.Must("run", "--bundle", bundle, h.ID())
	want := []string{"prestart", "createRuntime", "createContainer", "poststart", "poststop"}
	if k := lcKinds(lcReadHookLog(t, log)); !slices.Equal(k, want) {
		t.Errorf("hooks of run: %v, want %v", k, want)
	}
}

// TestHookFailureAbortsCreate checks that a failing prestart,
// createRuntime or createContainer hook fails create with runc's text and
// the hook's output, and leaves nothing.
func TestHookFailureAbortsCreate(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			h := New(t)
			fail := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "printf out-" + kind + "; printf err-" + kind + " >&2; exit 3"}}}
			ok := filepath.Join(t.TempDir(), "later")
			later := []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + ok}}}
			bundle := h.EditedBundle(func(s *Spec) {
				s.Hooks = &specs.Hooks{Poststop: later}
				switch kind {
				case "prestart":
					s.Hooks.Prestart = append(fail, later...)
					s.Hooks.CreateRuntime = later
				case "createRuntime":
					s.Hooks.CreateRuntime = append(fail, later...)
				case "createContainer":
					s.Hooks.CreateContainer = append(fail, later...)
				}
				s.Hooks.StartContainer = later
			}, "true")
			r := h.Fails(fmt.Sprintf("error running %s hook #0: exit status 3, stdout: out-%s, stderr: err-%s", kind, kind, kind),
				"create", "--bundle", bundle, h.ID())
			_ = r
			lcAssertNothing(t, h)
			if _, err := os.Stat(ok); err == nil {
				t.Errorf("a hook after the failing one ran")
			}
			h.Fails(fmt.Sprintf("error running %s hook #0", kind), "run", "--bundle", bundle, h.ID())
			lcAssertNothing(t, h)
		})
	}
}

// TestHookMissingExecutable checks a hook whose path does not exist.
func TestHookMissingExecutable(t *testing.T) {
	h := New(t)
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/no/such/podrun/hook"}}}
	}, "true")
	h.Fails("/no/such/podrun/hook", "create", "--bundle", bundle, h.ID())
	lcAssertNothing(t, h)
}

// TestHookStartContainerFailure checks that a failing startContainer hook
// keeps the user process from running, stops the container and fails
// start with the hook's error (runc prints it on the container's stderr
// and start succeeds; podrun's start waits for the exec when there are
// startContainer hooks, so the error reaches start's caller and --log).
func TestHookStartContainerFailure(t *testing.T) {
	h := New(t)
	id := h.ID()
	logDir := t.TempDir()
	bundle := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "printf nope >&2; exit 3"}}}}
	}, "sh", "-c", "echo user > /hooklog/user")
	pid := lcCreate(h, bundle, id)
	log := filepath.Join(t.TempDir(), "log")
	r, err := lcRunIO(h, nil, nil, "--log", log, "start", id)
	if err != nil {
		t.Fatal(err)
	}
	const want = "error running startContainer hook #0: exit status 3, stdout: , stderr: nope"
	if logged, _ := os.ReadFile(log); r.Code == 0 || !strings.Contains(string(logged), want) {
		t.Errorf("start with a failing startContainer hook: exit %d, log %q; want an error: %s", r.Code, logged, want)
	}
	lcWaitDead(t, pid)
	h.WaitStatus(id, "stopped")
	if _, err := os.Stat(filepath.Join(logDir, "user")); err == nil {
		t.Errorf("the user process ran although startContainer failed")
	}
	h.Must("delete", id)
	lcGone(h, id)

	// run reports it on its stderr, and a working hook lets the process run.
	h.Fails(want, "run", "--bundle", bundle, h.ID())
	lcAssertNothing(t, h)
	ok := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
	}, "sh", "-c", "echo user > /hooklog/user")
	h.Must("run", "--bundle", ok, h.ID())
	if _, err := os.Stat(filepath.Join(logDir, "user")); err != nil {
		t.Errorf("the user process did not run after a working startContainer hook: %v", err)
	}
}

// TestHookPoststartFailure checks that a failing poststart hook fails
// start and stops the container, which delete then removes.
func TestHookPoststartFailure(t *testing.T) {
	h := New(t)
	id := h.ID()
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "printf nope >&2; exit 4"}}}}
	}, testimage.CheckerInRootfs, "sleep")
	pid := lcCreate(h, bundle, id)
	r, err := lcRunIO(h, nil, nil, "start", id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code == 0 || !strings.Contains(r.Stderr, "error running poststart hook #0: exit status 4, stdout: , stderr: nope") {
		t.Errorf("start with a failing poststart: exit %d: %q", r.Code, r.Stderr)
	}
	lcWaitDead(t, pid)
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)
	lcGone(h, id)

	// run fails too, and removes the container.
	id = h.ID()
	r = h.Run("run", "--bundle", bundle, id)
	if r.Code == 0 || !strings.Contains(r.Stderr, "error running poststart hook #0") {
		t.Errorf("run with a failing poststart: exit %d: %q", r.Code, r.Stderr)
	}
	lcGone(h, id)
}

// TestHookPoststopFailureIsWarning checks that failing poststop hooks are
// only warnings: every poststop hook runs and delete succeeds.
func TestHookPoststopFailureIsWarning(t *testing.T) {
	h := New(t)
	id := h.ID()
	ok := filepath.Join(t.TempDir(), "second")
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 5"}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + ok}},
		}}
	}, testimage.CheckerInRootfs, "sleep")
	lcCreate(h, bundle, id)
	r := h.Must("delete", id)
	if !strings.Contains(r.Stderr, "error running poststop hook #0: exit status 5") || !strings.Contains(r.Stderr, "warn") {
		t.Errorf("delete stderr %q, want a warning about poststop hook #0", r.Stderr)
	}
	if b, _ := os.ReadFile(ok); string(b) != "ran\n" {
		t.Errorf("the poststop hook after the failing one did not run")
	}
	lcGone(h, id)
}

// TestHookTimeout checks that a hook running past its timeout is killed
// (with what it started) and fails create.
func TestHookTimeout(t *testing.T) {
	h := New(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	one := 1
	script := lcScript(t, filepath.Join(dir, "hang.sh"), "sleep 60 & echo $! > "+pidFile+"; wait")
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: script, Env: []string{"PATH=/usr/bin:/bin"}, Timeout: &one}}}
	}, "true")
	start := time.Now()
	h.Fails("error running createRuntime hook #0: hook ran past specified timeout of 1.0s", "create", "--bundle", bundle, h.ID())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("create with a 1s hook timeout took %v", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	lcWaitDead(t, child)
	lcAssertNothing(t, h)
}
