// Package cgroups places containers in cgroups (v1 and v2) and removes them
// again.
//
// It resolves linux.cgroupsPath like runc's cgroupfs driver:
//
//   - "" (empty): the container id, nested under the caller's own cgroup in
//     each hierarchy;
//   - "/a/b" (absolute): relative to the root of each hierarchy;
//   - "a/b" (relative): nested under the caller's own cgroup.
//
// On a cgroup v1 or hybrid host the container joins every mounted v1
// hierarchy the caller is in (every controller hierarchy and the named
// name=systemd one) and, on a hybrid host, the cgroup2 hierarchy mounted at
// /sys/fs/cgroup/unified too, like runc. On a unified (v2) host it lives in a
// single directory.
//
// A Manager is created with New (no side effect until Create or Apply) and
// rebuilt from its serialised Paths with Load in a later process.
//
// Manager.Set writes linux.resources itself, following runc's fs and fs2
// drivers. Each controller has one file with its checks (Validate), its
// cgroup v1 and v2 writers and its statistics: cpu.go, cpuset.go,
// memory.go, pids.go, blkio.go, hugetlb.go, network.go, rdma.go,
// devices.go and unified.go; controllers.go orders and calls them.
package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"

	cg "github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager controls the cgroup(s) of one container.
type Manager interface {
	// Create makes the container's cgroup directory in every hierarchy
	// (and missing parents), moving no process. It is idempotent.
	Create() error

	// Fresh reports whether Create, in this process, made the container's
	// directory in every hierarchy itself: none existed, so the cgroup
	// held no process and no child cgroup when it was made, and a caller
	// looking for processes left in it need not read it. False before
	// Create, after Destroy, in a manager from Load and for the systemd
	// driver (systemd makes the directories).
	Fresh() bool

	// Apply creates the cgroup if needed and moves pid into it in every
	// hierarchy. Call it right after forking the container init, before the
	// init does anything.
	Apply(pid int) error

	// CgroupFD creates the cgroup if needed and opens its directory for
	// clone3's CLONE_INTO_CGROUP (SysProcAttr.UseCgroupFD/CgroupFD), so the
	// child starts inside the cgroup and needs no Apply. It is available
	// only when the container lives in the single unified (v2) hierarchy;
	// otherwise it returns ErrNoCgroupFD and the caller uses Apply. The
	// caller closes the file once the child is started. If the start fails
	// (old kernel: clone3 missing), start again without it and Apply.
	CgroupFD() (*os.File, error)

	// Procs returns every pid in the container's cgroup tree (the cgroup
	// and all its descendants, in every hierarchy), sorted, without
	// duplicates. A hierarchy whose directory is gone contributes nothing.
	Procs() ([]int, error)

	// Paths maps each hierarchy to the container's absolute cgroup
	// directory: v1 controller names ("memory", "cpu", ...), named
	// hierarchies ("name=systemd") and UnifiedKey for cgroup2. The map is a
	// copy, meant for the container state; Load rebuilds the manager.
	Paths() map[string]string

	// Destroy removes the container's cgroup directory in every hierarchy,
	// with any child cgroups, bottom-up. It retries briefly while the last
	// processes exit (EBUSY) and succeeds if the directories are gone
	// already. Parents created by Create are left alone, as in runc.
	Destroy() error

	// DestroyIfEmpty removes the container's cgroup directories, with any
	// child cgroups, as Destroy does, but makes one attempt and does not
	// wait: it reports whether every directory is gone. It stops (false)
	// at the first directory that holds a process (EBUSY) or that Destroy
	// would fail on; those it removed before stay removed. The caller
	// then kills what is left and calls Destroy, which reports any error.
	// The systemd driver always answers false: Destroy stops its unit.
	DestroyIfEmpty() bool

	// Set applies every limit of r (linux.resources) to the container's
	// cgroup, creating it if needed. It calls Validate first. A nil r or
	// an absent field changes nothing. Errors are one line and name the
	// field, e.g. "linux.resources.memory.limit: ...". On v2 it enables
	// the controllers the limits need in the parents' cgroup.subtree_control.
	// A Manager from Load(paths) writes the files of any cgroup
	// directories, e.g. for the values a systemd unit has no property for.
	Set(r *specs.LinuxResources) error

	// Stats reads the container's resource usage, in the shape of the
	// "data" of runc's `events --stats`.
	Stats() (*Stats, error)

	// Freeze freezes every process of the container's cgroup tree and
	// waits until the kernel reports it frozen (v1 freezer.state FROZEN,
	// v2 "frozen 1" in cgroup.events).
	Freeze() error

	// Thaw resumes the processes frozen by Freeze.
	Thaw() error

	// Frozen reports whether the cgroup is frozen (or still freezing).
	Frozen() (bool, error)

	// FrozenInEffect reports whether a process put in the cgroup would be
	// stopped at once: the cgroup, or the nearest existing ancestor if it
	// does not exist yet, is frozen (or freezing) by itself or by an
	// ancestor (v1 freezer.state, v2 "frozen 1" in cgroup.events). The
	// root of a v2 hierarchy, which cannot be frozen, reads as thawed.
	FrozenInEffect() (bool, error)

	// OOMKillCount returns the number of processes the OOM killer has
	// killed in the cgroup (v2 memory.events oom_kill; v1
	// memory.oom_control oom_kill, kernel 4.13 and later).
	OOMKillCount() (uint64, error)

	// NotifyOOM sends one value on the returned channel per OOM event in
	// the cgroup (v1: an eventfd on memory.oom_control registered with
	// cgroup.event_control; v2: inotify on memory.events, watching
	// oom_kill grow). The channel is closed when ctx ends or the cgroup
	// goes away.
	NotifyOOM(ctx context.Context) (<-chan struct{}, error)
}

// UnifiedKey is the key of the cgroup2 (unified) hierarchy in Paths, as in
// runc's state.json.
const UnifiedKey = ""

// Mode is the cgroup layout of the host.
type Mode = cg.CGMode

// The cgroup layouts.
const (
	Unavailable = cg.Unavailable // nothing mounted at /sys/fs/cgroup
	Legacy      = cg.Legacy      // cgroup v1 only
	Hybrid      = cg.Hybrid      // v1 controllers plus cgroup2 at /sys/fs/cgroup/unified
	Unified     = cg.Unified     // cgroup v2 only
)

// HostMode returns the host's cgroup layout. It is detected once per
// process, with statfs(2) on /sys/fs/cgroup (and /sys/fs/cgroup/unified).
func HostMode() Mode { return cg.Mode() }

// IsV2 reports whether the host uses the unified cgroup v2 hierarchy only.
func IsV2() bool { return HostMode() == Unified }

// Sentinel errors; test with errors.Is. Permission problems unwrap to
// fs.ErrPermission.
var (
	// ErrInvalidPath: linux.cgroupsPath (or the container id it defaults
	// to) escapes the hierarchy with "..", or names the hierarchy root or
	// the caller's own cgroup.
	ErrInvalidPath = errors.New("invalid cgroup path")
	// ErrNotMounted: no usable cgroup hierarchy is mounted, or the caller's
	// cgroup is not visible under the mounted one.
	ErrNotMounted = errors.New("cgroup hierarchy not mounted")
	// ErrNoCgroupFD: CgroupFD needs the container in the unified hierarchy
	// only (cgroup v2); use Apply.
	ErrNoCgroupFD = errors.New("no cgroup fd: CLONE_INTO_CGROUP needs a cgroup v2 only host")
	// ErrV1NoUnified: linux.resources.unified on a host that is not
	// cgroup v2 only; runc's text, which clients match.
	ErrV1NoUnified = errors.New("invalid configuration: cannot use unified on cgroup v1")
)

// Error is the error of a Manager operation. Its message is one line that
// names linux.cgroupsPath when the manager was built from one.
type Error struct {
	CgroupsPath string // linux.cgroupsPath as given to New; "" after Load
	Op          string // "resolve", "create", "apply", "procs", "destroy", ...
	Path        string // the directory or file concerned, if any
	Err         error

	fromSpec bool // the manager came from New: name linux.cgroupsPath
}

func (e *Error) Error() string {
	s := "cgroups: "
	if e.CgroupsPath != "" || e.fromSpec {
		s += fmt.Sprintf("linux.cgroupsPath %q: ", e.CgroupsPath)
	}
	s += e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New resolves cgroupsPath (linux.cgroupsPath) for container id on this host
// and returns its manager. It reads /proc/self/cgroup and, on v1/hybrid
// hosts, /proc/self/mountinfo (at most once per process); it creates
// nothing.
func New(cgroupsPath, id string) (Manager, error) {
	h, err := currentHost()
	if err != nil {
		return nil, &Error{CgroupsPath: cgroupsPath, Op: "resolve", Err: err, fromSpec: true}
	}
	own, err := readFile("/proc/self/cgroup")
	if err != nil {
		return nil, &Error{CgroupsPath: cgroupsPath, Op: "resolve", Err: err, fromSpec: true}
	}
	paths, err := resolve(cgroupsPath, id, h, own)
	if err != nil {
		return nil, &Error{CgroupsPath: cgroupsPath, Op: "resolve", Err: err, fromSpec: true}
	}
	return newManager(cgroupsPath, true, paths, h.mode == Unified), nil
}

// Load rebuilds a manager from the Paths of one made by New, e.g. in a later
// podrun process. It touches nothing on disk.
func Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, &Error{Op: "load", Err: fmt.Errorf("%w: no cgroup paths", ErrInvalidPath)}
	}
	cp := make(map[string]string, len(paths))
	for k, p := range paths {
		if err := checkLoadedPath(p); err != nil {
			return nil, &Error{Op: "load", Path: p, Err: err}
		}
		cp[k] = p
	}
	_, onlyUnified := cp[UnifiedKey]
	onlyUnified = onlyUnified && len(cp) == 1
	return newManager("", false, cp, onlyUnified), nil
}
