package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/testimage"
)

// corePipes makes n pipes and returns their read ends (closed at the end
// of the test) with the "pipe:[inode]" name /proc shows for each.
func corePipes(t *testing.T, n int) ([]*os.File, []string) {
	t.Helper()
	var files []*os.File
	var names []string
	for i := 0; i < n; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		var st syscall.Stat_t
		if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		files = append(files, r)
		names = append(names, fmt.Sprintf("pipe:[%d]", st.Ino))
	}
	return files, names
}

// coreFDsAbove returns the report's descriptors above 2, as fd -> target.
func coreFDsAbove(rep *checkreport.Report) map[int]string {
	m := map[int]string{}
	for _, f := range rep.FDs {
		if f.FD > 2 {
			m[f.FD] = f.Target
		}
	}
	return m
}

// coreExpectFDs checks that the report's fds above 2 are exactly want
// (fd 3, 4... in order).
func coreExpectFDs(t *testing.T, what string, rep *checkreport.Report, want []string) {
	t.Helper()
	got := coreFDsAbove(rep)
	wantM := map[int]string{}
	for i, w := range want {
		wantM[3+i] = w
	}
	if len(got) != len(wantM) {
		t.Errorf("%s: fds above 2 = %v, want %v", what, got, wantM)
		return
	}
	for fd, w := range wantM {
		if got[fd] != w {
			t.Errorf("%s: fd %d = %q, want %q (all: %v)", what, fd, got[fd], w, got)
		}
	}
	for fd := 0; fd < 3; fd++ {
		if rep.FD(fd) == nil {
			t.Errorf("%s: fd %d not open", what, fd)
		}
	}
}

// coreRunWithFiles runs podrun args with extra files as its fds 3... and
// extra environment entries, and parses the report it prints.
func coreRunWithFiles(h *H, files []*os.File, env []string, args ...string) *checkreport.Report {
	h.t.Helper()
	cmd := h.Cmd(args...)
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), env...)
	r := h.RunCmd(cmd)
	if r.Code != 0 {
		h.t.Fatalf("podrun %v: exit %d\nstderr: %s", args, r.Code, r.Stderr)
	}
	return parseReport(h.t, r.Stdout)
}

// coreFDBundle is a bundle reporting with the Go runtime's own fds off.
func coreFDBundle(h *H) string {
	h.t.Helper()
	return coreBundle(h, func(s *Spec) { s.Process.Env = append(s.Process.Env, coreNoGoFDs) }, coreChecker()...)
}

// TestFdsNotInherited: podrun's caller may have any fd open (containerd's
// shim passes its listening socket as fd 3): none reaches the container.
func TestFdsNotInherited(t *testing.T) {
	h := New(t)
	files, _ := corePipes(t, 3)
	// Seven fds, none close-on-exec in podrun.
	extra := slices.Concat(files, files, files[:1])
	rep := coreRunWithFiles(h, extra, nil, "run", "--bundle", coreFDBundle(h), h.ID())
	coreExpectFDs(t, "run", rep, nil)
	if _, ok := rep.Getenv("LISTEN_FDS"); ok {
		t.Errorf("LISTEN_FDS set without being asked for")
	}
	for _, kv := range rep.Env {
		if len(kv) > 8 && kv[:8] == "_PODRUN_" {
			t.Errorf("podrun's own variable reached the container: %s", kv)
		}
	}

	// The same through create + start (how the shim does it).
	id := h.ID()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := h.Cmd("create", "--bundle", coreFDBundle(h), id)
	cmd.ExtraFiles = extra
	cmd.Stdout = out
	h.MustNoPipes(cmd)
	h.Must("start", id)
	h.WaitStatus(id, "stopped")
	data, _ := os.ReadFile(out.Name())
	coreExpectFDs(t, "create+start", parseReport(t, string(data)), nil)
}

func TestFdsPreserve(t *testing.T) {
	h := New(t)
	files, names := corePipes(t, 3)
	rep := coreRunWithFiles(h, files, nil, "run", "--preserve-fds", "2", "--bundle", coreFDBundle(h), h.ID())
	coreExpectFDs(t, "--preserve-fds 2", rep, names[:2])

}

func TestFdsListenFds(t *testing.T) {
	h := New(t)
	files, names := corePipes(t, 3)
	rep := coreRunWithFiles(h, files, []string{"LISTEN_FDS=1", "LISTEN_PID=12345"},
		"run", "--bundle", coreFDBundle(h), h.ID())
	coreExpectFDs(t, "LISTEN_FDS=1", rep, names[:1])
	for k, want := range map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": "1"} {
		if got, _ := rep.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q (env %q)", k, got, want, rep.Env)
		}
	}
	// LISTEN_FDS first, then --preserve-fds.
	rep = coreRunWithFiles(h, files, []string{"LISTEN_FDS=1"},
		"run", "--preserve-fds", "2", "--bundle", coreFDBundle(h), h.ID())
	coreExpectFDs(t, "LISTEN_FDS=1 --preserve-fds 2", rep, names)
	if got, _ := rep.Getenv("LISTEN_FDS"); got != "1" {
		t.Errorf("LISTEN_FDS = %q, want 1 (the preserved fds are not socket-activation fds)", got)
	}
}

func TestFdsExec(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	files, names := corePipes(t, 3)
	execArgs := func(flags ...string) []string {
		return append(append(append([]string{"exec"}, flags...), "--env", coreNoGoFDs, id), "checker", "report")
	}
	rep := coreRunWithFiles(h, files, nil, execArgs()...)
	coreExpectFDs(t, "exec", rep, nil)

	rep = coreRunWithFiles(h, files, nil, execArgs("--preserve-fds", "2")...)
	coreExpectFDs(t, "exec --preserve-fds 2", rep, names[:2])

	rep = coreRunWithFiles(h, files, []string{"LISTEN_FDS=1"}, execArgs()...)
	coreExpectFDs(t, "exec LISTEN_FDS=1", rep, names[:1])
	if v, _ := rep.Getenv("LISTEN_FDS"); v != "1" {
		t.Errorf("exec LISTEN_FDS = %q, want 1", v)
	}
	if v, _ := rep.Getenv("LISTEN_PID"); v != "1" {
		t.Errorf("exec LISTEN_PID = %q, want 1", v)
	}

	// A detached exec started with extra fds keeps none of them either.
	pidFile := t.TempDir() + "/exec.pid"
	cmd := h.Cmd("exec", "--detach", "--pid-file", pidFile, id, "checker", "sleep")
	cmd.ExtraFiles = files
	h.MustNoPipes(cmd)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%s/fd", data))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%s/fd/%s", data, e.Name()))
		if slices.Contains(names, target) {
			t.Errorf("detached exec holds the caller's fd: %s -> %s", e.Name(), target)
		}
	}
}

// fdsInitFds lists the fds of a process from the host: fd -> link target,
// and whether it is a directory.
func fdsInitFds(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err != nil {
			continue
		}
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if st, err := os.Stat(dir + "/" + e.Name()); err == nil && st.IsDir() {
			target += " (directory)"
		}
		out[fd] = target
	}
	return out
}

// TestFdsCreatedInitHoldsNoHostDir: while a container is created, its
// init (which a process joining the container can reach through
// /proc/1/fd) holds stdio, the exec fifo, its protocol socket and the Go
// runtime's anonymous fds: no directory, nothing of the bundle, rootfs or
// state dir but the fifo (CVE-2024-21626).
func TestFdsCreatedInitHoldsNoHostDir(t *testing.T) {
	for _, userns := range []bool{false, true} {
		t.Run(map[bool]string{false: "host", true: "userns"}[userns], func(t *testing.T) {
			h := New(t)
			var bundle string
			if userns {
				bundle = coreUserNSBundle(h, nil, testimage.CheckerInRootfs, "sleep")
			} else {
				bundle = h.Bundle(testimage.CheckerInRootfs, "sleep")
			}
			id := h.ID()
			files, _ := corePipes(t, 2) // the caller's own fds must not be there either
			cmd := h.Cmd("create", "--bundle", bundle, id)
			cmd.ExtraFiles = files
			h.MustNoPipes(cmd)
			pid := h.Pid(id)
			fifo := filepath.Join(h.Root, id, "exec.fifo")
			fds := fdsInitFds(t, pid)
			for fd, target := range fds {
				switch {
				case fd <= 2:
					if strings.HasSuffix(target, "(directory)") {
						t.Errorf("fd %d: %s", fd, target)
					}
				case target == fifo,
					strings.HasPrefix(target, "socket:["),
					strings.HasPrefix(target, "anon_inode:"):
				default:
					t.Errorf("created init holds fd %d -> %s (all: %v)", fd, target, fds)
				}
			}
			// Its root and cwd are the rootfs (the paths read "/" from
			// here: compare the inodes).
			want, err := os.Stat(filepath.Join(bundle, "rootfs"))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{"cwd", "root"} {
				st, err := os.Stat(fmt.Sprintf("/proc/%d/%s", pid, l))
				if err != nil {
					t.Fatal(err)
				}
				if !os.SameFile(st, want) {
					t.Errorf("init %s is not the rootfs", l)
				}
			}
		})
	}
}

// TestFdsCwdProcSelfFd: process.cwd /proc/self/fd/<n> (which would be a
// directory the init or exec child still holds) is refused, or, where
// <n> is something else, leaves the process inside the container.
func TestFdsCwdProcSelfFd(t *testing.T) {
	h := New(t)
	id, _ := coreSleeper(h, nil)
	for n := 3; n <= 12; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		// At create.
		bundle := coreBundle(h, func(s *Spec) { s.Process.Cwd = cwd }, coreChecker()...)
		r := h.Run("run", "--bundle", bundle, h.ID())
		fdsCwdSafe(t, "run", cwd, r)
		// At exec.
		r = h.Run("exec", "--cwd", cwd, id, "checker", "report")
		fdsCwdSafe(t, "exec", cwd, r)
	}
}

func fdsCwdSafe(t *testing.T, what, cwd string, r Result) {
	t.Helper()
	if r.Code != 0 {
		if !strings.Contains(r.Stderr, "process.cwd") {
			t.Errorf("%s with cwd %s: %q, want a process.cwd error", what, cwd, r.Stderr)
		}
		return
	}
	rep := parseReport(t, r.Stdout)
	if !strings.HasPrefix(rep.Cwd, "/") || strings.Contains(rep.Cwd, "unreachable") {
		t.Errorf("%s with cwd %s: process runs in %q, outside the container", what, cwd, rep.Cwd)
	}
}
