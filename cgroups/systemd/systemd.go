// Package systemd is the systemd cgroup driver (podrun --systemd-cgroup),
// like runc's: systemd owns the container's cgroup as a transient scope
// unit, and podrun asks for it over D-Bus instead of making directories.
//
// linux.cgroupsPath has runc's systemd form "slice:prefix:name", e.g.
// "system.slice:docker:abc" or "kubepods-besteffort-pod1.slice:cri-containerd:abc":
// the container runs in the scope "<prefix>-<name>.scope" inside the slice,
// whose cgroup follows systemd's slice naming
// (/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope).
// An empty cgroupsPath is "system.slice:podrun:<id>". Missing slices are
// created by systemd itself with the scope.
//
// Apply(pid) starts the scope around pid (StartTransientUnit with PIDs,
// Delegate=yes, DefaultDependencies=no, the accounting switches and the
// resources systemd can express) and waits for the job; the cgroupfs
// manager of package cgroups, on the scope's directories, then writes every
// resource value (systemd cannot say everything), and on v1 joins pid to
// the hierarchies systemd does not manage (cpuset, freezer, net_cls, ...).
// Procs, Stats, Freeze, Thaw, OOM events and the like are that cgroupfs
// manager's. Destroy stops the unit (its processes get SIGTERM, then
// SIGKILL after the unit's stop timeout) and removes what is left.
//
// D-Bus is dialled on first use (system bus, or root's private socket
// /run/systemd/private), never at import or in New.
//
// # Persisting the unit
//
// Paths() holds the scope's cgroup directories as usual plus the unit name
// under the reserved key UnitKey ("systemd:unit"), so the runtime stores one
// map as for the cgroupfs driver. Load(paths, "") takes the unit from
// there; HasUnit tells a systemd map from a cgroupfs one (cgroups.Load
// refuses a map with the key: its value is no directory). A runtime's
// LoadCgroup can therefore be:
//
//	func(p map[string]string) (cgroups.Manager, error) {
//		if systemd.HasUnit(p) {
//			return systemd.Load(p, "")
//		}
//		return cgroups.Load(p)
//	}
package systemd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/cgroups"
)

// UnitKey is the reserved Paths key holding the unit name.
const UnitKey = "systemd:unit"

// HasUnit reports whether paths (from Paths) belong to the systemd driver.
func HasUnit(paths map[string]string) bool {
	_, ok := paths[UnitKey]
	return ok
}

// Manager is the systemd driver's cgroups.Manager. The methods it does not
// define itself (Stats, Freeze, ...) are those of the cgroupfs manager on
// the unit's cgroup directories.
type Manager struct {
	cgroups.Manager // cgroupfs on the unit's directories

	cgroupsPath string // linux.cgroupsPath as given to New, for errors
	fromSpec    bool
	unit        string
	slice       string // the parent slice; "" after Load
	v2          bool   // the unit's cgroup is in the unified hierarchy only

	applied bool                  // the unit exists: Apply ran, or Load
	pending *specs.LinuxResources // Set before Apply: started with the unit
}

var _ cgroups.Manager = (*Manager)(nil)

// New resolves a systemd cgroupsPath "slice:prefix:name" for container id
// (see the package documentation). It reads /proc/self/cgroup (and on v1
// /proc/self/mountinfo) to find the hierarchies, and changes nothing.
func New(cgroupsPath, id string) (cgroups.Manager, error) {
	u, err := parseCgroupsPath(cgroupsPath, id)
	if err != nil {
		return nil, &cgroups.Error{CgroupsPath: cgroupsPath, Op: "resolve", Err: err}
	}
	fs, err := cgroups.New(u.path, id)
	if err != nil {
		var ce *cgroups.Error
		if errors.As(err, &ce) {
			err = ce.Err
		}
		return nil, &cgroups.Error{CgroupsPath: cgroupsPath, Op: "resolve", Err: err}
	}
	return newManager(fs, cgroupsPath, true, u.unit, u.slice), nil
}

// Load rebuilds a manager from the Paths of one made by New, in a later
// process: unit names the unit, or if empty, paths[UnitKey] does. The unit
// is taken to exist (Set changes it at once). It touches nothing.
func Load(paths map[string]string, unit string) (cgroups.Manager, error) {
	if unit == "" {
		unit = paths[UnitKey]
	}
	if unit == "" {
		return nil, &cgroups.Error{Op: "load", Err: fmt.Errorf("%w: no systemd unit name (key %q)", cgroups.ErrInvalidPath, UnitKey)}
	}
	if !strings.HasSuffix(unit, ".scope") && !strings.HasSuffix(unit, ".slice") || strings.ContainsRune(unit, '/') {
		return nil, &cgroups.Error{Op: "load", Err: fmt.Errorf("%w: %q is not a scope or slice unit", cgroups.ErrInvalidPath, unit)}
	}
	dirs := maps.Clone(paths)
	delete(dirs, UnitKey)
	fs, err := cgroups.Load(dirs)
	if err != nil {
		return nil, err
	}
	m := newManager(fs, "", false, unit, "")
	m.applied = true
	return m, nil
}

func newManager(fs cgroups.Manager, cgroupsPath string, fromSpec bool, unit, slice string) *Manager {
	p := fs.Paths()
	_, v2 := p[cgroups.UnifiedKey]
	return &Manager{
		Manager: fs, cgroupsPath: cgroupsPath, fromSpec: fromSpec,
		unit: unit, slice: slice, v2: v2 && len(p) == 1,
	}
}

// Unit returns the unit's name, e.g. "podrun-abc.scope".
func (m *Manager) Unit() string { return m.unit }

func (m *Manager) err(op string, err error) error {
	e := &cgroups.Error{Op: op, Path: m.unit, Err: err}
	if m.fromSpec {
		// cgroups.Error names linux.cgroupsPath only when it is not empty.
		e.CgroupsPath = m.cgroupsPath
	}
	return e
}

func (m *Manager) isSlice() bool { return strings.HasSuffix(m.unit, ".slice") }

// Paths returns the cgroupfs directories of the unit plus UnitKey.
func (m *Manager) Paths() map[string]string {
	p := m.Manager.Paths()
	p[UnitKey] = m.unit
	return p
}

// Create starts the unit when it is a slice (name "….slice"), which
// needs no process. A scope cannot exist without processes: Create does
// nothing and Apply starts it.
func (m *Manager) Create() error {
	if !m.isSlice() || m.applied {
		return nil
	}
	if err := m.start(0); err != nil {
		return err
	}
	m.applied = true
	if r := m.pending; r != nil {
		m.pending = nil
		return m.fsSet(r)
	}
	return nil
}

// Fresh is false: systemd makes the unit's directories, and a unit of the
// same name left over may hold processes.
func (m *Manager) Fresh() bool { return false }

// CgroupFD returns cgroups.ErrNoCgroupFD: systemd makes the scope around a
// running process, so the child must be started first and then Applied.
func (m *Manager) CgroupFD() (*os.File, error) {
	return nil, fmt.Errorf("%w (systemd cgroup driver: the scope is made around a running process)", cgroups.ErrNoCgroupFD)
}

// Apply starts the scope unit around pid in the slice, with the resources
// given to Set beforehand, and waits until systemd has made it; then the
// cgroupfs manager joins pid to the hierarchies systemd leaves alone (v1)
// and writes the resources systemd could not. A slice cannot hold
// processes: Apply on a slice unit fails.
func (m *Manager) Apply(pid int) error {
	if pid <= 0 {
		return m.err("apply", fmt.Errorf("invalid pid %d", pid))
	}
	if m.isSlice() {
		return m.err("apply", errors.New("a slice unit cannot hold processes: use a scope (slice:prefix:name without .slice)"))
	}
	if m.applied {
		// The scope exists (e.g. Load): join it through cgroupfs.
		return m.Manager.Apply(pid)
	}
	if err := m.start(pid); err != nil {
		return err
	}
	m.applied = true
	// v1: the hierarchies systemd does not manage (cpuset, freezer, ...);
	// elsewhere pid is in the scope already, and this is a no-op.
	if err := m.Manager.Apply(pid); err != nil {
		return err
	}
	if r := m.pending; r != nil {
		m.pending = nil
		if err := m.fsSet(r); err != nil {
			return err
		}
	}
	return nil
}

// start starts the unit: the scope around pid, or (pid 0) the slice.
func (m *Manager) start(pid int) error {
	ctx := context.Background()
	props, err := m.unitProperties(ctx, pid)
	if err != nil {
		return m.err("start", err)
	}
	if err := startUnit(ctx, m.unit, props, pid == 0); err != nil {
		return m.err("start", err)
	}
	return nil
}

// unitProperties are the properties of a new unit: see baseProperties,
// plus the pending resources.
func (m *Manager) unitProperties(ctx context.Context, pid int) ([]sdbus.Property, error) {
	props := baseProperties(m.unit, m.slice, pid, m.v2)
	if m.pending != nil {
		rp, err := resourceProperties(m.pending, m.v2, systemdVersion(ctx))
		if err != nil {
			return nil, err
		}
		props = append(props, rp...)
	}
	return props, nil
}

// baseProperties are the properties every unit gets, like runc's: a
// description, its slice (Slice= for a scope, Wants= for a slice unit),
// delegation of the scope's subtree to the container, pid, accounting of
// every controller, and no default dependencies (a container's scope must
// not be ordered against shutdown.target and the like). It is pure.
func baseProperties(unit, slice string, pid int, v2 bool) []sdbus.Property {
	name := strings.TrimSuffix(strings.TrimSuffix(unit, ".scope"), ".slice")
	props := []sdbus.Property{sdbus.PropDescription("podrun container " + name)}
	if strings.HasSuffix(unit, ".slice") {
		if slice != "" {
			props = append(props, sdbus.PropWants(slice))
		}
	} else {
		if slice != "" {
			props = append(props, sdbus.PropSlice(slice))
		}
		props = append(props, newProp("Delegate", true))
	}
	if pid > 0 {
		props = append(props, sdbus.PropPids(uint32(pid)))
	}
	props = append(props, newProp("MemoryAccounting", true), newProp("CPUAccounting", true))
	if v2 {
		props = append(props, newProp("IOAccounting", true))
	} else {
		props = append(props, newProp("BlockIOAccounting", true))
	}
	return append(props, newProp("TasksAccounting", true), newProp("DefaultDependencies", false))
}

// Set changes the unit's resources: first the unit properties systemd
// knows (so that systemd, re-applying its settings on daemon-reload, keeps
// them), then every value through cgroupfs. Before Apply, it only records
// r for Apply to start the unit with.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := cgroups.Validate(r); err != nil {
		return err
	}
	if !m.applied {
		m.pending = r
		return nil
	}
	ctx := context.Background()
	props, err := resourceProperties(r, m.v2, systemdVersion(ctx))
	if err != nil {
		return m.err("set", err)
	}
	if err := m.setProperties(ctx, props, !m.v2 && r.Devices != nil); err != nil {
		return m.err("set", err)
	}
	return m.fsSet(r)
}

// freezer is the part of the cgroupfs manager Set uses on v1.
type freezer interface {
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
}

// setProperties sets props on the unit. On v1 systemd rewrites the device
// lists by denying everything and allowing again, so a container that
// opens a device meanwhile would fail: as runc does, it is frozen around
// the change (when it was not frozen already).
func (m *Manager) setProperties(ctx context.Context, props []sdbus.Property, devicesV1 bool) error {
	if f, ok := m.Manager.(freezer); ok && devicesV1 {
		if frozen, err := f.Frozen(); err == nil && !frozen {
			if err := f.Freeze(); err == nil {
				defer f.Thaw()
			}
		}
	}
	return setUnitProperties(ctx, m.unit, props)
}

// fsSet has the cgroupfs manager write r, when it can.
func (m *Manager) fsSet(r *specs.LinuxResources) error {
	if s, ok := m.Manager.(interface {
		Set(*specs.LinuxResources) error
	}); ok {
		return s.Set(r)
	}
	return nil
}

// Destroy stops the unit and waits for systemd (it sends the processes
// left SIGTERM, and SIGKILL after the unit's stop timeout; a unit that is
// gone already is fine), resets it if it failed, then removes any
// directories left (on v1, those in the hierarchies systemd does not
// manage). It works from any process, e.g. after Load.
func (m *Manager) Destroy() error {
	var errs []error
	if err := stopUnit(context.Background(), m.unit); err != nil {
		errs = append(errs, m.err("destroy", err))
	}
	if err := m.Manager.Destroy(); err != nil {
		errs = append(errs, err)
	}
	m.applied = false
	return errors.Join(errs...)
}

// DestroyIfEmpty is false: the unit is stopped by Destroy, which the
// caller calls next.
func (m *Manager) DestroyIfEmpty() bool { return false }
