package cgroups

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	cg "github.com/containerd/cgroups/v3"

	"github.com/podrun/podrun/internal/testutil"
)

// testName is a unique cgroup name for one test.
func testName(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "podrun-test-" + hex.EncodeToString(b)
}

// startSleep starts a sleep child that the test kills and reaps at the end.
func startSleep(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// cleanupCgroups removes, at the end of the test, the cgroups in paths and
// the per-test parent directories that Destroy leaves alone.
func cleanupCgroups(t *testing.T, paths map[string]string, name string) {
	t.Cleanup(func() {
		for _, d := range paths {
			dirs := []string{d}
			for p := filepath.Dir(d); strings.Contains(p, name); p = filepath.Dir(p) {
				dirs = append(dirs, p)
			}
			if errs := removeTrees(dirs); errs != nil {
				t.Errorf("cleanup: %v", errs)
			}
		}
	})
}

// wantCgroup is the line that /proc/<pid>/cgroup shows for a process in
// dir, the directory of hierarchy key.
func wantCgroup(t *testing.T, key, dir string) string {
	t.Helper()
	h, err := currentHost()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.mounts {
		if (key == UnifiedKey) != m.v2 || (!m.v2 && !slices.Contains(m.opts, key)) {
			continue
		}
		if rel, ok := strings.CutPrefix(dir, m.mountpoint+"/"); ok {
			return filepath.Join(m.root, rel)
		}
	}
	t.Fatalf("no mount for %q holds %s", key, dir)
	return ""
}

// checkIn checks that pid is in the manager's cgroup in every hierarchy.
func checkIn(t *testing.T, m Manager, pid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, err := cg.ParseCgroupFromReaderUnified(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for key, dir := range m.Paths() {
		got := v1[key]
		if key == UnifiedKey {
			got = v2
		}
		if want := wantCgroup(t, key, dir); got != want {
			t.Errorf("pid %d in %q: %q, want %q\n%s", pid, key, got, want, b)
		}
	}
}

func assertGone(t *testing.T, paths map[string]string) {
	t.Helper()
	for key, d := range paths {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q: %s still there (%v)", key, d, err)
		}
	}
}

func TestManagerLifecycle(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Logf("host mode %s", modeName(HostMode()))
	for _, kind := range []string{"empty", "relative", "absolute"} {
		t.Run(kind, func(t *testing.T) {
			name := testName(t)
			cgroupsPath, id := "", name
			switch kind {
			case "relative":
				cgroupsPath, id = name+"/ctr", "unused"
			case "absolute":
				cgroupsPath, id = "/"+name+"/ctr", "unused"
			}
			m, err := New(cgroupsPath, id)
			if err != nil {
				t.Fatal(err)
			}
			paths := m.Paths()
			cleanupCgroups(t, paths, name)
			t.Logf("paths: %v", paths)
			for key, d := range paths {
				if !strings.Contains(d, name) {
					t.Errorf("%q: %s does not contain %s", key, d, name)
				}
			}
			if IsV2() && len(paths) != 1 {
				t.Errorf("v2: got %d hierarchies, want 1", len(paths))
			}
			if HostMode() == Hybrid && paths[UnifiedKey] == "" {
				t.Error("hybrid: unified hierarchy not joined")
			}
			assertGone(t, paths) // New has no side effect

			sleep := startSleep(t, nil)
			pid := sleep.Process.Pid
			if err := m.Apply(pid); err != nil {
				t.Fatal(err)
			}
			checkIn(t, m, pid)

			// A nested cgroup with a process in it, as a container's
			// systemd makes: Procs and Destroy must recurse.
			sub := make(map[string]string)
			for k, d := range paths {
				sub[k] = filepath.Join(d, "sub")
			}
			subm, err := Load(sub)
			if err != nil {
				t.Fatal(err)
			}
			nested := startSleep(t, nil)
			if err := subm.Apply(nested.Process.Pid); err != nil {
				t.Fatal(err)
			}

			// A later podrun process: only the saved paths.
			m2, err := Load(paths)
			if err != nil {
				t.Fatal(err)
			}
			procs, err := m2.Procs()
			if err != nil {
				t.Fatal(err)
			}
			want := []int{pid, nested.Process.Pid}
			slices.Sort(want)
			if !slices.Equal(procs, want) {
				t.Errorf("Procs() = %v, want %v", procs, want)
			}

			// Kill without reaping and destroy at once: Destroy must wait
			// for the exits (EBUSY) rather than fail.
			sleep.Process.Kill()
			nested.Process.Kill()
			if err := m2.Destroy(); err != nil {
				t.Fatal(err)
			}
			assertGone(t, paths)
			if err := m2.Destroy(); err != nil {
				t.Errorf("second Destroy: %v", err)
			}
			if procs, err := m2.Procs(); err != nil || len(procs) != 0 {
				t.Errorf("Procs() after Destroy = %v, %v", procs, err)
			}
		})
	}
}

// TestDestroyBusy: a live process keeps the cgroup; Destroy gives up with
// a one-line error, and the cgroup is intact.
func TestDestroyBusy(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	m, err := New("", name)
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroups(t, m.Paths(), name)
	sleep := startSleep(t, nil)
	if err := m.Apply(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	err = m.Destroy()
	if !errors.Is(err, syscall.EBUSY) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "linux.cgroupsPath") {
		t.Fatalf("Destroy with a live process: %v; want one line, EBUSY, naming linux.cgroupsPath", err)
	}
	t.Log(err)
	checkIn(t, m, sleep.Process.Pid)
}

// TestCgroupFD starts a child straight into the cgroup with clone3
// CLONE_INTO_CGROUP on v2; v1 and hybrid hosts get ErrNoCgroupFD.
func TestCgroupFD(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	m, err := New("", name)
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroups(t, m.Paths(), name)
	f, err := m.CgroupFD()
	if !IsV2() {
		if !errors.Is(err, ErrNoCgroupFD) {
			t.Fatalf("CgroupFD() on %s: %v, want ErrNoCgroupFD", modeName(HostMode()), err)
		}
		assertGone(t, m.Paths())
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	sleep := startSleep(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())})
	f.Close()
	checkIn(t, m, sleep.Process.Pid)
	procs, err := m.Procs()
	if err != nil || !slices.Equal(procs, []int{sleep.Process.Pid}) {
		t.Errorf("Procs() = %v, %v", procs, err)
	}
	sleep.Process.Kill()
	sleep.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m.Paths())
}

// TestApplyErrors: a dead pid fails with a one-line error.
func TestApplyErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	m, err := New("/"+name, "unused")
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroups(t, m.Paths(), name)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	err = m.Apply(cmd.Process.Pid)
	if !errors.Is(err, syscall.ESRCH) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "linux.cgroupsPath") {
		t.Fatalf("Apply(dead pid) = %v; want ESRCH, one line naming linux.cgroupsPath", err)
	}
	t.Log(err)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m.Paths())
}

// TestPermissionError runs unprivileged only: creating a cgroup under the
// hierarchy root needs root, and the error says so on one line.
func TestPermissionError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("needs an unprivileged user")
	}
	name := testName(t)
	m, err := New("/"+name, "unused")
	if errors.Is(err, ErrNotMounted) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	err = m.Create()
	if !errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "linux.cgroupsPath") {
		t.Fatalf("Create() as uid %d = %v; want a permission error, one line naming linux.cgroupsPath", os.Geteuid(), err)
	}
	t.Log(err)
}

// TestFresh: Create reports fresh only when it made the directory in every
// hierarchy; a directory that existed in any of them (here one made before,
// as another runtime or a leftover would) makes it not fresh.
func TestFresh(t *testing.T) {
	m, name := newCtrManager(t)
	paths := m.Paths()
	if m.Fresh() {
		t.Error("Fresh() before Create")
	}
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	if !m.Fresh() {
		t.Error("Fresh() = false after Create made every directory")
	}
	if l, err := Load(paths); err != nil || l.Fresh() {
		t.Errorf("Load(paths).Fresh() = true (%v), want false", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Fresh() {
		t.Error("Fresh() after Destroy")
	}
	// One hierarchy's directory exists already.
	keys := slices.Sorted(maps.Keys(paths))
	pre := paths[keys[len(keys)-1]]
	if err := os.MkdirAll(pre, 0o755); err != nil {
		t.Fatal(err)
	}
	m2, err := New("/"+name+"/ctr", "unused")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Create(); err != nil {
		t.Fatal(err)
	}
	if m2.Fresh() {
		t.Errorf("Fresh() = true with %s there before Create", pre)
	}
}

// TestDestroyIfEmpty: a process in the cgroup, even in one hierarchy only,
// keeps DestroyIfEmpty from succeeding, at once (no waiting for it); the
// hierarchies without it may be gone, the one with it is intact. Once the
// process is gone, it removes everything. A directory that is no cgroup is
// refused, as by Destroy.
func TestDestroyIfEmpty(t *testing.T) {
	m, _ := newCtrManager(t)
	paths := m.Paths()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	// The process joins a single hierarchy, with a child cgroup next to it.
	keys := slices.Sorted(maps.Keys(paths))
	key := keys[len(keys)-1]
	one, err := Load(map[string]string{key: paths[key]})
	if err != nil {
		t.Fatal(err)
	}
	sleep := startSleep(t, nil)
	if err := one.Apply(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(paths[keys[0]], "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	if l.DestroyIfEmpty() {
		t.Fatalf("DestroyIfEmpty() = true with pid %d in %s", sleep.Process.Pid, paths[key])
	}
	if _, err := os.Stat(paths[key]); err != nil {
		t.Errorf("the busy cgroup: %v", err)
	}
	procs, err := l.Procs()
	if err != nil || !slices.Equal(procs, []int{sleep.Process.Pid}) {
		t.Errorf("Procs() after DestroyIfEmpty = %v, %v; want the sleep", procs, err)
	}
	sleep.Process.Kill()
	sleep.Wait()
	if !l.DestroyIfEmpty() {
		t.Fatal("DestroyIfEmpty() = false on an empty cgroup")
	}
	assertGone(t, paths)

	notCgroup := t.TempDir()
	nc, err := Load(map[string]string{"memory": notCgroup})
	if err != nil {
		t.Fatal(err)
	}
	if nc.DestroyIfEmpty() {
		t.Error("DestroyIfEmpty() = true on a directory that is no cgroup")
	}
	if _, err := os.Stat(notCgroup); err != nil {
		t.Errorf("the directory that is no cgroup: %v", err)
	}
}
