package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

// ctdImageRef is the name the busybox test image is imported under.
const ctdImageRef = "docker.io/podrun/busybox:test"

// ctd drives one private containerd through ctr, with podrun as the runc
// binary of the io.containerd.runc.v2 shim. The shim's runc root, ctr's
// fifo dir and every container's cgroup are private to the test.
type ctd struct {
	t        *testing.T
	c        *testimage.Containerd
	ns       string // containerd namespace, also the cgroup parent
	runcRoot string // the shim's --runc-root; podrun's --root is runcRoot/ns
	fifoDir  string

	// shimSockets are the paths under /run/containerd that appeared
	// while a task of the test ran.
	shimSockets map[string]bool
}

// ctrResult is the outcome of one ctr call.
type ctrResult struct {
	Stdout, Stderr string
	Code           int
}

func (d *ctd) cmd(args ...string) *exec.Cmd {
	return exec.Command("ctr", append([]string{"--address", d.c.Address, "--namespace", d.ns}, args...)...)
}

// ctr runs ctr with args and returns its output and exit code; it fails
// the test when ctr does not finish within a minute.
func (d *ctd) ctr(args ...string) ctrResult {
	d.t.Helper()
	cmd := d.cmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("ctr %v: %v", args, err)
	}
	err := waitTimeout(cmd, 60*time.Second)
	r := ctrResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			d.t.Fatalf("ctr %s: %v\nstderr: %s", strings.Join(args, " "), err, r.Stderr)
		}
		r.Code = ee.ExitCode()
	}
	return r
}

// must runs ctr and fails the test unless it exits 0.
func (d *ctd) must(args ...string) ctrResult {
	d.t.Helper()
	r := d.ctr(args...)
	if r.Code != 0 {
		d.t.Fatalf("ctr %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// runArgs are the `ctr run` flags selecting podrun and the private dirs.
func (d *ctd) runArgs() []string {
	return []string{
		"--runtime", "io.containerd.runc.v2",
		"--runc-binary", podrunBin,
		"--runc-root", d.runcRoot,
		"--fifo-dir", d.fifoDir,
		"--snapshotter", "native",
	}
}

// listTree returns the paths under dir (relative), sorted; nil when dir
// does not exist.
func listTree(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// pidsWithCmdline returns the pids whose command line contains s.
func pidsWithCmdline(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder returns the host mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var mps []string
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps = append(mps, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	return mps
}

// TestContainerd drives podrun through containerd 1.6's runc v2 shim, the
// way CRI and ctr use runc: run to completion, a detached task with exec,
// ps, kill and delete, and a tty run.
func TestContainerd(t *testing.T) {
	testutil.RequiresRoot(t)
	hostRun := "/run/containerd"

	var d *ctd
	// Registered before StartContainerd, so it runs after containerd has
	// been stopped: shims must be gone, and nothing may be left on the
	// host. Leftovers are reported, then removed by pid / path.
	t.Cleanup(func() {
		if d == nil {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(pidsWithCmdline(d.c.Address)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		for _, pid := range pidsWithCmdline(d.c.Address) {
			t.Errorf("shim %d still running after the test", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, mp := range mountsUnder(d.c.Dir) {
			t.Errorf("mount left: %s", mp)
			_ = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
		// The shim's socket (containerd 1.6 always puts it under
		// /run/containerd/s) must be gone; nothing else of the test may
		// be under /run/containerd: podrun's state is under runcRoot.
		for _, p := range listTree(hostRun) {
			if strings.Contains(p, d.ns) || d.shimSockets[p] {
				t.Errorf("left in the host's %s: %s", hostRun, p)
			}
		}
		AssertNoProcessesUnder(t, d.c.Dir)
	})

	c := testimage.StartContainerd(t)
	d = &ctd{
		t:        t,
		c:        c,
		ns:       fmt.Sprintf("podrun-test-ctd-%d", os.Getpid()),
		runcRoot: filepath.Join(c.Dir, "runc"),
		fifoDir:  filepath.Join(c.Dir, "fifo"),

		shimSockets: map[string]bool{},
	}
	hostBefore := map[string]bool{}
	for _, p := range listTree(hostRun) {
		hostBefore[p] = true
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	testimage.OCIArchive(t, archive, ctdImageRef)
	d.must("images", "import", "--snapshotter", "native", archive)

	t.Run("RunToCompletion", func(t *testing.T) { d.t = t; testCtdRun(d) })
	t.Run("Detached", func(t *testing.T) { d.t = t; testCtdDetached(d, hostBefore) })
	t.Run("TTY", func(t *testing.T) { d.t = t; testCtdTTY(d) })
	t.Run("CreateError", func(t *testing.T) { d.t = t; testCtdCreateError(d) })
	d.t = t

	// Nothing of the containers is left: no podrun state, no containers
	// or tasks in containerd, no cgroups, no mounts.
	if left := listTree(filepath.Join(d.runcRoot, d.ns)); len(left) > 0 {
		t.Errorf("podrun state left under %s: %q", d.runcRoot, left)
	}
	if r := d.must("containers", "ls", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("containers left: %q", r.Stdout)
	}
	if r := d.must("tasks", "ls", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("tasks left: %q", r.Stdout)
	}
	assertNoCtdCgroups(t, d.ns)
	for _, mp := range mountsUnder(c.Dir) {
		t.Errorf("mount left after delete: %s", mp)
	}
}

// ctdCgroupProcs returns the pids in the container's cgroup (the pids
// controller's on v1, the unified one on v2).
func ctdCgroupProcs(ns, id string) []string {
	for _, dir := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		data, err := os.ReadFile(filepath.Join(dir, ns, id, "cgroup.procs"))
		if err == nil {
			return strings.Fields(string(data))
		}
	}
	return nil
}

// assertNoCtdCgroups checks that the namespace's cgroup parent (ctr puts
// containers at /<ns>/<id>) has no children left, then removes it: like
// runc, podrun leaves the parents of a container's cgroup in place.
func assertNoCtdCgroups(t *testing.T, ns string) {
	t.Helper()
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + ns)
	if p := "/sys/fs/cgroup/" + ns; dirExists(p) {
		parents = append(parents, p)
	}
	for _, p := range parents {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if e.IsDir() {
				t.Errorf("cgroup left: %s", filepath.Join(p, e.Name()))
			}
		}
		if err := syscall.Rmdir(p); err != nil {
			t.Errorf("removing the namespace cgroup %s: %v", p, err)
		}
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func testCtdRun(d *ctd) {
	t := d.t
	args := append([]string{"run", "--rm"}, d.runArgs()...)
	r := d.ctr(append(args, ctdImageRef, "podrun-test-run", "sh", "-c", "echo hi; exit 3")...)
	if r.Code != 3 {
		t.Errorf("ctr run: exit %d, want 3\nstdout: %q\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if r.Stdout != "hi\n" {
		t.Errorf("ctr run: stdout %q, want %q (stderr: %s)", r.Stdout, "hi\n", r.Stderr)
	}

	// The checker sees itself as pid 1 in its own cgroup /<ns>/<id>, with
	// no descriptor of the shim (its fd 3, the ttrpc socket) inherited.
	r = d.must(append(args, ctdImageRef, "podrun-test-report", "checker", "report")...)
	rep := parseReport(t, r.Stdout)
	if rep.Pid != 1 {
		t.Errorf("checker pid %d, want 1", rep.Pid)
	}
	for _, fd := range rep.FDs {
		if fd.FD > 2 {
			t.Errorf("descriptor leaked into the container: %+v", fd)
		}
	}
	if len(rep.Errors) > 0 {
		t.Errorf("checker errors: %q", rep.Errors)
	}
}

func testCtdDetached(d *ctd, hostBefore map[string]bool) {
	t := d.t
	id := "podrun-test-detached"
	args := append([]string{"run", "-d"}, d.runArgs()...)
	d.must(append(args, ctdImageRef, id, "sleep", "1000")...)
	deleted := false
	defer func() {
		if !deleted {
			d.ctr("tasks", "kill", "--signal", "SIGKILL", id)
			d.ctr("tasks", "delete", "--force", id)
			d.ctr("containers", "delete", id)
		}
	}()

	// The task runs, its init pid is what state/ps report.
	r := d.must("tasks", "ls")
	var initPid int
	for _, line := range strings.Split(r.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == id {
			if f[2] != "RUNNING" {
				t.Errorf("task status %s, want RUNNING", f[2])
			}
			initPid, _ = strconv.Atoi(f[1])
		}
	}
	if initPid <= 0 {
		t.Fatalf("task %s not listed:\n%s", id, r.Stdout)
	}
	if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid)); err != nil || !strings.Contains(string(cg), "/"+d.ns+"/"+id) {
		t.Errorf("init %d cgroup: %q, %v; want /%s/%s", initPid, cg, err, d.ns, id)
	}
	for _, p := range listTree("/run/containerd") {
		if !hostBefore[p] && strings.HasPrefix(p, "s/") {
			d.shimSockets[p] = true
		}
	}
	state := filepath.Join(d.runcRoot, d.ns, id)
	if !dirExists(state) {
		t.Errorf("podrun state %s missing: %q", state, listTree(d.runcRoot))
	}

	// exec: output and exit code.
	r = d.ctr("tasks", "exec", "--exec-id", "x", "--fifo-dir", d.fifoDir, id, "sh", "-c", "echo from-exec; exit 7")
	if r.Code != 7 || r.Stdout != "from-exec\n" {
		t.Errorf("ctr task exec: exit %d, stdout %q, want 7, %q\nstderr: %s", r.Code, r.Stdout, "from-exec\n", r.Stderr)
	}
	r = d.ctr("tasks", "exec", "--exec-id", "y", "--fifo-dir", d.fifoDir, id, "checker", "report")
	if r.Code != 0 {
		t.Errorf("ctr task exec checker: exit %d\nstderr: %s", r.Code, r.Stderr)
	} else if rep := parseReport(t, r.Stdout); rep.Pid == 1 || rep.Ppid != 0 {
		t.Errorf("exec'd checker: pid %d ppid %d, want a non-1 pid whose parent is outside the pid namespace", rep.Pid, rep.Ppid)
	}

	// A detached exec that keeps running, for ps and kill --all.
	d.must("tasks", "exec", "-d", "--exec-id", "bg", "--fifo-dir", d.fifoDir, id, "sleep", "1000")

	// ps lists the init and the exec'd sleep (podrun ps --format json).
	r = d.must("tasks", "ps", id)
	if !psListsPid(r.Stdout, initPid) {
		t.Errorf("ctr task ps does not list the init %d:\n%s", initPid, r.Stdout)
	}
	if n := len(strings.Split(strings.TrimSpace(r.Stdout), "\n")) - 1; n != 2 {
		t.Errorf("ctr task ps lists %d processes, want 2 (init and the exec):\n%s", n, r.Stdout)
	}
	cgProcs := func() []string { return ctdCgroupProcs(d.ns, id) }
	if procs := cgProcs(); len(procs) != 2 {
		t.Errorf("container cgroup holds %q, want the init and the exec", procs)
	}

	// kill (SIGTERM would be ignored: sleep is pid 1 of its namespace and
	// has no handler), wait for the stop, delete the task and the
	// container.
	d.must("tasks", "kill", "--all", "--signal", "SIGKILL", id)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r = d.must("tasks", "ls")
		if strings.Contains(r.Stdout, "STOPPED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task did not stop after SIGKILL:\n%s", r.Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if procs := cgProcs(); len(procs) != 0 {
		t.Errorf("processes left in the container cgroup after kill --all: %q", procs)
	}
	// ctr task delete exits with the task's status when it is not 0:
	// 128+SIGKILL, as the shim got it from the reaped init.
	r = d.ctr("tasks", "delete", id)
	if r.Code != 0 && r.Code != 137 {
		t.Errorf("ctr task delete: exit %d, want 137 (or 0)\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	d.must("containers", "delete", id)
	deleted = true
	if syscall.Kill(initPid, 0) == nil {
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", initPid)); err == nil && !bytes.Contains(st, []byte(") Z")) {
			t.Errorf("init %d still alive after delete: %s", initPid, st)
		}
	}
	if dirExists(state) {
		t.Errorf("podrun state %s left after delete", state)
	}
}

// psListsPid reports whether out (a `ctr task ps` table) has a row
// whose first column is pid.
func psListsPid(out string, pid int) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

func testCtdTTY(d *ctd) {
	t := d.t
	master, slaveName, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	slave, err := console.OpenSlave(slaveName)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--rm", "-t"}, d.runArgs()...)
	cmd := d.cmd(append(args, ctdImageRef, "podrun-test-tty", "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; tty; exit 5")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()

	var out bytes.Buffer
	var mu sync.Mutex
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				if err != io.EOF && !errors.Is(err, syscall.EIO) {
					t.Logf("reading the pty: %v", err)
				}
				return
			}
		}
	}()
	err = waitTimeout(cmd, 60*time.Second)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Error(err)
	}
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		master.Close()
		<-copied
	}
	mu.Lock()
	got := out.String()
	mu.Unlock()
	if !strings.Contains(got, "tty-ok") || !strings.Contains(got, "/dev/pts/") {
		t.Errorf("ctr run -t output %q, want tty-ok and a /dev/pts/N name", got)
	}
	if code != 5 {
		t.Errorf("ctr run -t: exit %d, want 5 (output %q)", code, got)
	}
}

// testCtdCreateError checks that an error inside the container init
// reaches containerd through podrun's --log JSON file: the shim reports
// its last error line.
func testCtdCreateError(d *ctd) {
	t := d.t
	args := append([]string{"run", "--rm"}, d.runArgs()...)
	r := d.ctr(append(args, ctdImageRef, "podrun-test-error", "/no/such/binary")...)
	if r.Code == 0 {
		t.Fatalf("ctr run of a missing binary succeeded: %q", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "OCI runtime") || !strings.Contains(r.Stderr, "/no/such/binary") {
		t.Errorf("ctr run of a missing binary: stderr %q, want containerd's OCI runtime error with podrun's message", r.Stderr)
	}
	if strings.Contains(r.Stderr, "level=") || strings.Contains(r.Stderr, `"msg"`) {
		t.Errorf("the shim passed on a raw log line, not the message: %q", r.Stderr)
	}
}
