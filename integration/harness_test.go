// Package integration runs the podrun binary for real, as root, against
// busybox bundles, and asserts on what the checker reports from inside the
// containers and on the host being clean afterwards.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

// podrunBin is the binary under test: $PODRUN_BINARY, or built once by
// TestMain; podrunPodBin is podrun-pod next to it (podrun runs it for the
// pod, image, bundle and completion commands).
var podrunBin, podrunPodBin string

func TestMain(m *testing.M) {
	code := func() int {
		// Pods made by these tests nest in a cgroup root of their own, so
		// that pods of other podrun users on the host do not meet them.
		os.Setenv("PODRUN_POD_CGROUP_ROOT", fmt.Sprintf("podrun-test-%d-pods", os.Getpid()))
		if os.Geteuid() != 0 {
			// Every test here is root-gated and skips; no need to build.
			return m.Run()
		}
		if p := os.Getenv("PODRUN_BINARY"); p != "" {
			podrunBin = p
			podrunPodBin = filepath.Join(filepath.Dir(p), "podrun-pod")
			if _, err := os.Stat(podrunPodBin); err != nil {
				fmt.Fprintf(os.Stderr, "PODRUN_BINARY: podrun-pod must be next to it (make build): %v\n", err)
				return 1
			}
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "podrun-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		podrunBin = filepath.Join(dir, "podrun")
		podrunPodBin = filepath.Join(dir, "podrun-pod")
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for bin, pkg := range map[string]string{podrunBin: "./cmd/podrun", podrunPodBin: "./cmd/podrun-pod"} {
			cmd := exec.Command("go", "build", "-tags", "netgo osusergo", "-ldflags", "-extldflags -static", "-o", bin, pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

var idSeq atomic.Int64

// H is one test's podrun environment: its own --root, cleaned and checked
// for leftovers when the test ends.
type H struct {
	t    *testing.T
	Root string
}

// New returns a harness for a root-gated test.
func New(t *testing.T) *H {
	t.Helper()
	testutil.RequiresRoot(t)
	h := &H{t: t, Root: t.TempDir()}
	t.Cleanup(h.cleanup)
	return h
}

// ID returns a fresh container id containing "podrun-test", so leaked
// cgroups are easy to recognise.
func (h *H) ID() string {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(h.t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("podrun-test-%s-%d-%d", strings.ToLower(name), os.Getpid(), idSeq.Add(1))
}

// Result is the outcome of one podrun call.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Cmd returns an unstarted podrun command with --root set.
func (h *H) Cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(podrunBin, append([]string{"--root", h.Root}, args...)...)
	return cmd
}

// Run runs podrun with args and returns its output and exit code.
func (h *H) Run(args ...string) Result {
	h.t.Helper()
	return h.RunCmd(h.Cmd(args...))
}

// RunCmd runs a prepared podrun command, with a generous timeout.
func (h *H) RunCmd(cmd *exec.Cmd) Result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		h.t.Fatalf("%v timed out; stderr: %s", cmd.Args, stderr.String())
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			h.t.Fatalf("%v: %v", cmd.Args, err)
		}
		r.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(interface{ Signaled() bool }); ok && ws.Signaled() {
			r.Code = -1
		}
	}
	return r
}

// Must runs podrun and fails the test unless it exits 0.
func (h *H) Must(args ...string) Result {
	h.t.Helper()
	r := h.Run(args...)
	if r.Code != 0 {
		h.t.Fatalf("podrun %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// Fails runs podrun, expects a non-zero exit and an error containing want.
func (h *H) Fails(want string, args ...string) Result {
	h.t.Helper()
	r := h.Run(args...)
	if r.Code == 0 {
		h.t.Fatalf("podrun %s: succeeded, want failure with %q\nstdout: %s", strings.Join(args, " "), want, r.Stdout)
	}
	if !strings.Contains(r.Stderr, want) {
		h.t.Fatalf("podrun %s: stderr %q does not contain %q", strings.Join(args, " "), r.Stderr, want)
	}
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n > 0 {
		h.t.Errorf("podrun %s: error is %d lines, want one: %q", strings.Join(args, " "), n+1, r.Stderr)
	}
	return r
}

// Bundle returns a fresh busybox bundle running args.
func (h *H) Bundle(args ...string) string {
	h.t.Helper()
	return testimage.Bundle(h.t, args...)
}

// Report runs the checker in a new container (podrun run) with the given
// checker args after "report", optionally editing the spec first, and
// returns the parsed report.
func (h *H) Report(edit func(*Spec), checkerArgs ...string) *checkreport.Report {
	h.t.Helper()
	bundle := h.EditedBundle(edit, append([]string{testimage.CheckerInRootfs, "report"}, checkerArgs...)...)
	r := h.Must("run", "--bundle", bundle, h.ID())
	return parseReport(h.t, r.Stdout)
}

func parseReport(t *testing.T, out string) *checkreport.Report {
	t.Helper()
	rep, err := checkreport.Parse([]byte(out))
	if err != nil {
		t.Fatalf("parsing checker report: %v\n%s", err, out)
	}
	return rep
}

// State returns the parsed `podrun state`.
func (h *H) State(id string) map[string]any {
	h.t.Helper()
	r := h.Must("state", id)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		h.t.Fatalf("state output: %v\n%s", err, r.Stdout)
	}
	return m
}

// Status returns the container's status from `podrun state`.
func (h *H) Status(id string) string {
	h.t.Helper()
	s, _ := h.State(id)["status"].(string)
	return s
}

// Pid returns the container's init pid from `podrun state`.
func (h *H) Pid(id string) int {
	h.t.Helper()
	p, _ := h.State(id)["pid"].(float64)
	return int(p)
}

// WaitStatus polls until the container reaches status, or fails.
func (h *H) WaitStatus(id, status string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := h.Status(id); s == status {
			return
		} else if time.Now().After(deadline) {
			h.t.Fatalf("container %s: status %s, want %s", id, s, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanup force-deletes every container left under Root, then checks that
// nothing podrun made is left on the host.
func (h *H) cleanup() {
	ents, _ := os.ReadDir(h.Root)
	for _, e := range ents {
		if e.IsDir() {
			h.Run("delete", "--force", e.Name())
		}
	}
	AssertClean(h.t, h.Root)
}

// AssertClean fails t if anything of the containers under root remains:
// state dirs, mounts mentioning root or the test's temp dirs, cgroups
// named like the test's ids, or processes whose root is under a temp dir.
func AssertClean(t *testing.T, root string) {
	t.Helper()
	if ents, err := os.ReadDir(root); err == nil && len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("state left under %s: %v", root, names)
	}
	prefix := fmt.Sprintf("podrun-test-%s-%d-", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), os.Getpid())
	if len(prefix) > 0 {
		AssertNoCgroups(t, prefix)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		// Only this test process's names: other podrun tests and users
		// may have mounts of their own on the host.
		if strings.Contains(line, root) || strings.Contains(line, prefix) || strings.Contains(line, fmt.Sprintf("podrun-test-ctd-%d/", os.Getpid())) {
			t.Errorf("mount left: %s", line)
		}
	}
	AssertNoProcessesUnder(t, filepath.Dir(root))
}

// AssertNoCgroups fails t if a cgroup directory whose name starts with
// prefix exists in any hierarchy.
func AssertNoCgroups(t *testing.T, prefix string) {
	t.Helper()
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), prefix) {
			t.Errorf("cgroup left: %s", p)
			return filepath.SkipDir
		}
		return nil
	})
}

// AssertNoProcessesUnder fails t if a process has its root or cwd under dir
// (a container process that outlived its container).
func AssertNoProcessesUnder(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, l := range []string{"root", "cwd"} {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/%s", pid, l))
			if err == nil && strings.HasPrefix(target, dir) {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				t.Errorf("process %d left with %s %s: %q", pid, l, target, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				break
			}
		}
	}
}

// Spec is the OCI spec type the edit callbacks get.
type Spec = specsSpec
