package namespaces

import (
	"fmt"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/capnames"
	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/seccomp"
)

// Plan is what the init reads of its InitConfig, resolved by the runtime
// where that is cheaper there: capability names become bit masks, rlimit
// names resource numbers, sysctl keys their /proc/sys paths, namespaces a
// clone-flag mask. It travels in a small binary form (protocol_codec.go)
// rather than as the spec in JSON: decoding the spec with encoding/json's
// reflection cost the init some 1 ms of CPU and 2,700 allocations on each
// start, most of it building type caches it used once.
type Plan struct {
	ID string
	// Fds of the child (see InitConfig).
	FifoFd, ConsoleFd, PreserveFds int
	JoinFds                        []NSFd
	MountFds                       []int
	UnshareCgroup                  bool

	// The container's set-up.
	Rootfs, BundleDir               string
	NoPivot, NewKeyring, NewMountNS bool
	Hostname, Domainname            string
	Namespaces                      uintptr // clone flags of linux.namespaces, new or joined
	NewNetNS                        bool    // a network namespace of its own: loopback up
	Sysctls                         []Sysctl
	Mounts                          []specs.Mount
	RootReadonly                    bool
	RootfsPropagation, MountLabel   string
	Devices                         []specs.LinuxDevice
	MaskedPaths, ReadonlyPaths      []string
	CreateContainer, StartContainer []specs.Hook
	State                           *specs.State
	Overlay                         *overlay.Mount
	ApparmorProfile, SelinuxLabel   string
	Personality                     *specs.LinuxPersonality
	Scheduler                       *specs.Scheduler
	IOPriority                      *specs.LinuxIOPriority
	Seccomp                         *seccomp.Filter
	Args, Env                       []string
	Cwd                             string
	Terminal                        bool
	ConsoleSize                     *specs.Box
	UID, GID                        uint32
	AdditionalGids                  []uint32
	Umask                           *uint32
	Caps                            [numCapSets]uint64 // bit n is capability n, in capSets order
	Rlimits                         []Rlimit
	NoNewPrivileges                 bool
}

// NSFd is a namespace the child joins: its /proc/PID/ns name and the fd.
type NSFd struct {
	Name string
	Fd   int
}

// Sysctl is one linux.sysctl entry with its file below /proc/sys.
type Sysctl struct{ Key, Path, Value string }

// Rlimit is one process.rlimits entry with its resource number.
type Rlimit struct {
	Type       string
	Resource   int
	Soft, Hard uint64
}

// The capability sets of Plan.Caps.
const (
	capBounding = iota
	capEffective
	capPermitted
	capInheritable
	capAmbient
	numCapSets
)

// joinOrder is the order the child joins namespaces by fd: the mount
// namespace last, the others are found through fds, not paths.
var joinOrder = []string{"net", "ipc", "uts", "cgroup", "mnt"}

// newPlan resolves cfg into the init's plan. Errors are those the init
// would report (an rlimit or sysctl it could not apply), found earlier.
func newPlan(cfg *InitConfig) (*Plan, error) {
	if cfg == nil || cfg.Process == nil {
		return nil, fmt.Errorf("init: no process to run")
	}
	p := cfg.Process
	pl := &Plan{
		ID:     cfg.ID,
		FifoFd: cfg.FifoFd, ConsoleFd: cfg.ConsoleFd, PreserveFds: cfg.PreserveFds,
		MountFds: cfg.MountFds, UnshareCgroup: cfg.UnshareCgroup,
		Rootfs: cfg.Rootfs, BundleDir: cfg.BundleDir,
		NoPivot: cfg.NoPivot, NewKeyring: cfg.NewKeyring, NewMountNS: cfg.NewMountNS,
		State: cfg.State, Overlay: cfg.Overlay, Seccomp: cfg.Seccomp, Personality: cfg.Personality,
		ApparmorProfile: p.ApparmorProfile, SelinuxLabel: p.SelinuxLabel,
		Scheduler: p.Scheduler, IOPriority: p.IOPriority,
		Args: p.Args, Env: p.Env, Cwd: p.Cwd, Terminal: p.Terminal, ConsoleSize: p.ConsoleSize,
		UID: p.User.UID, GID: p.User.GID, AdditionalGids: p.User.AdditionalGids, Umask: p.User.Umask,
		NoNewPrivileges: p.NoNewPrivileges,
	}
	for _, name := range joinOrder {
		if fd, ok := cfg.JoinFds[name]; ok {
			pl.JoinFds = append(pl.JoinFds, NSFd{Name: name, Fd: fd})
		}
	}
	if c := p.Capabilities; c != nil {
		for i, names := range [numCapSets][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			pl.Caps[i] = capMask(names)
		}
	}
	for _, rl := range p.Rlimits {
		res, ok := rlimits[rl.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		pl.Rlimits = append(pl.Rlimits, Rlimit{Type: rl.Type, Resource: res, Soft: rl.Soft, Hard: rl.Hard})
	}
	if cfg.Spec == nil {
		return pl, nil
	}
	s := cfg.Spec
	pl.Hostname, pl.Domainname, pl.Mounts = s.Hostname, s.Domainname, s.Mounts
	pl.RootReadonly = s.Root != nil && s.Root.Readonly
	if h := s.Hooks; h != nil {
		pl.CreateContainer, pl.StartContainer = h.CreateContainer, h.StartContainer
	}
	if l := s.Linux; l != nil {
		for _, ns := range l.Namespaces {
			pl.Namespaces |= cloneFlags[ns.Type]
		}
		pl.NewNetNS = Has(l.Namespaces, specs.NetworkNamespace) && Path(l.Namespaces, specs.NetworkNamespace) == ""
		keys := make([]string, 0, len(l.Sysctl))
		for k := range l.Sysctl {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_, rel, err := SysctlName(k)
			if err != nil {
				return nil, fmt.Errorf("linux.sysctl: %w", err)
			}
			pl.Sysctls = append(pl.Sysctls, Sysctl{Key: k, Path: "/proc/sys/" + rel, Value: l.Sysctl[k]})
		}
		pl.RootfsPropagation, pl.MountLabel = l.RootfsPropagation, l.MountLabel
		pl.Devices, pl.MaskedPaths, pl.ReadonlyPaths = l.Devices, l.MaskedPaths, l.ReadonlyPaths
		if pl.Personality == nil {
			pl.Personality = l.Personality
		}
	}
	return pl, nil
}

// capMask is the bit mask of the capability names podrun knows (unknown
// ones were dropped, with a warning, when the config was validated).
func capMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		if c, ok := capnames.ByName(n); ok && c < 64 {
			m |= 1 << uint(c)
		}
	}
	return m
}

// rootfsSpec is the part of the spec that rootfs.Prepare and rootfs.Enter
// read, rebuilt from the plan.
func (pl *Plan) rootfsSpec() *specs.Spec {
	s := &specs.Spec{
		Root:   &specs.Root{Readonly: pl.RootReadonly},
		Mounts: pl.Mounts,
		Linux: &specs.Linux{
			RootfsPropagation: pl.RootfsPropagation, MountLabel: pl.MountLabel,
			Devices: pl.Devices, MaskedPaths: pl.MaskedPaths, ReadonlyPaths: pl.ReadonlyPaths,
		},
	}
	for _, t := range Types {
		if pl.Namespaces&cloneFlags[t] != 0 {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		}
	}
	return s
}

// hasNamespace reports whether linux.namespaces has type t, new or joined.
func (pl *Plan) hasNamespace(t specs.LinuxNamespaceType) bool {
	return pl.Namespaces&cloneFlags[t] != 0
}
