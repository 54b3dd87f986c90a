package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/procstat"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// State is what podrun persists for a container in <root>/<id>/state.json.
type State struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
	// Status is the last status podrun recorded; the live one also depends
	// on whether the init still exists (see Container.Status).
	Status Status `json:"status"`
	// Pid and PidStart identify the init; PidStart (clock ticks since boot,
	// from /proc/PID/stat) guards against pid reuse.
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"pidStart"`
	// CgroupPaths are the cgroup manager's Paths; with the systemd driver
	// they name the unit too, so later calls without --systemd-cgroup
	// still use that driver (see Runtime.LoadCgroup).
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Image is the container's use of an image's layers (image bundles):
	// its overlay upper/work dirs, released by delete.
	Image *image.ContainerUse `json:"image,omitempty"`
	// RootfsMounts is set for a container without a mount namespace of its
	// own, whose mounts the init makes in ours: how many mounts were at the
	// rootfs path before create. Delete unmounts those above (the rootfs
	// bind mount holding all the container's mounts).
	RootfsMounts *int `json:"rootfsMounts,omitempty"`
	// OOMKillCount is the cgroup's OOM kill count, recorded once the
	// container was seen stopped (see Runtime.OOMKilled).
	OOMKillCount uint64 `json:"oomKillCount,omitempty"`
	// Spec is the config.json the container was created with, as read
	// (then as changed by Update); Container.Spec decodes it on first use.
	// It stays raw because most calls (start, kill, state, delete) need at
	// most its hooks and annotations (specMeta, which load decodes), and encoding/json's
	// first encode or decode of a specs.Spec costs each process about 1 ms of
	// reflection over the spec's types (issue 16's profile).
	Spec json.RawMessage `json:"spec"`
}

// Container is a loaded, locked container. Callers must Close it.
type Container struct {
	rt    *Runtime
	dir   string
	lock  *os.File
	State State
	// readOnly is a snapshot taken by Peek while another podrun call held
	// the lock: it is never saved.
	readOnly bool
	// spec is State.Spec decoded (Spec), nil until needed; meta is its
	// hooks and annotations, always there.
	spec *specs.Spec
	meta specMeta
	// exec is execBase's decoding, kept: Exec asks twice.
	exec *execView
}

// execView is the part of the spec exec uses (execBase).
type execView struct {
	Process *specs.Process `json:"process"`
	Linux   *struct {
		Seccomp     *specs.LinuxSeccomp     `json:"seccomp"`
		Personality *specs.LinuxPersonality `json:"personality"`
	} `json:"linux"`
}

// errBusy is tryLockDir's answer when another podrun call holds the lock.
var errBusy = errors.New("container locked by another podrun call")

// lockDir takes an exclusive flock on the container directory, so that
// concurrent podrun calls on one id run one at a time.
func lockDir(dir string) (*os.File, error) {
	return flockDir(dir, unix.LOCK_EX)
}

// tryLockDir is lockDir without waiting: errBusy when the lock is held.
func tryLockDir(dir string) (*os.File, error) {
	return flockDir(dir, unix.LOCK_EX|unix.LOCK_NB)
}

func flockDir(dir string, how int) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EWOULDBLOCK {
		f.Close()
		return nil, errBusy
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}

// Load locks and reads the container id.
func (r *Runtime) Load(id string) (*Container, error) {
	return r.load(id, false)
}

// Peek is Load for reading only. When another podrun call holds the lock
// (a create running its hooks, which have no timeout unless the spec sets
// one, or a delete waiting for the init) it reads the state without the
// lock instead of waiting behind it: the state file is replaced
// atomically, so the snapshot is whole, and the status is computed live.
// A peeked container is never saved.
func (r *Runtime) Peek(id string) (*Container, error) {
	return r.load(id, true)
}

func (r *Runtime) load(id string, peek bool) (*Container, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	dir := r.dir(id)
	var lock *os.File
	var err error
	if peek {
		lock, err = tryLockDir(dir)
		if errors.Is(err, errBusy) {
			err = nil
		}
	} else {
		lock, err = lockDir(dir)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{rt: r, dir: dir, lock: lock, readOnly: lock == nil}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		c.Close()
		if errors.Is(err, os.ErrNotExist) {
			// Removed while we waited for the lock, or a create that died
			// before its first state write: either way, not a container.
			return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
		}
		return nil, err
	}
	if err := json.Unmarshal(b, &c.State); err != nil {
		c.Close()
		return nil, fmt.Errorf("reading state of %s: %w", id, err)
	}
	if len(c.State.Spec) > 0 {
		if err := json.Unmarshal(c.State.Spec, &c.meta); err != nil {
			c.Close()
			return nil, fmt.Errorf("reading state of %s: spec: %w", id, err)
		}
	}
	return c, nil
}

// Close releases the container's lock.
func (c *Container) Close() error {
	if c.lock == nil {
		return nil
	}
	err := c.lock.Close()
	c.lock = nil
	return err
}

// save writes the state atomically (temp file + rename). A peeked
// (read-only) container is not written: its lock holder owns the state.
func (c *Container) save() error {
	if c.readOnly {
		return nil
	}
	b, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(c.dir, stateFile), b, 0o600)
}

// Status is the live status: the recorded one, corrected by whether the init
// still exists and whether start has consumed the exec fifo.
func (c *Container) Status() Status {
	s := c.State.Status
	// A Creating state with no pid seen under the lock means the create that
	// wrote it died before starting the init; seen by Peek while the lock is
	// held, the create is still starting it.
	if s == Creating && c.State.Pid == 0 && c.readOnly {
		return Creating
	}
	if s == Stopped || c.State.Pid == 0 {
		return Stopped
	}
	if !processAlive(c.State.Pid, c.State.PidStart) {
		return Stopped
	}
	if s == Creating || s == Paused {
		return s
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoName)); err == nil {
		return Created
	}
	return Running
}

// OCIState is the state JSON of `podrun state`, in runc's shape.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
	// OOMKilled is podrun's own: the OOM killer killed a process of the
	// container (runc has no such field; clients ignore it).
	OOMKilled bool `json:"oomKilled,omitempty"`
}

// OCIState returns the container's state for clients.
func (c *Container) OCIState() OCIState {
	s := c.Status()
	pid := c.State.Pid
	if s == Stopped {
		pid = 0
	}
	st := OCIState{OCIVersion: specs.Version, ID: c.State.ID, Pid: pid, Status: s,
		Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Created: c.State.Created, Owner: c.State.Owner}
	st.Annotations = c.meta.Annotations
	return st
}

// specState is the state given to hooks on stdin.
func (c *Container) specState(s Status) *specs.State {
	st := &specs.State{Version: specs.Version, ID: c.State.ID, Status: specs.ContainerState(s),
		Pid: c.State.Pid, Bundle: c.State.Bundle}
	if s == Stopped {
		// As in `state` (and runc's poststop state): the pid of a dead
		// init may already belong to another process.
		st.Pid = 0
	}
	st.Annotations = c.meta.Annotations
	return st
}

// Spec returns the spec the container was created with (an empty one when
// the state has none), decoded from the state on first use.
func (c *Container) Spec() (*specs.Spec, error) {
	if c.spec == nil {
		s := &specs.Spec{}
		if len(c.State.Spec) > 0 {
			var err error
			if s, err = decodeSpec(c.State.Spec); err != nil {
				return nil, fmt.Errorf("reading the spec in the state of %s: %w", c.State.ID, err)
			}
		}
		c.spec = s
	}
	return c.spec, nil
}

// setSpec replaces the container's spec; the next save records it.
func (c *Container) setSpec(s *specs.Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	c.State.Spec, c.spec, c.exec = b, s, nil
	c.meta = metaOf(s)
	return nil
}

// execBase is what exec takes from the spec: the process it starts from
// and the linux fields that apply to exec'd processes too (seccomp,
// personality), in a *specs.Linux with only those set. Decoding just these
// spares exec the reflection over the rest of specs.Spec's types (about
// 0.5 ms of a cold process; encoding/json builds the encoders of every
// field's type when it first meets a struct).
func (c *Container) execBase() (*specs.Process, *specs.Linux, error) {
	if c.spec != nil {
		return c.spec.Process, c.spec.Linux, nil
	}
	if c.exec == nil {
		var v execView
		if len(c.State.Spec) > 0 {
			if err := json.Unmarshal(c.State.Spec, &v); err != nil {
				return nil, nil, fmt.Errorf("reading the spec in the state of %s: %w", c.State.ID, err)
			}
		}
		c.exec = &v
	}
	v := c.exec
	if v.Linux == nil {
		return v.Process, nil, nil
	}
	return v.Process, &specs.Linux{Seccomp: v.Linux.Seccomp, Personality: v.Linux.Personality}, nil
}

// baseProcess is execBase for a process built from the container's own:
// one it must have.
func (c *Container) baseProcess() (*specs.Process, *specs.Linux, error) {
	p, l, err := c.execBase()
	if err == nil && p == nil {
		err = errors.New("the container's spec has no process to base the exec on")
	}
	return p, l, err
}

// specMeta is what most calls need of the spec. load decodes only these
// fields: a scan of the spec's bytes, not reflection over all of
// specs.Spec's types.
type specMeta struct {
	Hooks       *specs.Hooks      `json:"hooks"`
	Annotations map[string]string `json:"annotations"`
}

// metaOf is the specMeta of a decoded spec.
func metaOf(s *specs.Spec) specMeta { return specMeta{Hooks: s.Hooks, Annotations: s.Annotations} }

// processAlive reports whether pid runs and is the process that started at
// start (not a later process that reused the pid). Zombies count as dead.
func processAlive(pid int, start uint64) bool {
	st, state, err := procstat.Read(pid)
	if err != nil {
		return false
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}
