// thread.go moves one locked thread into the container's cgroups on
// cgroup v1, so that a child forked from it is born there (EnterThread).

package cgroups

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoThreadEnter is EnterThread's answer where a thread cannot carry a
// child into the cgroup: a cgroup2 hierarchy is involved (it takes whole
// processes only; use CgroupFD there), or the manager is not cgroupfs.
var ErrNoThreadEnter = errors.New("cgroups: cannot enter the cgroup with a single thread")

// ThreadEnterer is implemented by the cgroupfs manager on cgroup v1 hosts.
//
// Moving a process on v1 (a write to cgroup.procs) takes the kernel's
// global threadgroup rwsem for writing, which waits for an RCU grace
// period whenever no migration happened in the last one: 7-19 ms on an
// otherwise idle host, paid by every container start and exec. Moving
// only the calling thread (0 written to `tasks`) skips that lock (Linux
// 6.0 and later; older kernels take it and are no slower than before). So
// the runtime moves one locked thread into the container's cgroups, forks
// the child from it, which is then born there and needs no migration, and
// moves the thread back.
type ThreadEnterer interface {
	// EnterThread moves the calling thread, which must be locked to its
	// goroutine (runtime.LockOSThread), into the container's cgroup in
	// every hierarchy, creating the cgroup if needed. leave moves it back
	// to the cgroups it came from. On error the thread may be in some of
	// the container's cgroups: the caller drops the thread (exits the
	// goroutine still locked) and uses Apply instead.
	EnterThread() (leave func() error, err error)
}

var _ ThreadEnterer = (*manager)(nil)

func (m *manager) EnterThread() (func() error, error) {
	if _, ok := m.paths[UnifiedKey]; ok || m.onlyUnified {
		return nil, ErrNoThreadEnter
	}
	if err := m.Create(); err != nil {
		return nil, err
	}
	// Where the thread is now, per hierarchy directory of the container.
	own, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	var back []string
	for key, dir := range m.paths {
		cur, ok := threadCgroup(own, key)
		if !ok {
			return nil, m.err("enter thread", dir, errors.New("the runtime is not in this hierarchy"))
		}
		// The hierarchy's mount point is dir minus the container's path
		// inside it; the thread's own cgroup hangs off the same mount.
		mnt, ok := mountOf(dir)
		if !ok {
			return nil, ErrNoThreadEnter
		}
		back = append(back, filepath.Join(mnt, cur))
	}
	slices.Sort(back)
	back = slices.Compact(back) // co-mounted controllers
	for _, d := range m.dirs {
		if err := writeFile(filepath.Join(d, "tasks"), []byte("0")); err != nil {
			return nil, m.err("enter thread into", d, err)
		}
	}
	leave := func() error {
		var errs []error
		for _, d := range back {
			if err := writeFile(filepath.Join(d, "tasks"), []byte("0")); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return leave, nil
}

// threadCgroup finds the path of hierarchy key ("memory", "name=systemd")
// in a /proc/.../cgroup file.
func threadCgroup(procCgroup []byte, key string) (string, bool) {
	for _, line := range bytes.Split(procCgroup, []byte("\n")) {
		parts := bytes.SplitN(line, []byte(":"), 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range bytes.Split(parts[1], []byte(",")) {
			if string(c) == key {
				return string(parts[2]), true
			}
		}
	}
	return "", false
}

// mountOf returns the mount point of the hierarchy that holds dir: the
// host's cgroup mount (from mountinfo, read once per process) that dir lies
// under, else the first directory up from dir whose parent is not on
// cgroupfs (the tmpfs at /sys/fs/cgroup). The mountinfo answer costs no
// system call: each statfs of the walk looks up the path through /sys/fs,
// a sysfs directory whose lookups wait for sysfs's lock, which every
// network namespace created or torn down takes for writing (its loopback
// device) — one wait per statfs when many containers start at once.
func mountOf(dir string) (string, bool) {
	if h, err := currentHost(); err == nil {
		if mnt, ok := h.mountOf(dir); ok {
			return mnt, true
		}
	}
	for d := dir; d != "/" && d != "."; {
		parent := filepath.Dir(d)
		var st unix.Statfs_t
		if err := unix.Statfs(parent, &st); err != nil {
			return "", false
		}
		if st.Type != unix.CGROUP_SUPER_MAGIC {
			return d, true
		}
		d = parent
	}
	return "", false
}

// mountOf is the deepest of h's mount points that dir is or lies under.
func (h *host) mountOf(dir string) (string, bool) {
	best := ""
	for _, m := range h.mounts {
		if len(m.mountpoint) > len(best) && (dir == m.mountpoint || strings.HasPrefix(dir, m.mountpoint+"/")) {
			best = m.mountpoint
		}
	}
	return best, best != ""
}
