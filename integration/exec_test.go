package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/testimage"
)

// coreExecReport runs `podrun exec [flags] ID checker report` and parses
// the report.
func coreExecReport(h *H, id string, flags ...string) *checkreport.Report {
	h.t.Helper()
	args := append(append([]string{"exec"}, flags...), id, "checker", "report")
	return parseReport(h.t, h.Must(args...).Stdout)
}

// coreHostCgroups returns /proc/<pid>/cgroup as read on the host.
func coreHostCgroups(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestExecNamespacesAndCgroup: exec joins every namespace and the cgroup
// of the init.
func TestExecNamespacesAndCgroup(t *testing.T) {
	h := New(t)
	id, pid := coreSleeper(h, func(s *Spec) { s.Hostname = "exec-host" })
	rep := coreExecReport(h, id, "--env", coreNoGoFDs)
	coreNoErrors(t, rep)
	for _, name := range append([]string{"user", "pid_for_children"}, coreNSNames...) {
		want := coreNS(t, pid, name)
		if got := rep.Namespaces[name]; got != want {
			t.Errorf("exec namespace %s = %q, want the init's %q", name, got, want)
		}
	}
	if rep.Hostname != "exec-host" {
		t.Errorf("exec hostname = %q, want exec-host", rep.Hostname)
	}
	if rep.Pid == 1 || rep.Ppid != 0 {
		t.Errorf("exec pid/ppid = %d/%d, want a pid > 1 whose parent is outside (0)", rep.Pid, rep.Ppid)
	}
	// Inside its cgroup namespace, the exec'd process is at the root, like
	// the init.
	for _, cg := range rep.Cgroups {
		if cg.Path != "/" {
			t.Errorf("exec cgroup %d:%v = %q, want /", cg.ID, cg.Controllers, cg.Path)
		}
	}
	// The default capabilities and noNewPrivileges of the config.
	coreCapsEqual(t, "exec effective", rep.Capabilities.Effective, []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"})
	if !rep.NoNewPrivs {
		t.Errorf("exec: no_new_privs off, the config has it on")
	}
	if got, _ := rep.Rlimit("NOFILE"); got != (checkreport.Rlimit{Soft: 1024, Hard: 1024}) {
		t.Errorf("exec RLIMIT_NOFILE = %+v, want the config's 1024/1024", got)
	}
	if rep.Cwd != "/" || rep.UID != 0 {
		t.Errorf("exec cwd/uid = %q/%d, want / and 0", rep.Cwd, rep.UID)
	}
	if v, _ := rep.Getenv("HOME"); v != "/root" {
		t.Errorf("exec HOME = %q, want /root", v)
	}
	if len(rep.FDs) != 3 {
		t.Errorf("exec fds = %+v, want 0-2 only", rep.FDs)
	}
}

func TestExecUserEnvCwd(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, func(s *Spec) {
		s.Process.Env = append(s.Process.Env, "FROM_CONFIG=1")
	})
	rep := coreExecReport(h, id, "--user", "1000:1000", "--additional-gids", "1001",
		"--env", "FOO=bar", "--env", "TERM=dumb", "--cwd", "/home/tester")
	coreNoErrors(t, rep)
	if rep.UID != 1000 || rep.EUID != 1000 || rep.GID != 1000 || rep.EGID != 1000 {
		t.Errorf("uid/euid/gid/egid = %d/%d/%d/%d, want 1000", rep.UID, rep.EUID, rep.GID, rep.EGID)
	}
	if !slices.Equal(rep.Groups, []int{testimage.ExtraGID}) {
		t.Errorf("groups = %v, want [1001]", rep.Groups)
	}
	if rep.Cwd != "/home/tester" {
		t.Errorf("cwd = %q, want /home/tester", rep.Cwd)
	}
	for k, want := range map[string]string{"FOO": "bar", "FROM_CONFIG": "1", "TERM": "dumb", "HOME": "/home/tester",
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"} {
		if got, _ := rep.Getenv(k); got != want {
			t.Errorf("env %s = %q, want %q (env %q)", k, got, want, rep.Env)
		}
	}
	// A later --env overrides the config's value (TERM=xterm), so only
	// one TERM may be the one a lookup finds: the last one.
	var terms []string
	for _, kv := range rep.Env {
		if strings.HasPrefix(kv, "TERM=") {
			terms = append(terms, kv)
		}
	}
	if len(terms) == 0 || terms[len(terms)-1] != "TERM=dumb" {
		t.Errorf("TERM entries %q: the last one must be TERM=dumb", terms)
	}
	// --user with only a uid: gid 0.
	rep = coreExecReport(h, id, "--user", "1000")
	if rep.UID != 1000 || rep.GID != 0 {
		t.Errorf("--user 1000: uid/gid = %d/%d, want 1000/0", rep.UID, rep.GID)
	}
}

func TestExecCap(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	rep := coreExecReport(h, id)
	if rep.Capabilities.Bounding.Has("CAP_SYS_ADMIN") || rep.Capabilities.Effective.Has("CAP_SYS_ADMIN") {
		t.Fatalf("CAP_SYS_ADMIN without --cap: %+v", rep.Capabilities)
	}
	rep = coreExecReport(h, id, "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_NET_ADMIN")
	def := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	want := append(slices.Clone(def), "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
	coreCapsEqual(t, "bounding", rep.Capabilities.Bounding, want)
	coreCapsEqual(t, "effective", rep.Capabilities.Effective, want)
	coreCapsEqual(t, "permitted", rep.Capabilities.Permitted, want)
	coreCapsEqual(t, "inheritable", rep.Capabilities.Inheritable, nil)
	// The init is unchanged by an exec's --cap.
	rep = coreExecReport(h, id)
	coreCapsEqual(t, "later exec effective", rep.Capabilities.Effective, def)
}

func TestExecNoNewPrivs(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, func(s *Spec) { s.Process.NoNewPrivileges = false })
	if rep := coreExecReport(h, id); rep.NoNewPrivs {
		t.Errorf("exec: no_new_privs on, the config has it off")
	}
	if rep := coreExecReport(h, id, "--no-new-privs"); !rep.NoNewPrivs {
		t.Errorf("exec --no-new-privs: no_new_privs off")
	}
}

// TestExecProcessFile: exec --process takes the whole process from the
// file, not from the container's config.
func TestExecProcessFile(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	umask := uint32(0o027)
	adj := 321
	caps := []string{"CAP_CHOWN", "CAP_NET_RAW"}
	p := specs.Process{
		Args: []string{"checker", "report"},
		Env:  []string{"PATH=/usr/bin", "ONLY=file"},
		Cwd:  "/tmp",
		User: specs.User{UID: 0, GID: 1001, AdditionalGids: []uint32{1000}, Umask: &umask},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
		Rlimits:     []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 300, Hard: 600}},
		OOMScoreAdj: &adj,
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := parseReport(t, h.Must("exec", "--process", file, id).Stdout)
	coreNoErrors(t, rep)
	if want := []string{"PATH=/usr/bin", "ONLY=file", "HOME=/root"}; !slices.Equal(rep.Env, want) {
		t.Errorf("env = %q, want %q", rep.Env, want)
	}
	if rep.Cwd != "/tmp" || rep.UID != 0 || rep.GID != 1001 || !slices.Equal(rep.Groups, []int{1000}) {
		t.Errorf("cwd/uid/gid/groups = %q/%d/%d/%v, want /tmp/0/1001/[1000]", rep.Cwd, rep.UID, rep.GID, rep.Groups)
	}
	if rep.Umask != 0o027 {
		t.Errorf("umask = %#o, want 027", rep.Umask)
	}
	if rep.OOMScoreAdj != 321 {
		t.Errorf("oom_score_adj = %d, want 321", rep.OOMScoreAdj)
	}
	if got, _ := rep.Rlimit("NOFILE"); got != (checkreport.Rlimit{Soft: 300, Hard: 600}) {
		t.Errorf("RLIMIT_NOFILE = %+v, want 300/600", got)
	}
	coreCapsEqual(t, "bounding", rep.Capabilities.Bounding, caps)
	coreCapsEqual(t, "effective", rep.Capabilities.Effective, caps)
	if rep.NoNewPrivs {
		t.Errorf("no_new_privs on; the process file leaves it off")
	}

	// A broken file is a one-line error naming --process.
	if err := os.WriteFile(file, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Fails("--process", "exec", "--process", file, id)
}

// TestExecDetachPidFile: what the shim does for every exec.
func TestExecDetachPidFile(t *testing.T) {
	h := New(t)
	id, initPid := coreSleeper(h, nil)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	start := time.Now()
	h.MustNoPipes(h.Cmd("exec", "--detach", "--pid-file", pidFile, id, "checker", "sleep"))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("exec --detach took %v: it must not wait for the process", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q: not a bare number (strconv.Atoi: %v)", data, err)
	}
	if pid == initPid || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid file %d: not a live process other than the init %d", pid, initPid)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !strings.HasPrefix(string(cmdline), "checker\x00sleep") {
		t.Errorf("pid %d runs %q, want checker sleep", pid, cmdline)
	}
	if got, want := coreHostCgroups(t, pid), coreHostCgroups(t, initPid); got != want {
		t.Errorf("exec'd process cgroups:\n%s\nwant the init's:\n%s", got, want)
	}
	for _, name := range coreNSNames {
		if got, want := coreNS(t, pid, name), coreNS(t, initPid, name); got != want {
			t.Errorf("exec'd process namespace %s = %s, want %s", name, got, want)
		}
	}
	// The container lists it.
	var pids []int
	if err := json.Unmarshal([]byte(h.Must("ps", "--format", "json", id).Stdout), &pids); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, pid) || !slices.Contains(pids, initPid) {
		t.Errorf("ps = %v, want %d and %d", pids, initPid, pid)
	}
}

func TestExecExitStatus(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	for _, code := range []int{0, 7, 255} {
		r := h.Run("exec", id, "sh", "-c", fmt.Sprintf("exit %d", code))
		if r.Code != code {
			t.Errorf("exec exit %d: podrun exit %d (stderr %q)", code, r.Code, r.Stderr)
		}
	}
	// Killed by a signal: 128+signal.
	if r := h.Run("exec", id, "sh", "-c", "kill -9 $$"); r.Code != 128+9 {
		t.Errorf("exec killed by SIGKILL: podrun exit %d, want 137", r.Code)
	}
	// Output and input pass through.
	cmd := h.Cmd("exec", id, "checker", "cat", "-")
	cmd.Stdin = strings.NewReader("hello through stdin")
	if r := h.RunCmd(cmd); r.Code != 0 || r.Stdout != "hello through stdin" {
		t.Errorf("exec cat: exit %d stdout %q", r.Code, r.Stdout)
	}
}

func TestExecErrors(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	// A process that cannot be run exits 255, runc's code for "exec
	// failed" (shims tell it from the process's own status so).
	for _, r := range []Result{
		h.Fails("executable file not found in $PATH", "exec", id, "no-such-binary"),
		h.Fails("no such file or directory", "exec", id, "/no/such/binary"),
		h.Fails("does not exist", "exec", h.ID()+"-unknown", "true"),
	} {
		if r.Code != 255 || !strings.Contains(r.Stderr, "exec failed: ") {
			t.Errorf("failed exec: exit %d %q, want 255 and exec failed: ...", r.Code, r.Stderr)
		}
	}
	// The failed execs left no process in the container.
	var pids []int
	if err := json.Unmarshal([]byte(h.Must("ps", "--format", "json", id).Stdout), &pids); err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 {
		t.Errorf("ps after failed execs = %v, want the init only", pids)
	}

	// A stopped container.
	stopped := h.ID()
	h.MustNoPipes(h.Cmd("run", "-d", "--bundle", coreBundle(h, nil, "true"), stopped)) // its pid may be gone already
	h.WaitStatus(stopped, "stopped")
	h.Fails("cannot exec in a stopped container", "exec", stopped, "true")
}

// TestExecCreated: exec into a created (not yet started) container works,
// as in runc; the init is still waiting afterwards.
func TestExecCreated(t *testing.T) {
	h := New(t)
	id := h.ID()
	bundle := coreBundle(h, nil, testimage.CheckerInRootfs, "sleep")
	h.MustNoPipes(h.Cmd("create", "--bundle", bundle, id))
	pid := h.Pid(id)
	rep := coreExecReport(h, id)
	if got, want := rep.Namespaces["pid"], coreNS(t, pid, "pid"); got != want {
		t.Errorf("exec in created container: pid namespace %q, want %q", got, want)
	}
	if s := h.Status(id); s != "created" {
		t.Errorf("status after exec = %s, want created", s)
	}
}

// TestExecPaused: exec into a paused container fails (255) unless
// --ignore-paused; then the process runs once the container is resumed.
func TestExecPaused(t *testing.T) {
	h := cgNew(t)
	id := h.ID()
	cgStart(h, h.Bundle("sleep", "1000"), id)
	h.Must("pause", id)
	r := h.Fails("cannot exec in a paused container (use --ignore-paused to override)", "exec", id, "true")
	if r.Code != 255 {
		t.Errorf("exec into a paused container: exit %d, want 255", r.Code)
	}
	out := filepath.Join(h.t.TempDir(), "out")
	cmd := h.Cmd("exec", "--ignore-paused", id, "sh", "-c", "echo ran")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.Must("resume", id)
	if err := waitTimeout(cmd, 30*time.Second); err != nil {
		t.Fatalf("exec --ignore-paused: %v", err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "ran" {
		t.Errorf("exec --ignore-paused printed %q", b)
	}
}

// TestExecSubCgroup: exec --cgroup puts the process in an existing
// sub-cgroup of the container's (v1: <controller>:<path> moves that
// hierarchy only; v2: <path>), and fails with 255 when it does not exist.
func TestExecSubCgroup(t *testing.T) {
	if cgSystemd() {
		t.Skip("the cgroupfs layout of this test")
	}
	h := cgNew(t)
	id := h.ID()
	pid := cgStart(h, h.Bundle("sleep", "1000"), id)
	// The sub-cgroup, in the memory hierarchy (v1) or the only one (v2).
	dir := filepath.Join(filepath.Dir(cgHostFile(t, pid, "memory", "x", "x")), "sub1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	arg, other := "memory:sub1", "pids"
	if cgV2() {
		arg, other = "sub1", ""
	}
	r := h.Fails("no such file or directory", "exec", "--cgroup", arg+"-missing", id, "true")
	if r.Code != 255 {
		t.Errorf("exec --cgroup missing: exit %d, want 255", r.Code)
	}
	pidFile := filepath.Join(h.t.TempDir(), "pid")
	h.MustNoPipes(h.Cmd("exec", "-d", "--pid-file", pidFile, "--cgroup", arg, id, "sleep", "1000"))
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	epid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Dir(cgHostFile(t, epid, "memory", "x", "x")); got != dir {
		t.Errorf("exec --cgroup %s: memory cgroup %s, want %s", arg, got, dir)
	}
	if other != "" {
		// The hierarchies not named stay the container's.
		if got, want := cgHostFile(t, epid, other, "x", ""), cgHostFile(t, pid, other, "x", ""); got != want {
			t.Errorf("exec --cgroup %s: %s cgroup %s, want the container's %s", arg, other, got, want)
		}
	}
	h.Fails("not a sub cgroup path", "exec", "--cgroup", strings.Replace(arg, "sub1", "../x", 1), id, "true")
	h.Must("delete", "--force", id)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sub-cgroup %s left after delete: %v", dir, err)
	}
}
