// Package checkreport defines the JSON report that the checker binary
// (testdata/checker) prints from inside a container, and the parsers it
// uses for /proc files. Tests run the checker in a container, then call
// Parse on its standard output and assert on the fields.
package checkreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Report is what the checker saw from inside the container.
type Report struct {
	// Args is the checker's own argv.
	Args []string `json:"args"`

	Pid  int `json:"pid"`
	Ppid int `json:"ppid"`
	Pgid int `json:"pgid"`
	Sid  int `json:"sid"`

	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"` // supplementary groups, getgroups(2)

	Hostname   string `json:"hostname"`   // uname nodename
	Domainname string `json:"domainname"` // uname domainname

	// Namespaces maps the entries of /proc/self/ns (cgroup, ipc, mnt, net,
	// pid, pid_for_children, time, time_for_children, user, uts) to their
	// readlink targets, e.g. "pid" -> "pid:[4026531836]".
	Namespaces map[string]string `json:"namespaces"`

	Mounts []Mount `json:"mounts"` // /proc/self/mountinfo, in order

	Capabilities Capabilities `json:"capabilities"`
	NoNewPrivs   bool         `json:"no_new_privs"`

	// Seccomp is the Seccomp field of /proc/self/status:
	// 0 disabled, 1 strict, 2 filter.
	Seccomp        int `json:"seccomp"`
	SeccompFilters int `json:"seccomp_filters"`

	// Rlimits maps names such as "RLIMIT_NOFILE" to the limits the
	// process was started with. Unlimited is RlimInfinity. The Go
	// runtime raises its own soft RLIMIT_NOFILE at start-up; the checker
	// undoes that in its report (see the checker's source), so the value
	// here is the one the runtime under test set.
	Rlimits map[string]Rlimit `json:"rlimits"`

	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`   // getcwd(2), not $PWD
	Umask uint32   `json:"umask"` // e.g. 0o022

	// FDs are the open file descriptors, from /proc/self/fd, without the
	// one the checker used to list them.
	FDs []FD `json:"fds"`

	Cgroups []Cgroup `json:"cgroups"` // /proc/self/cgroup lines

	OOMScoreAdj int `json:"oom_score_adj"`

	// Sysctls holds the values of the sysctls asked for with --sysctl,
	// keyed by the name as given (net.ipv4.ip_forward).
	Sysctls map[string]Sysctl `json:"sysctls,omitempty"`

	// Paths holds what the checker found for each --path.
	Paths map[string]PathInfo `json:"paths,omitempty"`

	// Errors lists what the checker failed to read; the matching fields
	// are left at their zero values.
	Errors []string `json:"errors,omitempty"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID         int    `json:"id"`
	Parent     int    `json:"parent"`
	Dev        string `json:"dev"`        // major:minor
	Root       string `json:"root"`       // root of the mount within its filesystem
	Mountpoint string `json:"mountpoint"` // unescaped
	// Options are the per-mount options (ro, nosuid, nodev, noexec,
	// relatime...).
	Options []string `json:"options"`
	// Optional are the raw optional fields (shared:N, master:N,
	// propagate_from:N, unbindable).
	Optional []string `json:"optional,omitempty"`
	// Propagation summarises Optional: "private", "shared", "slave",
	// "shared,slave" or "unbindable".
	Propagation  string   `json:"propagation"`
	FSType       string   `json:"fstype"`
	Source       string   `json:"source"`
	SuperOptions []string `json:"super_options"`
}

// HasOption reports whether the per-mount or superblock options of m
// include opt (e.g. "ro", "nosuid", "mode=755").
func (m Mount) HasOption(opt string) bool {
	for _, o := range m.Options {
		if o == opt {
			return true
		}
	}
	for _, o := range m.SuperOptions {
		if o == opt {
			return true
		}
	}
	return false
}

// CapSet is one capability set, both as the hex mask of /proc/self/status
// and as capability names ("CAP_KILL"), lowest bit first.
type CapSet struct {
	Hex   string   `json:"hex"`
	Names []string `json:"names"`
}

// Has reports whether the set holds the capability (with or without the
// CAP_ prefix, any case).
func (c CapSet) Has(name string) bool {
	name = normCap(name)
	for _, n := range c.Names {
		if n == name {
			return true
		}
	}
	return false
}

// Capabilities are the five capability sets of the process.
type Capabilities struct {
	Inheritable CapSet `json:"inheritable"` // CapInh
	Permitted   CapSet `json:"permitted"`   // CapPrm
	Effective   CapSet `json:"effective"`   // CapEff
	Bounding    CapSet `json:"bounding"`    // CapBnd
	Ambient     CapSet `json:"ambient"`     // CapAmb
}

// RlimInfinity is RLIM_INFINITY, the value of an unlimited rlimit.
const RlimInfinity = ^uint64(0)

// Rlimit is one resource limit.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// FD is one open file descriptor.
type FD struct {
	FD         int    `json:"fd"`
	Target     string `json:"target"` // readlink of /proc/self/fd/N
	IsTerminal bool   `json:"is_terminal"`
}

// Cgroup is one line of /proc/self/cgroup.
type Cgroup struct {
	ID          int      `json:"id"`          // hierarchy ID, 0 for cgroup v2
	Controllers []string `json:"controllers"` // empty for cgroup v2
	Path        string   `json:"path"`
}

// Sysctl is the value of one sysctl, or why it could not be read.
type Sysctl struct {
	Value string `json:"value"` // trimmed content of /proc/sys/...
	Error string `json:"error,omitempty"`
}

// PathInfo is what the checker found at one path.
type PathInfo struct {
	Exists bool `json:"exists"`
	// Readable and Writable come from access(2) with R_OK and W_OK, which
	// also fails with EROFS on a read-only mount.
	Readable bool   `json:"readable"`
	Writable bool   `json:"writable"`
	IsDir    bool   `json:"is_dir"`
	Mode     string `json:"mode,omitempty"` // e.g. "drwxrwxrwt", from lstat
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	// Error is the lstat error when the path does not exist or cannot be
	// inspected.
	Error string `json:"error,omitempty"`
}

// Parse decodes a report from the checker's standard output. It accepts
// the report alone or as one line among others (a shell's or a
// runtime's output around it, with \r\n line ends from a terminal); the
// last line that decodes as a report wins.
func Parse(b []byte) (*Report, error) {
	var r Report
	trimmed := bytes.TrimSpace(b)
	err := json.Unmarshal(trimmed, &r)
	if err == nil {
		return &r, nil
	}
	lines := bytes.Split(trimmed, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		var lr Report
		if json.Unmarshal(l, &lr) == nil {
			return &lr, nil
		}
	}
	if len(trimmed) == 0 {
		return nil, errors.New("checkreport: empty output")
	}
	out := string(trimmed)
	if len(out) > 512 {
		out = out[:512] + "..."
	}
	return nil, fmt.Errorf("checkreport: no report in output: %v: %q", err, out)
}

// Mount returns the last mount at mountpoint (the one visible there), or
// nil.
func (r *Report) Mount(mountpoint string) *Mount {
	for i := len(r.Mounts) - 1; i >= 0; i-- {
		if r.Mounts[i].Mountpoint == mountpoint {
			return &r.Mounts[i]
		}
	}
	return nil
}

// Getenv returns the value of key in the report's environment and
// whether it was set.
func (r *Report) Getenv(key string) (string, bool) {
	for _, kv := range r.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// FD returns the descriptor n, or nil if it was not open.
func (r *Report) FD(n int) *FD {
	for i := range r.FDs {
		if r.FDs[i].FD == n {
			return &r.FDs[i]
		}
	}
	return nil
}

// Rlimit returns the limit by name ("RLIMIT_NOFILE" or "NOFILE", any
// case) and whether it is known.
func (r *Report) Rlimit(name string) (Rlimit, bool) {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "RLIMIT_") {
		name = "RLIMIT_" + name
	}
	l, ok := r.Rlimits[name]
	return l, ok
}
