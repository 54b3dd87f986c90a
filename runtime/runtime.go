// Package runtime is podrun's container lifecycle: create, start, exec, kill,
// delete and the persisted state behind them. It is the Go API that the CLI,
// and later the pod supervisor, call; cmd/podrun only parses flags and prints.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/cgroups/systemd"
	"github.com/podrun/podrun/internal/errdefs"
)

// Logger receives warnings and debug messages the lifecycle produces.
type Logger interface {
	Debugf(format string, args ...any)
	Warnf(format string, args ...any)
}

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	// Root holds one directory per container (runc's --root).
	Root string
	// Self is the podrun binary to re-execute as the init (empty:
	// "/proc/self/exe").
	Self string
	// Log gets warnings (failing poststart/poststop hooks, ignored config).
	Log Logger
	// NewCgroup and LoadCgroup are the cgroup driver; tests may swap them.
	NewCgroup  func(cgroupsPath, id string) (cgroups.Manager, error)
	LoadCgroup func(paths map[string]string) (cgroups.Manager, error)
}

// selfExe is Self, or /proc/self/exe when unset: the one name create,
// exec and LightExec seal, so that a handle exeseal.Prepare made is the
// one Open finds.
func (r *Runtime) selfExe() string {
	if r.Self == "" {
		return "/proc/self/exe"
	}
	return r.Self
}

// New returns a Runtime with the default cgroup driver.
func New(root string, log Logger) *Runtime {
	if log == nil {
		log = nopLogger{}
	}
	return &Runtime{Root: root, Self: "/proc/self/exe", Log: log, NewCgroup: cgroups.New, LoadCgroup: LoadCgroup}
}

// UseSystemd makes the containers created from now on use the systemd
// cgroup driver (--systemd-cgroup): a transient scope per container.
// Containers are loaded with the driver that made them whatever this says
// (see LoadCgroup), as podman calls without the global flags.
func (r *Runtime) UseSystemd() { r.NewCgroup = systemd.New }

// LoadCgroup rebuilds a container's cgroup manager from the paths in its
// state with the driver that made it: systemd when they name a unit,
// cgroupfs otherwise.
func LoadCgroup(paths map[string]string) (cgroups.Manager, error) {
	if systemd.HasUnit(paths) {
		return systemd.Load(paths, "")
	}
	return cgroups.Load(paths)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Warnf(string, ...any)  {}

// Typed errors; the CLI turns them into the texts clients match.
var (
	ErrNotExist   = errdefs.New(errdefs.ErrNotFound, "container does not exist")
	ErrExist      = errdefs.New(errdefs.ErrAlreadyExists, "container with given ID already exists")
	ErrNotRunning = errdefs.New(errdefs.ErrFailedPrecondition, "container not running")
	ErrInvalidID  = errdefs.New(errdefs.ErrInvalidArgument, "invalid container id format")
	ErrState      = errdefs.New(errdefs.ErrFailedPrecondition, "invalid container state for operation")
)

// validateID accepts runc's ids (its `^[\w+\-.]+$`): ASCII letters, digits,
// _ + - and . (not . or ..). A loop, not that regexp: every command
// checks an id, and compiling the regexp at package init cost each podrun
// process (the CLI and the init) about 10 us.
func validateID(id string) error {
	ok := id != "" && id != "." && id != ".." && len(id) <= 1024
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

// IDs lists the ids of every container under Root.
func (r *Runtime) IDs() ([]string, error) {
	ents, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validateID(e.Name()) == nil && !isPodsDir(r.Root, e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// PodsDir is the directory under Root where package pod keeps its pod
// sandboxes; it is not a container unless it holds a container's state.
const PodsDir = "pods"

func isPodsDir(root, name string) bool {
	if name != PodsDir {
		return false
	}
	_, err := os.Stat(filepath.Join(root, name, stateFile))
	return err != nil
}
