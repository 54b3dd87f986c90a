// fs.go is the cgroupfs manager: creating, joining, listing and removing
// the container's cgroup directories, and the raw cgroup file reads and
// writes every other file uses.

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// manager is the cgroupfs Manager for v1, hybrid and v2 hosts: the
// directory operations are the same; what differs is the set of
// hierarchies in paths.
type manager struct {
	cgroupsPath string            // linux.cgroupsPath, for error messages
	fromSpec    bool              // made by New (not Load): errors name linux.cgroupsPath
	paths       map[string]string // hierarchy key -> absolute directory
	dirs        []string          // the distinct directories of paths, sorted
	cpusetDir   string            // the v1 cpuset directory, if any: needs cpus/mems
	onlyUnified bool              // the unified hierarchy is the only one (v2)
	created     bool              // Create succeeded in this process
	fresh       bool              // ... and made every directory of dirs itself
}

var _ Manager = (*manager)(nil)

func newManager(cgroupsPath string, fromSpec bool, paths map[string]string, onlyUnified bool) *manager {
	m := &manager{cgroupsPath: cgroupsPath, fromSpec: fromSpec, paths: paths, onlyUnified: onlyUnified}
	for _, d := range paths {
		m.dirs = append(m.dirs, d)
	}
	slices.Sort(m.dirs)
	m.dirs = slices.Compact(m.dirs) // co-mounted controllers share a directory
	if !onlyUnified {
		m.cpusetDir = paths["cpuset"]
	}
	return m
}

func (m *manager) err(op, path string, err error) error {
	return &Error{CgroupsPath: m.cgroupsPath, Op: op, Path: path, Err: err, fromSpec: m.fromSpec}
}

func (m *manager) Paths() map[string]string { return maps.Clone(m.paths) }

func (m *manager) Create() error {
	if m.created {
		return nil
	}
	fresh := true
	for _, d := range m.dirs {
		made, err := mkdirs(d)
		if err != nil {
			return m.err("create", "", err)
		}
		fresh = fresh && len(made) > 0 && made[len(made)-1] == d
		if d == m.cpusetDir {
			for _, c := range made {
				if err := initCpuset(c); err != nil {
					return m.err("create", c, err)
				}
			}
		}
	}
	m.created, m.fresh = true, fresh
	return nil
}

func (m *manager) Fresh() bool { return m.fresh }

func (m *manager) Apply(pid int) error {
	if pid <= 0 {
		return m.err("apply", "", fmt.Errorf("invalid pid %d", pid))
	}
	if err := m.Create(); err != nil {
		return err
	}
	for _, d := range m.dirs {
		if err := writeProcs(d, pid); err != nil {
			return m.err("apply pid "+strconv.Itoa(pid)+" to", d, err)
		}
	}
	return nil
}

func (m *manager) CgroupFD() (*os.File, error) {
	if !m.onlyUnified {
		return nil, ErrNoCgroupFD
	}
	if err := m.Create(); err != nil {
		return nil, err
	}
	d := m.dirs[0]
	fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, m.err("open", d, err)
	}
	return os.NewFile(uintptr(fd), d), nil
}

func (m *manager) Procs() ([]int, error) {
	seen := make(map[int]struct{})
	for _, d := range m.dirs {
		if err := collectProcs(d, seen); err != nil {
			return nil, m.err("procs", d, err)
		}
	}
	pids := slices.Collect(maps.Keys(seen))
	slices.Sort(pids)
	return pids, nil
}

func (m *manager) Destroy() error {
	errs := removeTrees(m.dirs)
	m.created, m.fresh = false, false
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return m.err("destroy", "", errs[0])
	}
	return m.err("destroy", "", errs)
}

func (m *manager) DestroyIfEmpty() bool {
	// The first directory that stays ends it: the caller's Destroy goes
	// over every one again anyway.
	for _, d := range m.dirs {
		ok, err := isCgroupDir(d)
		if err != nil || ok && rmdirTree(d) != nil {
			return false
		}
	}
	m.created, m.fresh = false, false
	return true
}

// mkdirs makes dir and its missing parents, and returns the directories it
// made, parents first: dir is the last one unless it existed.
func mkdirs(dir string) ([]string, error) {
	err := unix.Mkdir(dir, 0o755)
	switch err {
	case nil:
		return []string{dir}, nil
	case unix.EEXIST:
		return nil, nil
	case unix.ENOENT:
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
		}
		made, err := mkdirs(parent)
		if err != nil {
			return made, err
		}
		switch err := unix.Mkdir(dir, 0o755); err {
		case nil:
			return append(made, dir), nil
		case unix.EEXIST: // made meanwhile by someone else
			return made, nil
		default:
			return made, &os.PathError{Op: "mkdir", Path: dir, Err: err}
		}
	}
	return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
}

// initCpuset gives a new v1 cpuset cgroup its parent's cpus and mems: they
// start out empty (unless cgroup.clone_children is set), and no task can
// join a cpuset without CPUs or memory nodes. An empty parent is filled
// from its own parent first.
func initCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		if err := initCpusetFile(dir, f); err != nil {
			return err
		}
	}
	return nil
}

// initCpusetFile copies one of cpuset.cpus and cpuset.mems from the
// nearest ancestor that has it set down to dir, if dir's is empty. Each
// file on its own: a parent another create is initialising at the same
// time may have its cpus already and its mems not yet.
func initCpusetFile(dir, f string) error {
	v, err := readTrim(filepath.Join(dir, f))
	if err != nil || v != "" {
		return err
	}
	parent := filepath.Dir(dir)
	pv, err := readTrim(filepath.Join(parent, f))
	if err != nil {
		return err
	}
	if pv == "" && parent != "/" {
		if err := initCpusetFile(parent, f); err != nil {
			return err
		}
		if pv, err = readTrim(filepath.Join(parent, f)); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, f), []byte(pv))
}

func readTrim(p string) (string, error) {
	b, err := readFile(p)
	return strings.TrimSpace(string(b)), err
}

// readFile and writeFile do plain open/read|write/close: os.File would
// also try to register each (pollable) cgroupfs file with the runtime
// poller, which costs four more syscalls per file.
func readFile(p string) ([]byte, error) {
	fd, err := openFile(p, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: p, Err: err}
		case n == 0:
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

func writeFile(p string, data []byte) error {
	// O_TRUNC, as runc: a no-op on cgroupfs, right for plain files.
	fd, err := openFile(p, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return writeFD(fd, p, data)
}

func openFile(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return fd, nil
	}
}

func writeFD(fd int, p string, data []byte) error {
	for {
		_, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: p, Err: err}
		}
		return nil
	}
}

// writeProcs moves pid into the cgroup dir. The kernel answers EINVAL while
// the task is still being forked (TASK_NEW), so that is retried briefly.
func writeProcs(dir string, pid int) error {
	p := filepath.Join(dir, "cgroup.procs")
	fd, err := openFile(p, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	b := []byte(strconv.Itoa(pid))
	for i := 0; ; i++ {
		err = writeFD(fd, p, b)
		if err == nil || i == 4 || !errors.Is(err, unix.EINVAL) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collectProcs adds the pids in dir and its descendants to seen. Parts of
// the tree that vanish meanwhile are skipped.
func collectProcs(dir string, seen map[int]struct{}) error {
	b, err := readFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, line := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(line)
		if err != nil {
			return fmt.Errorf("parse %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		seen[pid] = struct{}{}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := collectProcs(filepath.Join(dir, e.Name()), seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// isCgroupDir reports whether dir exists, and fails if it is not on a
// cgroup filesystem.
func isCgroupDir(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false, fmt.Errorf("%s: not a cgroup directory", dir)
	}
	return true, nil
}

// removeTrees removes the cgroup dirs and their descendants, bottom-up,
// retrying those still busy, i.e. holding exiting processes, for about
// 1.3 s in all. Missing dirs are fine; directories that are not on a
// cgroup filesystem are refused.
func removeTrees(dirs []string) errList {
	var errs errList
	busy := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if ok, err := isCgroupDir(d); err != nil {
			errs = append(errs, err)
		} else if ok {
			busy = append(busy, d)
		}
	}
	delay := 10 * time.Millisecond
	for i := 0; len(busy) > 0; i++ {
		var still []string
		var stillErrs errList
		for _, d := range busy {
			if err := rmdirTree(d); err != nil {
				if !errors.Is(err, unix.EBUSY) {
					errs = append(errs, err)
					continue
				}
				still = append(still, d)
				stillErrs = append(stillErrs, err)
			}
		}
		if len(still) == 0 {
			break
		}
		if i == 7 {
			for _, err := range stillErrs {
				errs = append(errs, fmt.Errorf("%w (processes left in it?)", err))
			}
			break
		}
		time.Sleep(delay)
		delay *= 2
		busy = still
	}
	return errs
}

func rmdirTree(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EBUSY && err != unix.ENOTEMPTY {
		return &os.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	// Busy: child cgroups first (or processes, which only waiting cures).
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		if errors.Is(rerr, fs.ErrNotExist) {
			return nil
		}
		return rerr
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	return nil
}

// errList is several errors, shown on one line as the first and a count.
type errList []error

func (l errList) Error() string {
	switch len(l) {
	case 0:
		return "no error"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%v (and %d more like it)", l[0], len(l)-1)
}

func (l errList) Unwrap() []error { return l }
