package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
)

// Cgroup tests: limits seen from inside the container and by their
// effect, update, pause/resume, events and OOM, bad values, and many
// containers at once. Every test is named TestCgroup* so that `make
// test-vm` can run just these in the cgroup v2 and systemd VMs.
//
// With PODRUN_TEST_CGROUP_DRIVER=systemd, create and run get
// --systemd-cgroup (the systemd driver); every later call goes without
// the flag, as podman's do, so the driver must come from the state.

func cgSystemd() bool { return os.Getenv("PODRUN_TEST_CGROUP_DRIVER") == "systemd" }

// cgCreateArgs completes a create or run command line ("create", flags,
// "--bundle", B, ID): with the systemd driver it adds --systemd-cgroup
// (the unit is system.slice/podrun-<id>.scope); with cgroupfs it gives
// the container its own bundle with cgroupsPath /<cgParent>/<id>.
func cgCreateArgs(h *H, args ...string) []string {
	h.t.Helper()
	if cgSystemd() {
		return append([]string{"--systemd-cgroup"}, args...)
	}
	args = append([]string(nil), args...)
	id := args[len(args)-1]
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--bundle" {
			args[i+1] = cgContainerBundle(h, args[i+1], id)
		}
	}
	return args
}

func cgV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgNew returns a harness whose cleanup also checks that no cgroup of the
// test's containers is left, with any name around the id (systemd scopes
// are "podrun-<id>.scope").
func cgNew(t *testing.T) *H {
	t.Helper()
	// The ids' prefix, as H.ID makes them.
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	prefix := fmt.Sprintf("podrun-test-%s-%d-", strings.ToLower(name), os.Getpid())
	// Registered before New's cleanup, so it runs after the deletes.
	t.Cleanup(func() {
		if t.Skipped() {
			return
		}
		// The parents of cgCreateArgs' cgroupsPath, like runc, are
		// left by delete; remove the empty ones.
		_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if d.Name() == cgParent() {
				_ = unix.Rmdir(p)
				return filepath.SkipDir
			}
			if strings.Count(p, "/") > 5 {
				return filepath.SkipDir
			}
			return nil
		})
		_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Contains(d.Name(), prefix) {
				t.Errorf("cgroup left: %s", p)
				return filepath.SkipDir
			}
			return nil
		})
	})
	return New(t)
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func resources(s *Spec) *specs.LinuxResources {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	return s.Linux.Resources
}

// cgParent is the parent cgroup of this test binary's containers with the
// cgroupfs driver: they get an absolute cgroupsPath /<cgParent>/<id>, as
// containerd (/<namespace>/<id>) and podman (/libpod_parent/...) give.
// The default ("": nested under our own cgroup) cannot work on a cgroup
// v2 host when we run in a cgroup with processes, as in the VM's
// /init.scope: v2 allows neither controllers nor child cgroups with
// processes below a cgroup that has processes itself.
func cgParent() string { return fmt.Sprintf("podrun-cgtest-%d", os.Getpid()) }

// cgContainerBundle returns a bundle for container id: a directory with
// bundle's config.json, its root.path made absolute (the rootfs is
// shared) and cgroupsPath /<cgParent>/<id>.
func cgContainerBundle(h *H, bundle, id string) string {
	h.t.Helper()
	s := testimage.Spec(h.t, bundle)
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	if s.Linux.CgroupsPath == "" {
		s.Linux.CgroupsPath = "/" + cgParent() + "/" + id
	}
	dir := filepath.Join(h.t.TempDir(), id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	testimage.WriteSpec(h.t, dir, s)
	return dir
}

// cgStart runs bundle detached (stdio on /dev/null) and returns the pid.
func cgStart(h *H, bundle, id string) int {
	h.t.Helper()
	h.MustNoPipes(h.Cmd(cgCreateArgs(h, "run", "-d", "--bundle", bundle, id)...))
	pid := h.Pid(id)
	if pid <= 0 {
		h.t.Fatalf("container %s: pid %d after run -d", id, pid)
	}
	return pid
}

// cgFile is a cgroup file as the container sees it under /sys/fs/cgroup
// (its own cgroup is the root there: cgroup namespace), v1 or v2.
func cgFile(v1Controller, v1File, v2File string) string {
	if cgV2() {
		return "/sys/fs/cgroup/" + v2File
	}
	return "/sys/fs/cgroup/" + v1Controller + "/" + v1File
}

// cgHostFile returns the host path of a cgroup file of process pid.
func cgHostFile(t *testing.T, pid int, v1Controller, v1File, v2File string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if cgV2() && parts[0] == "0" {
			return filepath.Join("/sys/fs/cgroup", parts[2], v2File)
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !cgV2() && c == v1Controller {
				return filepath.Join("/sys/fs/cgroup", v1Controller, parts[2], v1File)
			}
		}
	}
	t.Fatalf("pid %d: no %s cgroup in %q", pid, v1Controller, b)
	return ""
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// cgCatScript prints "path=content" for each file, with shell builtins
// only (read), so it works at a pids limit too.
const cgCatScript = `for f; do if read -r v < "$f"; then echo "$f=$v"; else echo "$f=ERR"; fi; done`

// parseKV parses the "path=value" lines of cgCatScript.
func parseKV(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestCgroupLimitsInside(t *testing.T) {
	h := cgNew(t)
	mem, pidsMax, quota, period := int64(64<<20), int64(64), int64(50000), uint64(100000)
	files := []string{
		cgFile("memory", "memory.limit_in_bytes", "memory.max"),
		cgFile("pids", "pids.max", "pids.max"),
		cgFile("cpuset", "cpuset.cpus", "cpuset.cpus"),
	}
	if cgV2() {
		files = append(files, "/sys/fs/cgroup/cpu.max")
	} else {
		files = append(files, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu/cpu.shares")
	}
	b := h.EditedBundle(func(s *Spec) {
		r := resources(s)
		r.Memory = &specs.LinuxMemory{Limit: i64p(mem)}
		r.Pids = &specs.LinuxPids{Limit: i64p(pidsMax)}
		r.CPU = &specs.LinuxCPU{Quota: i64p(quota), Period: u64p(period), Shares: u64p(512), Cpus: "0"}
	}, append([]string{"sh", "-c", cgCatScript, "sh"}, files...)...)
	r := h.Must(cgCreateArgs(h, "run", "--bundle", b, h.ID())...)
	got := parseKV(r.Stdout)
	want := map[string]string{
		files[0]: strconv.FormatInt(mem, 10),
		files[1]: strconv.FormatInt(pidsMax, 10),
		files[2]: "0",
	}
	if cgV2() {
		want["/sys/fs/cgroup/cpu.max"] = "50000 100000"
	} else {
		want["/sys/fs/cgroup/cpu/cpu.cfs_quota_us"] = "50000"
		want["/sys/fs/cgroup/cpu/cpu.cfs_period_us"] = "100000"
		want["/sys/fs/cgroup/cpu/cpu.shares"] = "512"
	}
	for f, w := range want {
		if got[f] != w {
			t.Errorf("inside the container %s = %q, want %q", f, got[f], w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s\n%s", r.Stdout, r.Stderr)
	}
}

// A fork bomb (bounded: 60 background sleeps) stops at the pids limit.
func TestCgroupPidsLimitStopsForks(t *testing.T) {
	h := cgNew(t)
	const limit = 16
	cur := cgFile("pids", "pids.current", "pids.current")
	events := cgFile("pids", "pids.events", "pids.events")
	// busybox sh gives up at its first failed fork: the forking shell is
	// a child, and the outer one reads the counters with builtins.
	script := `sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); sleep 100 & done' 2>/dev/null
read -r c < ` + cur + `; echo "current=$c"
read -r e < ` + events + `; echo "events=$e"`
	b := h.EditedBundle(func(s *Spec) {
		resources(s).Pids = &specs.LinuxPids{Limit: i64p(limit)}
	}, "sh", "-c", script)
	r := h.Run(cgCreateArgs(h, "run", "--bundle", b, h.ID())...)
	kv := parseKV(r.Stdout)
	n, err := strconv.Atoi(kv["current"])
	if err != nil || n > limit || n < limit/2 {
		t.Errorf("pids.current = %q after 60 forks, want at most (and near) %d\nstdout: %s\nstderr: %s", kv["current"], limit, r.Stdout, r.Stderr)
	}
	if f := strings.Fields(kv["events"]); len(f) != 2 || f[0] != "max" || f[1] == "0" {
		t.Errorf("pids.events = %q, want refused forks counted", kv["events"])
	}
}

// lineReader collects the lines a command prints.
type lineReader struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func readLines(r io.Reader) *lineReader {
	lr := &lineReader{done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			lr.mu.Lock()
			lr.lines = append(lr.lines, sc.Text())
			lr.mu.Unlock()
		}
	}()
	return lr
}

func (lr *lineReader) Lines() []string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]string(nil), lr.lines...)
}

type cgEvent struct {
	Type string                     `json:"type"`
	ID   string                     `json:"id"`
	Data map[string]json.RawMessage `json:"data"`
}

func parseEvent(t *testing.T, line string) cgEvent {
	t.Helper()
	var e cgEvent
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatalf("events line %q: %v", line, err)
	}
	return e
}

// startEvents runs `podrun events --interval 100ms id` and waits for its
// first stats event (so OOM notification is armed).
func startEvents(h *H, id string) (*exec.Cmd, *lineReader) {
	h.t.Helper()
	cmd := h.Cmd("events", "--interval", "100ms", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lr := readLines(out)
	if !waitFor(30*time.Second, func() bool { return len(lr.Lines()) > 0 }) {
		h.t.Fatal("events: no stats event within 30s")
	}
	return cmd, lr
}

// waitExit waits (bounded) for cmd to end on its own.
func waitExit(t *testing.T, cmd *exec.Cmd, lr *lineReader, timeout time.Duration) {
	t.Helper()
	select {
	case <-lr.done:
	case <-time.After(timeout):
		t.Fatalf("%v still running %s after the container stopped", cmd.Args, timeout)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("%v: %v", cmd.Args, err)
	}
}

// A memory hog over the limit is OOM-killed; events reports it and the
// state says so, while the container runs (a child killed) and after its
// init died (the init killed).
func TestCgroupMemoryOOM(t *testing.T) {
	h := cgNew(t)
	const hog = "dd if=/dev/zero of=/dev/null bs=160M count=1"

	// A child of the init is killed; the container lives on.
	id, ev, lr := oomContainer(h, "sh", "-c", hog+"; echo done > /dev/shm/done; exec sleep 1000")
	h.Must("start", id)
	pid := h.Pid(id)
	if !waitFor(30*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/dev/shm/done", pid))
		return err == nil
	}) {
		t.Fatal("the hog did not end")
	}
	if !waitFor(10*time.Second, func() bool { return countOOM(t, lr, id) > 0 }) {
		t.Errorf("no oom event for the killed child; events:\n%s", strings.Join(lr.Lines(), "\n"))
	}
	if st := h.State(id); st["oomKilled"] != true || st["status"] != "running" {
		t.Errorf("state after a child's OOM kill: %v, want running and oomKilled true", st)
	}
	h.Must("kill", id, "9")
	waitExit(t, ev, lr, 20*time.Second)
	h.Must("delete", id)

	// The init itself is killed.
	id, ev, lr = oomContainer(h, strings.Fields(hog)...)
	h.Must("start", id)
	h.WaitStatus(id, "stopped")
	waitExit(t, ev, lr, 20*time.Second)
	// With the systemd driver the scope, and the OOM counter with it, is
	// removed as soon as it is empty (Delegate=yes makes its OOMPolicy
	// "continue", so the unit does not fail with "oom-kill" either): only
	// a watcher that reads the counter before systemd removes the cgroup
	// sees the kill. That is a race podrun can lose there.
	if n := countOOM(t, lr, id); n == 0 && !cgSystemd() {
		t.Errorf("no oom event; events:\n%s", strings.Join(lr.Lines(), "\n"))
	} else if n == 0 {
		t.Logf("systemd driver: the oom event of the init was lost to the scope's removal")
	}
	if st := h.State(id); st["oomKilled"] != true && !cgSystemd() {
		t.Errorf("state after the OOM kill: %v, want oomKilled true", st)
	}
	h.Must("delete", id)
}

// oomContainer creates a container with a 48M memory limit running args
// and starts `events` on it.
func oomContainer(h *H, args ...string) (string, *exec.Cmd, *lineReader) {
	h.t.Helper()
	id := h.ID()
	b := h.EditedBundle(func(s *Spec) {
		resources(s).Memory = &specs.LinuxMemory{Limit: i64p(48 << 20)}
	}, args...)
	h.MustNoPipes(h.Cmd(cgCreateArgs(h, "create", "--bundle", b, id)...))
	ev, lr := startEvents(h, id)
	return id, ev, lr
}

// countOOM counts the oom events of id, checking every line's shape.
func countOOM(t *testing.T, lr *lineReader, id string) int {
	t.Helper()
	n := 0
	for _, l := range lr.Lines() {
		e := parseEvent(t, l)
		if e.ID != id {
			t.Errorf("event for %q, want %q: %s", e.ID, id, l)
		}
		if e.Type == "oom" {
			n++
			if l != fmt.Sprintf(`{"type":"oom","id":"%s"}`, id) {
				t.Errorf("oom event %s, want runc's shape", l)
			}
		}
	}
	return n
}

func TestCgroupUpdate(t *testing.T) {
	h := cgNew(t)
	id := h.ID()
	pid := cgStart(h, h.EditedBundle(func(s *Spec) {
		r := resources(s)
		r.Pids = &specs.LinuxPids{Limit: i64p(100)}
		r.Memory = &specs.LinuxMemory{Limit: i64p(64 << 20)}
	}, "sleep", "1000"), id)
	pidsMax := cgHostFile(t, pid, "pids", "pids.max", "pids.max")
	memMax := cgHostFile(t, pid, "memory", "memory.limit_in_bytes", "memory.max")
	if got := readTrim(t, pidsMax); got != "100" {
		t.Fatalf("pids.max %q before update, want 100", got)
	}

	h.Must("update", "--pids-limit", "50", "--memory", "128M", id)
	if got := readTrim(t, pidsMax); got != "50" {
		t.Errorf("pids.max %q after update --pids-limit 50", got)
	}
	if got := readTrim(t, memMax); got != strconv.Itoa(128<<20) {
		t.Errorf("memory limit %q after update --memory 128M", got)
	}
	// Inside the container, through exec.
	in := cgFile("pids", "pids.max", "pids.max")
	if r := h.Must("exec", id, "cat", in); strings.TrimSpace(r.Stdout) != "50" {
		t.Errorf("inside: %s = %q, want 50", in, r.Stdout)
	}

	// --resources - (containerd) and --resources=FILE (podman).
	cmd := h.Cmd("update", "--resources", "-", id)
	cmd.Stdin = strings.NewReader(`{"cpu":{"quota":20000,"period":100000}}`)
	if r := h.RunCmd(cmd); r.Code != 0 {
		t.Fatalf("update --resources -: %s", r.Stderr)
	}
	if cgV2() {
		if got := readTrim(t, cgHostFile(t, pid, "cpu", "", "cpu.max")); got != "20000 100000" {
			t.Errorf("cpu.max %q after update", got)
		}
	} else if got := readTrim(t, cgHostFile(t, pid, "cpu", "cpu.cfs_quota_us", "")); got != "20000" {
		t.Errorf("cpu.cfs_quota_us %q after update", got)
	}
	f := filepath.Join(t.TempDir(), "res.json")
	if err := os.WriteFile(f, []byte(`{"pids":{"limit":42}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Must("update", "--resources="+f, id)
	if got := readTrim(t, pidsMax); got != "42" {
		t.Errorf("pids.max %q after update --resources=FILE", got)
	}
	// The earlier updates stay (merged, stored): memory is still 128M.
	h.Must("update", "--cpu-quota", "30000", id)
	if got := readTrim(t, memMax); got != strconv.Itoa(128<<20) {
		t.Errorf("memory limit %q after a later cpu update", got)
	}

	// Bad values: one line naming the field; the limit is unchanged.
	h.Fails("linux.resources.cpu.quota", "update", "--cpu-quota", "10", id)
	h.Fails("--memory", "update", "--memory", "lots", id)
	h.Fails("linux.resources.pids.limit", "update", "--pids-limit", "-5", id)
	if got := readTrim(t, pidsMax); got != "42" {
		t.Errorf("pids.max %q after failed updates, want 42", got)
	}

	h.Must("kill", id, "9")
	h.WaitStatus(id, "stopped")
	h.Fails("container not running", "update", "--pids-limit", "5", id)
	h.Fails("does not exist", "update", "--pids-limit", "5", "no-such-container")
}

func TestCgroupPauseResume(t *testing.T) {
	h := cgNew(t)
	const counter = `i=0; while :; do i=$((i+1)); echo $i > /dev/shm/c; sleep 0.05; done`
	start := func() (string, int) {
		id := h.ID()
		return id, cgStart(h, h.EditedBundle(nil, "sh", "-c", counter), id)
	}
	// tryRead reads the counter once: the file is missing until the shell
	// first writes it, and empty for a moment at each write (truncate, then
	// write).
	tryRead := func(pid int) (int, bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/c", pid))
		n, err2 := strconv.Atoi(strings.TrimSpace(string(b)))
		return n, err == nil && err2 == nil
	}
	read := func(pid int) int {
		for i := 0; i < 50; i++ {
			if n, ok := tryRead(pid); ok {
				return n
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("cannot read the counter of pid %d", pid)
		return 0
	}
	frozen := func(pid int) bool {
		if cgV2() {
			return strings.Contains(readTrim(t, cgHostFile(t, pid, "", "", "cgroup.events")), "frozen 1")
		}
		return readTrim(t, cgHostFile(t, pid, "freezer", "freezer.state", "")) == "FROZEN"
	}

	id, pid := start()
	// The first write can take a while in a slow VM: the whole wait, not
	// read's one second, is the budget for it.
	if !waitFor(20*time.Second, func() bool { n, ok := tryRead(pid); return ok && n > 1 }) {
		t.Fatal("counter does not move")
	}
	h.Must("pause", id)
	if s := h.Status(id); s != "paused" {
		t.Errorf("status %q after pause", s)
	}
	if !frozen(pid) {
		t.Error("cgroup not frozen after pause")
	}
	c1 := read(pid)
	time.Sleep(500 * time.Millisecond)
	if c2 := read(pid); c2 != c1 {
		t.Errorf("counter moved while paused: %d -> %d", c1, c2)
	}
	h.Fails("container not running", "pause", id)
	h.Fails("paused", "exec", id, "true")
	h.Must("resume", id)
	if s := h.Status(id); s != "running" {
		t.Errorf("status %q after resume", s)
	}
	if frozen(pid) {
		t.Error("cgroup frozen after resume")
	}
	if !waitFor(20*time.Second, func() bool { n, ok := tryRead(pid); return ok && n > c1 }) {
		t.Error("counter does not move after resume")
	}
	h.Fails("container not paused", "resume", id)

	// kill of a paused container works (SIGKILL thaws, as runc).
	h.Must("pause", id)
	h.Must("kill", id, "KILL")
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)

	// delete --force of a paused container thaws and kills.
	id, _ = start()
	h.Must("pause", id)
	t0 := time.Now()
	h.Must("delete", "--force", id)
	if d := time.Since(t0); d > 8*time.Second {
		t.Errorf("delete --force of a paused container took %s", d)
	}
	h.Fails("does not exist", "state", id)

	// kill --all of a paused container with SIGKILL.
	id, _ = start()
	h.Must("pause", id)
	h.Must("kill", "--all", id, "9")
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)

	h.Fails("does not exist", "pause", "no-such-container-x")
}

// kill --all freezes, signals and thaws: a shell forking as fast as it
// can (without a pid namespace, so nothing dies with the init) is gone
// after one kill --all.
func TestCgroupKillAllForking(t *testing.T) {
	h := cgNew(t)
	id := h.ID()
	b := h.EditedBundle(func(s *Spec) {
		var nss []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.PIDNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
		resources(s).Pids = &specs.LinuxPids{Limit: i64p(200)}
	}, "sh", "-c", `while :; do (sleep 1000 &) ; sleep 0.01; done`)
	pid := cgStart(h, b, id)
	procs := cgHostFile(t, pid, "pids", "cgroup.procs", "cgroup.procs")
	time.Sleep(500 * time.Millisecond)
	h.Must("kill", "--all", id, "9")
	h.WaitStatus(id, "stopped")
	if !waitFor(10*time.Second, func() bool {
		b, err := os.ReadFile(procs)
		return err != nil || strings.TrimSpace(string(b)) == ""
	}) {
		b, _ := os.ReadFile(procs)
		t.Errorf("processes left after kill --all: %q", b)
	}
	h.Must("delete", id)
}

var runcStatsKeys = []string{"cpu", "memory", "pids", "blkio", "hugetlb", "intel_rdt"}

func TestCgroupEventsStats(t *testing.T) {
	h := cgNew(t)
	id := h.ID()
	cgStart(h, h.EditedBundle(func(s *Spec) {
		r := resources(s)
		r.Pids = &specs.LinuxPids{Limit: i64p(30)}
		r.Memory = &specs.LinuxMemory{Limit: i64p(64 << 20)}
	}, "sleep", "1000"), id)

	r := h.Must("events", "--stats", id)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("events --stats printed %d lines, want 1:\n%s", len(lines), r.Stdout)
	}
	e := parseEvent(t, lines[0])
	if e.Type != "stats" || e.ID != id {
		t.Errorf("event type %q id %q, want stats %q", e.Type, e.ID, id)
	}
	for _, k := range runcStatsKeys {
		if _, ok := e.Data[k]; !ok {
			t.Errorf("stats data lacks runc's key %q: %s", k, lines[0])
		}
	}
	var pids struct{ Current, Limit uint64 }
	_ = json.Unmarshal(e.Data["pids"], &pids)
	if pids.Current < 1 || pids.Limit != 30 {
		t.Errorf("pids stats %+v, want current >= 1 and limit 30", pids)
	}
	var mem struct {
		Usage struct{ Usage, Limit uint64 } `json:"usage"`
	}
	_ = json.Unmarshal(e.Data["memory"], &mem)
	if mem.Usage.Limit != 64<<20 || mem.Usage.Usage == 0 {
		t.Errorf("memory stats %+v, want limit 64M and some usage", mem)
	}

	// Streaming: one stats event per interval, until the container stops.
	ev, lr := startEvents(h, id)
	if !waitFor(20*time.Second, func() bool { return len(lr.Lines()) >= 3 }) {
		t.Errorf("events --interval 100ms: %d lines", len(lr.Lines()))
	}
	h.Must("kill", id, "9")
	waitExit(t, ev, lr, 20*time.Second)
	for _, l := range lr.Lines() {
		if e := parseEvent(t, l); e.Type != "stats" || e.ID != id {
			t.Errorf("unexpected event %s", l)
		}
	}
	h.Fails("not running", "events", "--stats", id)
	h.Fails("duration interval must be greater than 0", "events", "--interval", "0s", id)
	h.Must("delete", id)
	h.Fails("does not exist", "events", id)
}

// Bad values fail create with one line naming the field, and leave no
// state dir or cgroup (the harness's cleanup checks).
func TestCgroupBadValues(t *testing.T) {
	h := cgNew(t)
	cases := []struct {
		field string
		edit  func(*specs.LinuxResources)
	}{
		{"linux.resources.memory.limit", func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: i64p(-5)} }},
		{"linux.resources.pids.limit", func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: i64p(-7)} }},
		{"linux.resources.cpu.quota", func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Quota: i64p(-20)} }},
		{"linux.resources.cpu.cpus", func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: "4000"} }},
		{"linux.resources.unified", func(r *specs.LinuxResources) { r.Unified = map[string]string{"no.such.key": "1"} }},
		{"linux.resources.unified", func(r *specs.LinuxResources) { r.Unified = map[string]string{"../escape": "1"} }},
	}
	for _, c := range cases {
		id := h.ID()
		b := h.EditedBundle(func(s *Spec) { c.edit(resources(s)) }, "true")
		r := h.Fails(c.field, cgCreateArgs(h, "create", "--bundle", b, id)...)
		if strings.Count(r.Stderr, c.field) > 1 {
			t.Errorf("field named twice: %q", r.Stderr)
		}
		h.Fails("does not exist", "state", id)
	}
}

// Many containers created and deleted at once leave no cgroup behind.
func TestCgroupManyContainers(t *testing.T) {
	h := cgNew(t)
	n := 100
	if v, err := strconv.Atoi(os.Getenv("PODRUN_TEST_CGROUP_MANY")); err == nil && v > 0 {
		n = v
	}
	b := h.EditedBundle(func(s *Spec) {
		resources(s).Pids = &specs.LinuxPids{Limit: i64p(10)}
	}, "sleep", "1000")
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.ID()
	}
	tmp := t.TempDir()
	t0 := time.Now()
	parallel := func(f func(id string) error) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		errs := make(chan error, n)
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := f(id); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	podrun := func(args ...string) error {
		cmd := h.Cmd(args...)
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer null.Close()
		// A file, not a pipe: the container keeps run -d's stdio.
		errf, err := os.CreateTemp(tmp, "stderr")
		if err != nil {
			return err
		}
		defer errf.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, errf
		if err := cmd.Run(); err != nil {
			msg, _ := os.ReadFile(errf.Name())
			return fmt.Errorf("podrun %s: %v: %s", strings.Join(args, " "), err, msg)
		}
		return nil
	}
	runArgs := map[string][]string{}
	for _, id := range ids {
		runArgs[id] = cgCreateArgs(h, "run", "-d", "--bundle", b, id)
	}
	parallel(func(id string) error { return podrun(runArgs[id]...) })
	created := time.Since(t0)
	parallel(func(id string) error { return podrun("delete", "--force", id) })
	t.Logf("%d containers: run -d in %s, delete --force in %s", n, created, time.Since(t0)-created)
	if d := time.Since(t0); d > 5*time.Minute {
		t.Errorf("%d containers took %s", n, d)
	}
	if ents, _ := os.ReadDir(h.Root); len(ents) > 0 {
		t.Errorf("%d state dirs left", len(ents))
	}
}

// The systemd driver: the container runs in a transient scope; later
// calls without --systemd-cgroup find the driver in the state.
func TestCgroupSystemdDriver(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not the init here")
	}
	h := cgNew(t)
	id := h.ID()
	b := h.EditedBundle(func(s *Spec) {
		resources(s).Pids = &specs.LinuxPids{Limit: i64p(33)}
	}, "sleep", "1000")
	h.MustNoPipes(h.Cmd("--systemd-cgroup", "run", "-d", "--bundle", b, id))
	pid := h.Pid(id)
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	unit := "podrun-" + id + ".scope"
	if !strings.Contains(string(cg), "/system.slice/"+unit) {
		t.Errorf("init's cgroup %q, want in system.slice/%s", cg, unit)
	}
	if out, err := exec.Command("systemctl", "is-active", unit).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "active" {
		t.Errorf("systemctl is-active %s: %s %v", unit, out, err)
	}
	pidsMax := cgHostFile(t, pid, "pids", "pids.max", "pids.max")
	if got := readTrim(t, pidsMax); got != "33" {
		t.Errorf("pids.max %q, want 33", got)
	}
	// No --systemd-cgroup from here on (podman's calls have no global flags).
	h.Must("update", "--pids-limit", "44", id)
	if got := readTrim(t, pidsMax); got != "44" {
		t.Errorf("pids.max %q after update, want 44", got)
	}
	h.Must("pause", id)
	h.Must("resume", id)
	h.Must("events", "--stats", id)
	h.Must("delete", "--force", id)
	if out, _ := exec.Command("systemctl", "is-active", unit).CombinedOutput(); strings.TrimSpace(string(out)) == "active" {
		t.Errorf("scope %s still active after delete", unit)
	}
}

// TestCgroupCreateFrozen: a container whose cgroup (or, before it exists,
// its parent) is frozen fails create and run at once with runc's error,
// instead of waiting forever for an init that cannot run, and leaves
// nothing behind. A cgroup with processes in it gets runc's warning.
func TestCgroupCreateFrozen(t *testing.T) {
	if cgSystemd() {
		t.Skip("cgroupsPath of the cgroupfs driver")
	}
	h := cgNew(t)
	// A frozen cgroup of the test's own, in the hierarchy that freezes.
	frozenPath := fmt.Sprintf("/%s/frozen-%d", cgParent(), os.Getpid())
	dir := filepath.Join("/sys/fs/cgroup/freezer", frozenPath)
	freeze, thaw := "freezer.state", []string{"FROZEN", "THAWED"}
	if cgV2() {
		dir = filepath.Join("/sys/fs/cgroup", frozenPath)
		freeze, thaw = "cgroup.freeze", []string{"1", "0"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(dir, freeze), []byte(thaw[1]), 0)
		// Gone already when a container's delete removed it.
		if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
			t.Errorf("removing the test's frozen cgroup: %v", err)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, freeze), []byte(thaw[0]), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cmd, cgroupsPath string }{
		{"create", frozenPath},
		{"run", frozenPath},
		{"create", frozenPath + "/child"}, // a new cgroup starts frozen
	} {
		id := h.ID()
		b := h.EditedBundle(func(s *Spec) { s.Linux.CgroupsPath = tc.cgroupsPath }, "true")
		h.Fails("container's cgroup unexpectedly frozen", tc.cmd, "--bundle", b, id)
		lcAssertNothing(t, h)
		// Not even the other hierarchies' directories were made.
		hs, _ := os.ReadDir("/sys/fs/cgroup")
		for _, hd := range append(hs, nil) {
			base := "/sys/fs/cgroup"
			if hd != nil {
				base = filepath.Join(base, hd.Name())
			}
			for _, p := range []string{filepath.Join(base, frozenPath), filepath.Join(base, frozenPath, "child")} {
				if _, err := os.Stat(p); err == nil && p != dir {
					t.Errorf("%s %s: cgroup %s made", tc.cmd, tc.cgroupsPath, p)
				}
			}
		}
	}
	// Thawed, with a process in it: the create works and warns as runc.
	if err := os.WriteFile(filepath.Join(dir, freeze), []byte(thaw[1]), 0); err != nil {
		t.Fatal(err)
	}
	id := h.ID()
	b := h.EditedBundle(func(s *Spec) { s.Linux.CgroupsPath = frozenPath }, "true")
	h.MustNoPipes(h.Cmd("create", "--bundle", b, id))
	logFile := filepath.Join(t.TempDir(), "log")
	h.MustNoPipes(h.Cmd("--log", logFile, "create", "--bundle", b, id+"-2"))
	if msg, _ := os.ReadFile(logFile); !strings.Contains(string(msg), "container's cgroup is not empty: 1 process(es) found") {
		t.Errorf("create into a cgroup with a process: log %q, want runc's warning", msg)
	}
	h.Must("delete", "--force", id+"-2")
	h.Must("delete", "--force", id)
}

// TestCgroupDeleteLeavesNoCgroup: once delete returns, no process and no
// cgroup directory of the container is left in any hierarchy, so the
// parent can be removed at once (podman's `pod rm` removes its pod's
// cgroup right after deleting the containers). Looped, over the ways a
// container ends: delete --force of a running one, kill then delete, and
// an init killed under children that outlive it (no pid namespace).
func TestCgroupDeleteLeavesNoCgroup(t *testing.T) {
	if cgSystemd() {
		t.Skip("cgroupsPath of the cgroupfs driver")
	}
	h := cgNew(t)
	parent := fmt.Sprintf("/%s/rmparent-%d", cgParent(), os.Getpid())
	hierarchies := []string{"/sys/fs/cgroup"}
	if !cgV2() {
		hierarchies = nil
		ents, err := os.ReadDir("/sys/fs/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			var st unix.Statfs_t
			p := filepath.Join("/sys/fs/cgroup", e.Name())
			if e.IsDir() && unix.Statfs(p, &st) == nil && (st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC) {
				hierarchies = append(hierarchies, p)
			}
		}
	}
	t.Cleanup(func() {
		for _, hd := range hierarchies {
			_ = unix.Rmdir(filepath.Join(hd, parent))
		}
	})
	withChildren := `sleep 1000 & sleep 1000 & exec sleep 1000`
	noPidNS := func(s *Spec) {
		s.Linux.Namespaces = slicesDelete(s.Linux.Namespaces, specs.PIDNamespace)
	}
	for i := 0; i < 12; i++ {
		id := h.ID()
		var edit func(*Spec)
		if i%3 == 2 {
			edit = noPidNS
		}
		b := h.EditedBundle(func(s *Spec) {
			s.Linux.CgroupsPath = parent + "/" + id
			if edit != nil {
				edit(s)
			}
		}, "sh", "-c", withChildren)
		h.MustNoPipes(h.Cmd("create", "--bundle", b, id))
		h.Must("start", id)
		pid := h.Pid(id)
		switch i % 3 {
		case 0:
			h.Must("delete", "--force", id)
		default:
			// Only the init: with no pid namespace its children live on.
			h.Must("kill", id, "KILL")
			h.WaitStatus(id, "stopped")
			h.Must("delete", id)
		}
		if running(pid) {
			t.Errorf("round %d: init %d still running after delete", i, pid)
		}
		for _, hd := range hierarchies {
			dir := filepath.Join(hd, parent, id)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("round %d: %s left after delete (%v)", i, dir, err)
			}
			if err := unix.Rmdir(filepath.Join(hd, parent)); err != nil && err != unix.ENOENT {
				t.Errorf("round %d: removing the parent %s right after delete: %v", i, filepath.Join(hd, parent), err)
			}
		}
	}
}

// cgMoveIn moves pid into the cgroup of the container whose init is init,
// in each of the v1 controllers' hierarchies (the cgroup2 one on v2), as
// another program (a debugger, an agent) could.
func cgMoveIn(t *testing.T, init, pid int, v1Controllers ...string) {
	t.Helper()
	for _, c := range v1Controllers {
		p := cgHostFile(t, init, c, "cgroup.procs", "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0); err != nil {
			t.Fatal(err)
		}
		if cgV2() {
			return
		}
	}
}

// TestCgroupDeleteKillsMovedIn: a process moved into a container's cgroup
// from outside is not in the container's pid namespace, so the kernel
// does not kill it with the init; delete (of the stopped container) and
// delete --force (of the running one) kill it and remove the cgroup, as
// runc's do. In one hierarchy only, the others' directories are empty.
func TestCgroupDeleteKillsMovedIn(t *testing.T) {
	if cgSystemd() {
		t.Skip("cgroupsPath of the cgroupfs driver")
	}
	h := cgNew(t)
	for _, tc := range []struct {
		force       bool
		controllers []string
	}{
		{false, []string{"pids"}},
		{false, []string{"pids", "memory", "freezer", "devices"}},
		{true, []string{"pids"}},
		{true, []string{"pids", "memory", "freezer", "devices"}},
	} {
		id := h.ID()
		b := h.EditedBundle(func(s *Spec) { s.Linux.CgroupsPath = "/" + cgParent() + "/" + id }, "sleep", "1000")
		init := cgStart(h, b, id)
		pidsDir := filepath.Dir(cgHostFile(t, init, "pids", "cgroup.procs", "cgroup.procs"))
		outside := exec.Command("sleep", "1000")
		if err := outside.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- outside.Wait() }()
		t.Cleanup(func() {
			_ = outside.Process.Kill()
			<-done
		})
		cgMoveIn(t, init, outside.Process.Pid, tc.controllers...)
		if tc.force {
			h.Must("delete", "--force", id)
		} else {
			h.Must("kill", id, "KILL")
			h.WaitStatus(id, "stopped")
			h.Must("delete", id)
		}
		select {
		case err := <-done:
			done <- err
		case <-time.After(10 * time.Second):
			t.Errorf("force %v, moved into %v: the process moved in from outside is alive after delete", tc.force, tc.controllers)
		}
		if running(init) {
			t.Errorf("force %v: init %d alive after delete", tc.force, init)
		}
		if _, err := os.Stat(pidsDir); !os.IsNotExist(err) {
			t.Errorf("force %v, moved into %v: %s left after delete (%v)", tc.force, tc.controllers, pidsDir, err)
		}
		lcGone(h, id)
	}
}

// TestCgroupCreateWarnsNotEmpty: runc's warning at create is given for a
// cgroup that existed with a process in it, even in one hierarchy only
// (the others' directories are made by the create), and not for one
// the create made.
func TestCgroupCreateWarnsNotEmpty(t *testing.T) {
	if cgSystemd() {
		t.Skip("cgroupsPath of the cgroupfs driver")
	}
	h := cgNew(t)
	logFile := filepath.Join(t.TempDir(), "log")
	fresh := h.ID()
	b := h.EditedBundle(func(s *Spec) { s.Linux.CgroupsPath = "/" + cgParent() + "/" + fresh }, "true")
	h.MustNoPipes(h.Cmd("--log", logFile, "create", "--bundle", b, fresh))
	h.Must("delete", "--force", fresh)
	if msg, _ := os.ReadFile(logFile); strings.Contains(string(msg), "not empty") {
		t.Errorf("create into a new cgroup: log %q", msg)
	}

	id := h.ID()
	cgroupsPath := "/" + cgParent() + "/" + id
	// The pids hierarchy (the only one on v2) has the cgroup, with a
	// process that delete --force kills.
	dir := filepath.Join("/sys/fs/cgroup/pids", cgroupsPath)
	if cgV2() {
		dir = filepath.Join("/sys/fs/cgroup", cgroupsPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := exec.Command("sleep", "1000")
	if err := outside.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = outside.Process.Kill()
		_ = outside.Wait()
		_ = unix.Rmdir(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(outside.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	b = h.EditedBundle(func(s *Spec) { s.Linux.CgroupsPath = cgroupsPath }, "true")
	h.MustNoPipes(h.Cmd("--log", logFile, "create", "--bundle", b, id))
	if msg, _ := os.ReadFile(logFile); !strings.Contains(string(msg), "container's cgroup is not empty: 1 process(es) found") {
		t.Errorf("create into a cgroup with a process: log %q, want runc's warning", msg)
	}
	h.Must("delete", "--force", id)
}
