package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
	"github.com/podrun/podrun/namespaces/nsenter"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/probes"
)

// lightContainer runs a real container (`podrun run -d`, sleeping) and
// returns its runtime and id.
func lightContainer(t *testing.T) (*Runtime, string) {
	r, id, _ := lightContainerBin(t)
	return r, id
}

func lightContainerBin(t *testing.T) (*Runtime, string, string) {
	testutil.RequiresRoot(t)
	bin := os.Getenv("PODRUN_BINARY")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "podrun")
		build := exec.Command("go", "build", "-o", bin, "./cmd/podrun")
		build.Dir = testimage.RepoRoot(t)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building podrun: %v\n%s", err, out)
		}
	}
	root := t.TempDir()
	bundle := testimage.Bundle(t, "sleep", "1000")
	id := fmt.Sprintf("light-%d", os.Getpid())
	// Output to a file: the detached container inherits it, and a pipe
	// would not reach EOF while it runs.
	logf, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := exec.Command(bin, "--root", root, "run", "-d", "--bundle", bundle, id)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Run(); err != nil {
		out, _ := os.ReadFile(logf.Name())
		t.Fatalf("podrun run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(bin, "--root", root, "delete", "-f", id).CombinedOutput(); err != nil {
			t.Errorf("podrun delete: %v\n%s", err, out)
		}
	})
	r := New(root, nil)
	r.Self = bin
	return r, id, bin
}

func TestExecLight(t *testing.T) {
	r, id := lightContainer(t)
	l, err := r.PrepareExecLight(id)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	run := func(ctx context.Context, args ...string) (int, string, error) {
		code, out, err := l.Run(ctx, args)
		return code, string(out), err
	}
	bg := context.Background()

	var spawned, reaped []int
	l.Spawn = func(start func() (int, error)) (int, error) {
		pid, err := start()
		spawned = append(spawned, pid)
		return pid, err
	}
	l.Reaped = func(pid int) { reaped = append(reaped, pid) }
	code, out, err := run(bg, "sh", "-c", "echo hi; echo err >&2; exit 3")
	if len(spawned) != 1 || len(reaped) != 1 || spawned[0] != reaped[0] || spawned[0] <= 0 {
		t.Errorf("Spawn/Reaped hooks saw %v and %v", spawned, reaped)
	}
	l.Spawn, l.Reaped = nil, nil
	if err != nil || code != 3 || out != "hi\nerr\n" {
		t.Errorf("exit code/output: %d %q %v", code, out, err)
	}
	// Same namespaces and cgroups as the container's init (pid 1 inside).
	code, out, err = run(bg, "sh", "-c", `for n in mnt net pid uts ipc; do [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/1/ns/$n)" ] || echo "ns $n differs"; done
		[ "$(cat /proc/self/cgroup)" = "$(cat /proc/1/cgroup)" ] || echo cgroup differs
		[ -x /bin/busybox ] || echo not in the rootfs
		echo pidns-ok`)
	if err != nil || code != 0 || out != "pidns-ok\n" {
		t.Errorf("namespaces/cgroup: %d %q %v", code, out, err)
	}
	// Nothing of the caller's fds reaches the command (ls's own dir is 3).
	if code, out, err := run(bg, "ls", "-1", "/proc/self/fd"); code != 0 || out != "0\n1\n2\n3\n" {
		t.Errorf("fds of the command: %q %v", out, err)
	}
	// The container process's rlimits (runc's default spec: RLIMIT_NOFILE
	// 1024) and oom_score_adj.
	code, out, _ = run(bg, "sh", "-c", `[ "$(grep 'open files' /proc/self/limits)" = "$(grep 'open files' /proc/1/limits)" ] || echo limits differ
		[ "$(cat /proc/self/oom_score_adj)" = "$(cat /proc/1/oom_score_adj)" ] || echo oom_score_adj differs
		grep 'open files' /proc/self/limits`)
	if code != 0 || !strings.Contains(out, "1024") || strings.Contains(out, "differ") {
		t.Errorf("rlimits/oom_score_adj: %q", out)
	}
	// The container process's capabilities, not the caller's.
	code, out, _ = run(bg, "sh", "-c", "grep CapBnd /proc/self/status; grep CapBnd /proc/1/status")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || lines[0] != lines[1] {
		t.Errorf("bounding set differs from the init's: %q", out)
	}
	// Timeout: killed, ctx error, no process left.
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	code, _, err = run(ctx, "sleep", "100")
	if !errors.Is(err, context.DeadlineExceeded) || code != 128+9 {
		t.Errorf("timeout: code %d, err %v", code, err)
	}
	if _, out, _ := run(bg, "sh", "-c", `for p in /proc/[0-9]*; do [ "$(tr '\0' ' ' < $p/cmdline)" = "sleep 100 " ] && echo $p; done; echo end`); out != "end\n" {
		t.Errorf("the timed-out command survived: %q", out)
	}
	if _, _, err := run(bg, "no-such-command"); err == nil || !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("missing command: %v", err)
	}

	// As the exec handler of package probes.
	h, err := probes.NewHandler(&manifest.ProbeHandler{Exec: &manifest.ExecAction{Command: []string{"test", "-f", "/dev/shm/healthy"}}},
		probes.Target{Exec: l.Run})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, err := h.Probe(bg); r != probes.Failure || err != nil {
		t.Errorf("probe before /dev/shm/healthy exists: %v %v", r, err)
	}
	run(bg, "touch", "/dev/shm/healthy") // the rootfs is read-only
	if r, out, err := h.Probe(bg); r != probes.Success || err != nil {
		t.Errorf("probe after touch: %v %q %v", r, out, err)
	}
	slow, _ := probes.NewHandler(&manifest.ProbeHandler{Exec: &manifest.ExecAction{Command: []string{"sleep", "5"}}}, probes.Target{Exec: l.Run})
	ctx2, cancel2 := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel2()
	if r, out, _ := slow.Probe(ctx2); r != probes.Failure || !strings.Contains(out, "timed out") {
		t.Errorf("probe timeout: %v %q", r, out)
	}

	// CPU per probe: the children's rusage (helper + command) plus ours.
	var c0, s0, c1, s1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &c0)
	unix.Getrusage(unix.RUSAGE_SELF, &s0)
	const n = 50
	wall := time.Now()
	for i := 0; i < n; i++ {
		if code, _, err := run(bg, "true"); code != 0 || err != nil {
			t.Fatalf("true: %d %v", code, err)
		}
	}
	unix.Getrusage(unix.RUSAGE_CHILDREN, &c1)
	unix.Getrusage(unix.RUSAGE_SELF, &s1)
	cpu := func(a, b unix.Rusage) time.Duration {
		return time.Duration((b.Utime.Nano()+b.Stime.Nano())-(a.Utime.Nano()+a.Stime.Nano())) / n
	}
	t.Logf("ExecLight CPU per probe: children %v, caller %v; wall %v back to back", cpu(c0, c1), cpu(s0, s1), time.Since(wall)/n)
	// A probe comes once a period: after a quiet spell a v1 cgroup
	// migration waits for an RCU grace period (wall time, not CPU).
	var quiet time.Duration
	for i := 0; i < 5; i++ {
		time.Sleep(200 * time.Millisecond)
		st := time.Now()
		run(bg, "true")
		quiet += time.Since(st)
	}
	t.Logf("ExecLight wall time after 200 ms idle: %v", quiet/5)

	// The same with runtime.Exec (a podrun re-exec per command), for scale.
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	unix.Getrusage(unix.RUSAGE_CHILDREN, &c0)
	unix.Getrusage(unix.RUSAGE_SELF, &s0)
	const m = 10
	for i := 0; i < m; i++ {
		p, err := r.ExecProcess(id, ExecOverrides{Args: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		child, err := r.Exec(id, ExecOpts{Process: p, Stdio: [3]*os.File{devnull, devnull, devnull}})
		if err != nil {
			t.Fatal(err)
		}
		child.Wait()
	}
	unix.Getrusage(unix.RUSAGE_CHILDREN, &c1)
	unix.Getrusage(unix.RUSAGE_SELF, &s1)
	t.Logf("runtime.Exec CPU per command: children %v, caller %v", cpu(c0, c1)*n/m, cpu(s0, s1)*n/m)
}

// Without process.capabilities the command gets none (as runtime.Exec),
// not the caller's: a nil nsenter.Caps would keep those.
func TestLightCapsNone(t *testing.T) {
	c := lightCaps(nil)
	if c == nil || *c != (nsenter.Caps{}) {
		t.Errorf("lightCaps(nil) = %+v, want empty sets", c)
	}
	c = lightCaps(&specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Ambient: []string{"CAP_CHOWN"}})
	if c.Bounding != 1<<unix.CAP_KILL || c.Ambient != 1<<unix.CAP_CHOWN || c.Effective != 0 {
		t.Errorf("lightCaps = %+v", c)
	}
}
