package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/podrun/podrun/internal/testutil"
)

func TestThreadCgroup(t *testing.T) {
	own := []byte("12:cpu,cpuacct:/a/b\n3:name=systemd:/user.slice\n0::/init.scope\n")
	for key, want := range map[string]string{"cpu": "/a/b", "cpuacct": "/a/b", "name=systemd": "/user.slice"} {
		if got, ok := threadCgroup(own, key); !ok || got != want {
			t.Errorf("%s: got %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, ok := threadCgroup(own, "memory"); ok {
		t.Error("memory: found in a file without it")
	}
}

// TestHostMountOf: the deepest cgroup mount a directory lies under, never
// a sibling whose name is a prefix of it (cpu and cpuacct).
func TestHostMountOf(t *testing.T) {
	h, err := parseHost(Hybrid, strings.NewReader(hybridMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		"/sys/fs/cgroup/cpu/c1":          "/sys/fs/cgroup/cpu",
		"/sys/fs/cgroup/cpuacct/a/b":     "/sys/fs/cgroup/cpuacct",
		"/sys/fs/cgroup/memory":          "/sys/fs/cgroup/memory",
		"/sys/fs/cgroup/systemd/x.scope": "/sys/fs/cgroup/systemd",
	} {
		if got, ok := h.mountOf(dir); !ok || got != want {
			t.Errorf("%s: got %q, %v; want %q", dir, got, ok, want)
		}
	}
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/cpux/c1", "/run/c1"} {
		if got, ok := h.mountOf(dir); ok {
			t.Errorf("%s: got %q, want no mount", dir, got)
		}
	}
}

// TestEnterThread forks a child from a thread moved into the container's
// cgroups and checks that the child was born there in every hierarchy,
// and that leave put the thread back.
func TestEnterThread(t *testing.T) {
	testutil.RequiresRoot(t)
	name := testName(t)
	m, err := New("/"+name, "unused")
	if err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	cleanupCgroups(t, paths, name)
	te, ok := m.(ThreadEnterer)
	if !ok {
		t.Fatal("the cgroupfs manager is not a ThreadEnterer")
	}
	if _, hybrid := paths[UnifiedKey]; hybrid {
		if _, err := te.EnterThread(); !errors.Is(err, ErrNoThreadEnter) {
			t.Fatalf("EnterThread with a cgroup2 hierarchy: got %v, want ErrNoThreadEnter", err)
		}
		return
	}
	type result struct {
		child, after string
		err          error
	}
	done := make(chan result, 1)
	go func() {
		// Dropped locked at the end, as the runtime does.
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		before, err := os.ReadFile("/proc/thread-self/cgroup")
		if err != nil {
			r.err = err
			return
		}
		leave, err := te.EnterThread()
		if err != nil {
			r.err = err
			return
		}
		out, err := exec.Command("cat", "/proc/self/cgroup").Output()
		if lerr := leave(); lerr != nil && err == nil {
			err = lerr
		}
		after, _ := os.ReadFile("/proc/thread-self/cgroup")
		if string(after) != string(before) {
			r.after = string(after)
		}
		r.child, r.err = string(out), err
	}()
	r := <-done
	t.Logf("child cgroups:\n%s", r.child)
	if r.err != nil {
		t.Fatal(r.err)
	}
	for key := range paths {
		got, ok := threadCgroup([]byte(r.child), key)
		if !ok || !strings.HasSuffix(got, "/"+name) {
			t.Errorf("%s: child in %q, want the container's cgroup /%s", key, got, name)
		}
	}
	if r.after != "" {
		t.Errorf("thread not moved back; now:\n%s", r.after)
	}
	// The thread is out: the cgroups can go.
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
}
