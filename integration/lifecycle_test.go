package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testimage"
)

// Helpers shared by lifecycle_test.go, errors_test.go, hooks_test.go,
// logs_test.go and cli_test.go. Their names start with "lc" so they do not
// collide with the other test files of the package.

// lcTimeout bounds every podrun call made through the lc helpers.
const lcTimeout = 30 * time.Second

// lcNoPidNS removes the pid namespace from a spec.
func lcNoPidNS(s *Spec) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.PIDNamespace
	})
}

// lcRunCmdIO runs a prepared podrun command with stdin and stdout on the
// given files (nil: /dev/null, and a temp file read back into
// Result.Stdout) and stderr in a temp file. Unlike H.Run it leaves no pipe
// of ours to a container the command leaves behind (create, run -d), and it
// does not use t, so any goroutine may call it.
func lcRunCmdIO(cmd *exec.Cmd, stdin, stdout *os.File) (Result, error) {
	return lcRunCmdIOTimeout(cmd, stdin, stdout, lcTimeout)
}

// lcRunCmdIOTimeout is lcRunCmdIO with its own timeout.
func lcRunCmdIOTimeout(cmd *exec.Cmd, stdin, stdout *os.File, timeout time.Duration) (Result, error) {
	var r Result
	if stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return r, err
		}
		defer null.Close()
		stdin = null
	}
	var outf *os.File
	if stdout == nil {
		f, err := os.CreateTemp("", "podrun-stdout-")
		if err != nil {
			return r, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		outf, stdout = f, f
	}
	errf, err := os.CreateTemp("", "podrun-stderr-")
	if err != nil {
		return r, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, errf
	if err := cmd.Start(); err != nil {
		return r, err
	}
	r.Code, err = lcWait(cmd, timeout)
	if outf != nil {
		b, _ := os.ReadFile(outf.Name())
		r.Stdout = string(b)
	}
	b, _ := os.ReadFile(errf.Name())
	r.Stderr = string(b)
	return r, err
}

// lcRunIO is lcRunCmdIO for podrun args.
func lcRunIO(h *H, stdin, stdout *os.File, args ...string) (Result, error) {
	return lcRunCmdIO(h.Cmd(args...), stdin, stdout)
}

// lcWait waits for a started command, killing it after timeout. The code
// is -1 when the command was killed by a signal.
func lcWait(cmd *exec.Cmd, timeout time.Duration) (int, error) {
	err := waitTimeout(cmd, timeout)
	var ee *exec.ExitError
	switch {
	case errors.Is(err, errTimedOut):
		return -1, err
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	}
	return 0, err
}

// lcMust runs podrun through lcRunIO and fails the test unless it exits 0.
func lcMust(h *H, args ...string) Result {
	h.t.Helper()
	r, err := lcRunIO(h, nil, nil, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.Code != 0 {
		h.t.Fatalf("podrun %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// lcCreate creates container id from bundle (extra flags before the id)
// and returns its init's host pid.
func lcCreate(h *H, bundle, id string, extra ...string) int {
	h.t.Helper()
	lcMust(h, append(append([]string{"create", "--bundle", bundle}, extra...), id)...)
	pid := h.Pid(id)
	if pid <= 0 {
		h.t.Fatalf("container %s: pid %d after create", id, pid)
	}
	return pid
}

// lcPPid returns the parent pid of pid.
func lcPPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// lcWaitDead waits until pid is gone (or a zombie).
func lcWaitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lcRunSleeper starts a foreground `podrun run` of the checker's sleep,
// with its output in the file out, and waits until the checker is ready.
func lcRunSleeper(h *H) (id string, cmd *exec.Cmd, out string) {
	h.t.Helper()
	id = h.ID()
	out = filepath.Join(h.t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	cmd = h.Cmd("run", "--bundle", h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	lcWaitFile(h.t, out, "ready")
	return id, cmd, out
}

// lcWaitFile polls until the file at path contains want, and returns its
// content.
func lcWaitFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q does not contain %q", path, b, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lcScript writes an executable shell script with body.
func lcScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// lcGone fails t unless `state id` says the container does not exist.
func lcGone(h *H, id string) {
	h.t.Helper()
	h.Fails("does not exist", "state", id)
	if _, err := os.Stat(filepath.Join(h.Root, id)); !errors.Is(err, os.ErrNotExist) {
		h.t.Errorf("state dir of %s still there: %v", id, err)
	}
}

// lcCmdline returns the NUL-separated cmdline of pid with spaces.
func lcCmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// lcPs returns `ps --format json id`.
func lcPs(h *H, id string) []int {
	h.t.Helper()
	r := h.Must("ps", "--format", "json", id)
	var pids []int
	if err := json.Unmarshal([]byte(r.Stdout), &pids); err != nil {
		h.t.Fatalf("ps --format json: %v: %q", err, r.Stdout)
	}
	return pids
}

// lcWaitPids waits until the container's cgroup holds at least n processes.
func lcWaitPids(h *H, id string, n int) []int {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := lcPs(h, id)
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("container %s: pids %v, want %d", id, pids, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLifecycleCreateStartStopDelete walks one container through the OCI
// lifecycle the way containerd's shim does, checking what the shim relies
// on at each step.
func TestLifecycleCreateStartStopDelete(t *testing.T) {
	h := New(t)
	id := h.ID()
	dir := t.TempDir()
	ppidOut := filepath.Join(dir, "ppid")
	// The createRuntime hook runs while create is still running: it
	// records its own parent (the podrun create process) and the init's.
	hook := lcScript(t, filepath.Join(dir, "ppid.sh"), `pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
read -r _ _ _ ppid _ < /proc/$pid/stat
echo "$PPID $ppid" > `+ppidOut)
	bundle := h.EditedBundle(func(s *Spec) {
		s.Root.Readonly = false
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: hook, Env: []string{"PATH=/usr/bin:/bin"}}}}
	}, "sh", "-c", "echo started > /tmp/started; read line; exit 0")
	pidDir := t.TempDir()
	pidFile := filepath.Join(pidDir, "init.pid")

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	create := h.Cmd("create", "--bundle", bundle, "--pid-file", pidFile, id)
	r, err := lcRunCmdIO(create, stdinR, nil)
	stdinR.Close()
	if err != nil || r.Code != 0 {
		t.Fatalf("create: exit %d, %v: %s", r.Code, err, r.Stderr)
	}
	createPid := create.Process.Pid

	st := h.State(id)
	if st["status"] != "created" {
		t.Fatalf("status after create = %v, want created", st["status"])
	}
	pid := int(st["pid"].(float64))
	if pid <= 0 || !running(pid) {
		t.Fatalf("pid after create = %d (alive %v)", pid, running(pid))
	}
	// pid-file: the host pid, no newline, written atomically.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != strconv.Itoa(pid) {
		t.Errorf("pid-file = %q, want %q (no trailing newline)", b, strconv.Itoa(pid))
	}
	if ents, _ := os.ReadDir(pidDir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("pid-file dir holds %v, want only init.pid", names)
	}
	// The init is in the container's cgroup as soon as create returns.
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if !strings.HasSuffix(line, "/"+id) {
			t.Errorf("init not in the container cgroup: %s", line)
		}
	}
	// The init waits for start: the user process has not run yet.
	if c := lcCmdline(pid); !strings.HasPrefix(c, "podrun init") {
		t.Errorf("init cmdline before start = %q, want podrun init", c)
	}
	if _, err := os.Stat(filepath.Join(bundle, "rootfs/tmp/started")); err == nil {
		t.Errorf("user process ran before start")
	}
	// During create the init was a child of podrun create (no daemonizing);
	// once create exited it was reparented.
	out, err := os.ReadFile(ppidOut)
	if err != nil {
		t.Fatalf("createRuntime hook output: %v", err)
	}
	var hookParent, initParent int
	if _, err := fmt.Sscan(string(out), &hookParent, &initParent); err != nil {
		t.Fatalf("hook output %q: %v", out, err)
	}
	if hookParent != createPid || initParent != createPid {
		t.Errorf("during create: hook parent %d, init parent %d; want both the create process %d", hookParent, initParent, createPid)
	}
	if pp := lcPPid(t, pid); pp == createPid {
		t.Errorf("init parent after create is still the exited create process %d", pp)
	}

	// start returns the moment it has released the init, writing nothing
	// more (the consumed exec fifo is what says running), as runc's does:
	// containerd's shim arms its OOM watch only when start has returned,
	// and a container that runs out of memory at once must not beat it.
	stateFile := filepath.Join(h.Root, id, "state.json")
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	lcMust(h, "start", id)
	if after, err := os.ReadFile(stateFile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("start rewrote %s (err %v)", stateFile, err)
	}
	if s := h.Status(id); s != "running" {
		t.Errorf("status after start = %s, want running", s)
	}
	lcWaitFile(t, filepath.Join(bundle, "rootfs/tmp/started"), "started")
	if h.Pid(id) != pid {
		t.Errorf("pid changed by start")
	}
	if c := lcCmdline(pid); !strings.HasPrefix(c, "sh -c") {
		t.Errorf("init cmdline after start = %q, want the user process", c)
	}

	// The user process ends (stdin EOF): stopped, pid 0.
	stdinW.Close()
	h.WaitStatus(id, "stopped")
	if st := h.State(id); st["pid"].(float64) != 0 {
		t.Errorf("pid of a stopped container = %v, want 0", st["pid"])
	}
	h.Must("delete", id)
	lcGone(h, id)
	if r := h.Must("list", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("list -q after delete: %q", r.Stdout)
	}
	AssertClean(t, h.Root)
}

// TestLifecycleRunExitStatus checks that run exits with the container's
// status, or 128+signal when a signal killed it, and deletes the container.
func TestLifecycleRunExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Spec)
		args  []string
		want  int
		empty bool
	}{
		{"exit7", nil, []string{"sh", "-c", "exit 7"}, 7, false},
		{"exit0", nil, []string{"true"}, 0, false},
		{"sigkill", lcNoPidNS, []string{"sh", "-c", "kill -9 $$"}, 128 + 9, false},
		{"sigterm", lcNoPidNS, []string{"sh", "-c", "kill -TERM $$; sleep 5"}, 128 + 15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(t)
			id := h.ID()
			r := h.Run("run", "--bundle", h.EditedBundle(tc.edit, tc.args...), id)
			if r.Code != tc.want {
				t.Errorf("run exit = %d, want %d (stderr %q)", r.Code, tc.want, r.Stderr)
			}
			if r.Stderr != "" {
				t.Errorf("run stderr: %q", r.Stderr)
			}
			lcGone(h, id)
		})
	}
	t.Run("killed", func(t *testing.T) {
		h := New(t)
		id, cmd, _ := lcRunSleeper(h)
		h.Must("kill", id, "KILL")
		code, err := lcWait(cmd, lcTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if code != 137 {
			t.Errorf("run exit = %d, want 137", code)
		}
		lcGone(h, id)
	})
}

// TestLifecycleRunDetach checks that run -d returns with the container
// running, and that it stays until killed.
func TestLifecycleRunDetach(t *testing.T) {
	h := New(t)
	id := h.ID()
	start := time.Now()
	pid := h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run -d took %v", d)
	}
	if s := h.Status(id); s != "running" {
		t.Errorf("status after run -d = %s, want running", s)
	}
	if !running(pid) {
		t.Errorf("init %d not alive after run -d", pid)
	}
	h.Must("kill", id, "KILL")
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)
	lcGone(h, id)
}

// TestLifecycleRunKeep checks that run --keep leaves the stopped
// container for delete.
func TestLifecycleRunKeep(t *testing.T) {
	h := New(t)
	id := h.ID()
	r := h.Run("run", "--keep", "--bundle", h.Bundle(testimage.CheckerInRootfs, "exit", "3"), id)
	if r.Code != 3 {
		t.Fatalf("run --keep exit = %d, want 3 (%s)", r.Code, r.Stderr)
	}
	st := h.State(id)
	if st["status"] != "stopped" || st["pid"].(float64) != 0 {
		t.Errorf("after run --keep: status %v pid %v, want stopped 0", st["status"], st["pid"])
	}
	h.Must("delete", id)
	lcGone(h, id)
}

// TestLifecycleConcurrentKillAndState sends several kills at once (podman
// pod stop) while state is read, and expects no error but "container not
// running", and a consistent state throughout.
func TestLifecycleConcurrentKillAndState(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep", "--ignore", "TERM"), id)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var kills, states []Result
	var errs []error
	sigs := []string{"9", "KILL", "SIGKILL", "15", "9", "TERM", "9", "SIGKILL"}
	for _, sig := range sigs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r, err := lcRunIO(h, nil, nil, "kill", id, sig)
			mu.Lock()
			defer mu.Unlock()
			kills = append(kills, r)
			if err != nil {
				errs = append(errs, err)
			}
		}()
		go func() {
			defer wg.Done()
			r, err := lcRunIO(h, nil, nil, "state", id)
			mu.Lock()
			defer mu.Unlock()
			states = append(states, r)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	ok := 0
	for _, r := range kills {
		switch {
		case r.Code == 0:
			ok++
		case !strings.Contains(r.Stderr, "container not running"):
			t.Errorf("kill: exit %d: %q", r.Code, r.Stderr)
		}
	}
	if ok == 0 {
		t.Errorf("no kill succeeded")
	}
	for _, r := range states {
		var st map[string]any
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
			t.Errorf("state during kills: exit %d: %q %q", r.Code, r.Stdout, r.Stderr)
			continue
		}
		if s := st["status"]; s != "running" && s != "stopped" {
			t.Errorf("state during kills: status %v", s)
		}
	}
	lcWaitDead(t, pid)
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)
}

// TestLifecycleConcurrentCreateSameID races creates of one id: exactly one
// wins, the others fail with "already exists" and leave the winner intact.
func TestLifecycleConcurrentCreateSameID(t *testing.T) {
	h := New(t)
	id := h.ID()
	const n = 4
	bundles := make([]string, n)
	for i := range bundles {
		bundles[i] = h.Bundle(testimage.CheckerInRootfs, "sleep")
	}
	results := make([]Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = lcRunIO(h, nil, nil, "create", "--bundle", bundles[i], id)
		}()
	}
	wg.Wait()
	winner := -1
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r.Code == 0 {
			if winner >= 0 {
				t.Errorf("creates %d and %d both succeeded", winner, i)
			}
			winner = i
		} else if !strings.Contains(r.Stderr, "already exists") {
			t.Errorf("losing create: exit %d: %q", r.Code, r.Stderr)
		}
	}
	if winner < 0 {
		t.Fatal("no create succeeded")
	}
	st := h.State(id)
	if st["status"] != "created" || st["bundle"] != bundles[winner] {
		t.Errorf("state after race: %v", st)
	}
	if ids := strings.Fields(h.Must("list", "-q").Stdout); !slices.Equal(ids, []string{id}) {
		t.Errorf("list -q = %v, want [%s]", ids, id)
	}
	// The winner still works.
	h.Must("start", id)
	if s := h.Status(id); s != "running" {
		t.Errorf("status after start = %s", s)
	}
}

// TestStateJSON checks the keys and values of `state`, which must be
// runc's exactly.
func TestStateJSON(t *testing.T) {
	h := New(t)
	for _, annotated := range []bool{false, true} {
		id := h.ID()
		bundle := h.EditedBundle(func(s *Spec) {
			if annotated {
				s.Annotations = map[string]string{"org.podrun.test": "yes", "io.kubernetes.cri.container-type": "container"}
			}
		}, testimage.CheckerInRootfs, "sleep")
		before := time.Now()
		pid := lcCreate(h, bundle, id)
		after := time.Now()
		r := h.Must("state", id)
		var st map[string]any
		if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
			t.Fatalf("state: %v\n%s", err, r.Stdout)
		}
		want := []string{"bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"}
		if annotated {
			want = append(want, "annotations")
		}
		sort.Strings(want)
		var keys []string
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("state keys = %v, want %v", keys, want)
		}
		if st["id"] != id || st["status"] != "created" || st["pid"] != float64(pid) {
			t.Errorf("state id/status/pid = %v %v %v", st["id"], st["status"], st["pid"])
		}
		if st["bundle"] != bundle || st["rootfs"] != filepath.Join(bundle, "rootfs") {
			t.Errorf("state bundle %v rootfs %v, want %s and its rootfs", st["bundle"], st["rootfs"], bundle)
		}
		if v, _ := st["ociVersion"].(string); !strings.HasPrefix(v, "1.") {
			t.Errorf("ociVersion = %v", st["ociVersion"])
		}
		if _, ok := st["owner"].(string); !ok {
			t.Errorf("owner = %v, want a string", st["owner"])
		}
		created, err := time.Parse(time.RFC3339, fmt.Sprint(st["created"]))
		if err != nil {
			t.Errorf("created %v: not RFC 3339: %v", st["created"], err)
		} else if created.Before(before.Add(-time.Second)) || created.After(after.Add(time.Second)) {
			t.Errorf("created %v not within the create call (%v..%v)", created, before, after)
		}
		if annotated {
			a, _ := st["annotations"].(map[string]any)
			if a["org.podrun.test"] != "yes" || a["io.kubernetes.cri.container-type"] != "container" {
				t.Errorf("annotations = %v", st["annotations"])
			}
		}
	}
}

// TestListFormats checks list's table, -q and --format json.
func TestListFormats(t *testing.T) {
	h := New(t)
	if r := h.Must("list", "--format", "json"); strings.TrimSpace(r.Stdout) != "[]" && strings.TrimSpace(r.Stdout) != "null" {
		t.Errorf("list --format json with no containers = %q", r.Stdout)
	}
	if r := h.Must("list", "-q"); r.Stdout != "" {
		t.Errorf("list -q with no containers = %q", r.Stdout)
	}
	created, running := h.ID(), h.ID()
	cPid := lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), created)
	rBundle := h.Bundle(testimage.CheckerInRootfs, "sleep")
	rPid := h.RunDetached(rBundle, running)
	want := map[string][2]string{created: {strconv.Itoa(cPid), "created"}, running: {strconv.Itoa(rPid), "running"}}

	lines := strings.Split(strings.TrimSpace(h.Must("list").Stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("list: %d lines, want header and 2 rows: %q", len(lines), lines)
	}
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
		t.Errorf("list header = %q", lines[0])
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		w, ok := want[f[0]]
		if !ok || len(f) < 5 || f[1] != w[0] || f[2] != w[1] {
			t.Errorf("list row %q, want one of %v", l, want)
		}
		if _, err := time.Parse(time.RFC3339, f[4]); err != nil {
			t.Errorf("list row %q: created not RFC 3339", l)
		}
		if f[0] == running && f[3] != rBundle {
			t.Errorf("list row %q: bundle, want %s", l, rBundle)
		}
	}

	ids := strings.Fields(h.Must("list", "-q").Stdout)
	sort.Strings(ids)
	wantIDs := []string{created, running}
	sort.Strings(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("list -q = %v, want %v", ids, wantIDs)
	}

	var sts []map[string]any
	r := h.Must("list", "--format", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &sts); err != nil {
		t.Fatalf("list --format json: %v: %q", err, r.Stdout)
	}
	if len(sts) != 2 {
		t.Fatalf("list --format json: %d entries", len(sts))
	}
	for _, st := range sts {
		id, _ := st["id"].(string)
		w, ok := want[id]
		if !ok || fmt.Sprint(st["pid"]) != w[0] || st["status"] != w[1] || st["bundle"] == nil || st["created"] == nil {
			t.Errorf("list --format json entry %v, want %v", st, want)
		}
	}
}

// TestPsFormats checks ps --format json (a JSON array of host pids, what
// the shim parses) and the ps table.
func TestPsFormats(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(h.Bundle("sh", "-c", "sleep 1000 & exec "+testimage.CheckerInRootfs+" sleep"), id)
	pids := lcWaitPids(h, id, 2)
	if len(pids) != 2 || !slices.Contains(pids, pid) {
		t.Errorf("ps --format json = %v, want the init %d and its sleep", pids, pid)
	}
	for _, p := range pids {
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p))
		if !strings.Contains(string(cg), "/"+id+"\n") {
			t.Errorf("pid %d of ps is not in the container cgroup: %s", p, cg)
		}
	}
	lines := strings.Split(strings.TrimSpace(h.Must("ps", id).Stdout), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		t.Fatalf("ps table header %q has no PID", lines[0])
	}
	var got []int
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col {
			p, _ := strconv.Atoi(f[col])
			got = append(got, p)
		}
	}
	slices.Sort(got)
	slices.Sort(pids)
	if !slices.Equal(got, pids) {
		t.Errorf("ps table pids %v, want %v:\n%s", got, pids, strings.Join(lines, "\n"))
	}
	h.Fails("does not exist", "ps", "--format", "json", id+"-nope")
}

// TestKillSignalForms sends signals by number, name and lower-case name
// and the default (SIGTERM), and checks what the process received through
// run's exit status and the checker's output.
func TestKillSignalForms(t *testing.T) {
	for _, tc := range []struct {
		arg  []string
		sig  syscall.Signal
		name string // printed by the checker; "" for SIGKILL
	}{
		{[]string{"9"}, syscall.SIGKILL, ""},
		{[]string{"KILL"}, syscall.SIGKILL, ""},
		{[]string{"SIGKILL"}, syscall.SIGKILL, ""},
		{[]string{"sigterm"}, syscall.SIGTERM, "SIGTERM"},
		{nil, syscall.SIGTERM, "SIGTERM"},
		{[]string{"10"}, syscall.SIGUSR1, "SIGUSR1"},
		{[]string{"HUP"}, syscall.SIGHUP, "SIGHUP"},
		{[]string{"SIGUSR2"}, syscall.SIGUSR2, "SIGUSR2"},
		{[]string{"int"}, syscall.SIGINT, "SIGINT"},
	} {
		name := "default"
		if tc.arg != nil {
			name = tc.arg[0]
		}
		t.Run(name, func(t *testing.T) {
			h := New(t)
			id, cmd, out := lcRunSleeper(h)
			h.Must(append([]string{"kill", id}, tc.arg...)...)
			code, err := lcWait(cmd, lcTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if code != 128+int(tc.sig) {
				t.Errorf("run exit = %d, want %d", code, 128+int(tc.sig))
			}
			b, _ := os.ReadFile(out)
			if tc.name != "" && !strings.Contains(string(b), "signal: "+tc.name) {
				t.Errorf("container output %q, want signal: %s", b, tc.name)
			}
		})
	}
}

// TestKillAll checks that kill --all reaches every process of the
// cgroup, with and without a pid namespace, and also after the init died.
func TestKillAll(t *testing.T) {
	for _, pidns := range []bool{true, false} {
		t.Run(map[bool]string{true: "pidns", false: "hostpid"}[pidns], func(t *testing.T) {
			h := New(t)
			id := h.ID()
			edit := lcNoPidNS
			if pidns {
				edit = nil
			}
			init := h.RunDetached(h.EditedBundle(edit, "sh", "-c", "sleep 1000 & sleep 1000; true"), id)
			pids := lcWaitPids(h, id, 3)
			if !pidns {
				// Without a pid namespace killing the init leaves the
				// others; kill --all after the init died still reaches them.
				h.Must("kill", id, "KILL")
				lcWaitDead(t, init)
				h.WaitStatus(id, "stopped")
				for _, p := range pids {
					if p != init && !running(p) {
						t.Fatalf("pid %d died with the init; the test needs it alive", p)
					}
				}
				h.Fails("container not running", "kill", id, "KILL")
			}
			h.Must("kill", "--all", id, "SIGKILL")
			for _, p := range pids {
				lcWaitDead(t, p)
			}
			h.WaitStatus(id, "stopped")
			h.Must("delete", id)
			lcGone(h, id)
		})
	}
}

// TestKillErrors checks kill's error texts, which the shim matches.
func TestKillErrors(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	for _, sig := range []string{"zzz", "SIGZZZ", "SIG0", "65", "-1"} {
		h.Fails("unknown signal", "kill", id, sig)
	}
	if s := h.Status(id); s != "running" || !running(pid) {
		t.Errorf("after invalid signals: status %s, alive %v", s, running(pid))
	}
	h.Fails("container does not exist", "kill", id+"-nope", "9")
	h.Fails("container does not exist", "kill", id+"-nope")
	h.Must("kill", id, "9")
	lcWaitDead(t, pid)
	h.Fails("container not running", "kill", id, "9")
	h.Fails("container not running", "kill", id)
	h.Must("delete", id)
}

// TestDeleteCreated checks that delete of a created container kills the
// waiting init and removes everything.
func TestDeleteCreated(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	h.Must("delete", id)
	if running(pid) {
		t.Errorf("init %d alive after delete", pid)
	}
	lcGone(h, id)
	AssertClean(t, h.Root)
}

// TestDeleteRunning checks that delete refuses a running container
// without --force, leaving it running, and that --force removes it.
func TestDeleteRunning(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	h.Fails(fmt.Sprintf("cannot delete container %s that is not stopped: running", id), "delete", id)
	if s := h.Status(id); s != "running" || !running(pid) {
		t.Errorf("after refused delete: status %s, alive %v", s, running(pid))
	}
	h.Must("delete", "--force", id)
	if running(pid) {
		t.Errorf("init %d alive after delete --force", pid)
	}
	lcGone(h, id)
	AssertClean(t, h.Root)
}

// TestDeleteStoppedKillsLeftovers checks that delete of a stopped
// container (no pid namespace, init dead) kills what is left in its cgroup.
func TestDeleteStoppedKillsLeftovers(t *testing.T) {
	h := New(t)
	id := h.ID()
	init := h.RunDetached(h.EditedBundle(lcNoPidNS, "sh", "-c", "sleep 1000 & sleep 1000; true"), id)
	pids := lcWaitPids(h, id, 3)
	h.Must("kill", id, "KILL")
	lcWaitDead(t, init)
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)
	for _, p := range pids {
		if running(p) {
			t.Errorf("pid %d of the container alive after delete", p)
		}
	}
	lcGone(h, id)
	AssertClean(t, h.Root)
}

// TestDeleteUnknown checks delete of an id that does not exist: an error,
// but success with --force (every containerd cleanup does that).
func TestDeleteUnknown(t *testing.T) {
	h := New(t)
	id := h.ID()
	h.Fails("does not exist", "delete", id)
	h.Must("delete", "--force", id)
	h.Must("delete", "-f", id)
	AssertClean(t, h.Root)
}

// TestStateDuringSlowCreate reads state and list while a create waits in
// a hook: they must answer at once ("creating"), not wait for the create
// (hooks have no timeout unless the spec sets one).
func TestStateDuringSlowCreate(t *testing.T) {
	h := New(t)
	id := h.ID()
	dir := t.TempDir()
	ready, release := filepath.Join(dir, "ready"), filepath.Join(dir, "release")
	hook := lcScript(t, filepath.Join(dir, "wait.sh"), "echo ready > "+ready+"; while [ ! -e "+release+" ]; do sleep 0.01; done")
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: hook, Env: []string{"PATH=/usr/bin:/bin"}}}}
	}, testimage.CheckerInRootfs, "sleep")
	createDone := make(chan error, 1)
	go func() {
		r, err := lcRunIO(h, nil, nil, "create", "--bundle", bundle, id)
		if err == nil && r.Code != 0 {
			err = fmt.Errorf("create: exit %d: %s", r.Code, r.Stderr)
		}
		createDone <- err
	}()
	var once sync.Once
	var createErr error
	finish := func() error {
		once.Do(func() {
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				createErr = err
				return
			}
			createErr = <-createDone
		})
		return createErr
	}
	defer finish()
	lcWaitFile(t, ready, "ready")
	for _, args := range [][]string{{"state", id}, {"list", "--format", "json"}} {
		start := time.Now()
		r, err := lcRunCmdIOTimeout(h.Cmd(args...), nil, nil, 5*time.Second)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v during a create waiting in a hook took %v", args, d)
		}
		if err != nil || r.Code != 0 || !strings.Contains(r.Stdout, `"creating"`) {
			t.Errorf("%v during create: exit %d %v: %q %q", args, r.Code, err, r.Stdout, r.Stderr)
		}
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if s := h.Status(id); s != "created" {
		t.Errorf("status after the create finished = %s", s)
	}
}

// TestListSkipsUnreadable checks that one container with an unreadable
// state does not hide the others from list (runc warns and goes on).
func TestListSkipsUnreadable(t *testing.T) {
	h := New(t)
	good, bad := h.ID(), h.ID()
	lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), good)
	lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), bad)
	path := filepath.Join(h.Root, bad, "state.json")
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.Run("list", "-q")
	// Put it back so that cleanup can delete it.
	if err := os.WriteFile(path, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != good {
		t.Errorf("list -q with an unreadable container: exit %d, %q, want just %s (stderr %q)", r.Code, r.Stdout, good, r.Stderr)
	}
	if !strings.Contains(r.Stderr, bad) {
		t.Errorf("list -q: no warning naming %s: %q", bad, r.Stderr)
	}
}

// TestKillCreated checks that a created container can be signalled (the
// waiting init dies; the user process never runs).
func TestKillCreated(t *testing.T) {
	for _, sig := range []string{"KILL", "TERM"} {
		t.Run(sig, func(t *testing.T) {
			h := New(t)
			id := h.ID()
			pid := lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
			h.Must("kill", id, sig)
			lcWaitDead(t, pid)
			h.WaitStatus(id, "stopped")
			h.Fails("stopped", "start", id)
			h.Must("delete", id)
			lcGone(h, id)
		})
	}
}

// TestConcurrentStart races starts of one created container: exactly one
// succeeds.
func TestConcurrentStart(t *testing.T) {
	h := New(t)
	id := h.ID()
	lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	const n = 4
	results := make([]Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = lcRunIO(h, nil, nil, "start", id)
		}()
	}
	wg.Wait()
	ok := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r.Code == 0 {
			ok++
		} else if !strings.Contains(r.Stderr, "cannot start an already running container") {
			t.Errorf("losing start: exit %d: %q", r.Code, r.Stderr)
		}
	}
	if ok != 1 {
		t.Errorf("%d starts succeeded, want 1", ok)
	}
	if s := h.Status(id); s != "running" {
		t.Errorf("status = %s, want running", s)
	}
}

// TestCreatePidFileError checks that a pid-file that cannot be written
// fails create after the init started, and leaves nothing.
func TestCreatePidFileError(t *testing.T) {
	h := New(t)
	bundle := h.Bundle(testimage.CheckerInRootfs, "sleep")
	h.Fails("pid file", "create", "--bundle", bundle, "--pid-file", filepath.Join(t.TempDir(), "no", "dir", "pid"), h.ID())
	lcAssertNothing(t, h)
	// A relative pid-file is relative to the caller's directory.
	dir := t.TempDir()
	id := h.ID()
	cmd := h.Cmd("create", "--bundle", bundle, "--pid-file", "init.pid", id)
	cmd.Dir = dir
	if r, err := lcRunCmdIO(cmd, nil, nil); err != nil || r.Code != 0 {
		t.Fatalf("create: %v %d %s", err, r.Code, r.Stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "init.pid")); string(b) != strconv.Itoa(h.Pid(id)) {
		t.Errorf("relative pid-file = %q, want %d", b, h.Pid(id))
	}
}
