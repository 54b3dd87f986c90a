// controllers.go is the plumbing the controller files share: the tables
// that give Validate, Set and Stats their controllers in order, the
// dispatch over them, field errors and the cgroup file writes. Each
// controller's own v1 and v2 writers, checks and statistics live in its
// file: cpu.go, cpuset.go, memory.go, pids.go, blkio.go (blkio and io),
// hugetlb.go, network.go (net_cls, net_prio), rdma.go, devices.go and
// unified.go (linux.resources.unified); freezer.go and oom.go hold the
// freezer and the OOM events.

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ResourceError is an error about one field of linux.resources. Its
// message is one line: "linux.resources.memory.limit: ...".
type ResourceError struct {
	Field string // e.g. "memory.limit", "unified[\"io.max\"]"
	Err   error
}

func (e *ResourceError) Error() string {
	return "linux.resources." + e.Field + ": " + e.Err.Error()
}

func (e *ResourceError) Unwrap() error { return e.Err }

func fieldErr(field string, format string, args ...any) error {
	return &ResourceError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ---- the controller tables ----

// validators check linux.resources, in this order (the first error wins).
var validators = []func(*specs.LinuxResources, *hostEnv) error{
	validateMemory, validateCPU, validateCpuset, validatePids, validateBlockIO,
	validateHugepages, validateNetwork, validateRdma, validateUnified,
	validateDevices,
}

// v1Controller writes its part of linux.resources into the directory of
// its cgroup v1 hierarchy.
type v1Controller struct {
	hierarchy string                           // key in manager.paths
	field     string                           // named when the hierarchy is not mounted
	needed    func(*specs.LinuxResources) bool // r holds something to write
	set       func(string, *specs.LinuxResources) error
}

// v1Controllers are written in this order.
var v1Controllers = []v1Controller{
	{"memory", "memory", memoryNeededV1, setMemoryV1},
	{"cpu", "cpu", cpuNeededV1, setCPUV1},
	{"cpuset", "cpu.cpus", cpusetNeeded, setCpuset},
	{"pids", "pids.limit", pidsNeeded, setPids},
	{"blkio", "blockIO", blkioNeeded, setBlkioV1},
	{"hugetlb", "hugepageLimits", hugetlbNeeded, setHugetlbV1},
	{"net_cls", "network.classID", netClsNeeded, setNetCls},
	{"net_prio", "network.priorities", netPrioNeeded, setNetPrio},
	{"rdma", "rdma", rdmaNeeded, setRdma},
	{"devices", "devices", devicesNeeded, setDevicesV1},
}

// v2Controller writes its part of linux.resources into the cgroup v2
// directory; set is called for every r and writes nothing when r holds
// nothing for it.
type v2Controller struct {
	name   string                           // in cgroup.subtree_control; "": none to enable
	field  string                           // named when it cannot be enabled
	needed func(*specs.LinuxResources) bool // r needs the controller enabled
	set    func(string, *specs.LinuxResources) error
}

// v2Controllers are written in this order; unified comes last: it
// overrides the converted values, as in runc.
var v2Controllers = []v2Controller{
	{"pids", "pids", pidsNeeded, setPids},
	{"memory", "memory", memoryNeededV2, setMemoryV2},
	{"io", "blockIO", blkioNeeded, setIOV2},
	{"cpu", "cpu", cpuNeededV2, setCPUV2},
	{"cpuset", "cpu.cpus", cpusetNeeded, setCpuset},
	{"hugetlb", "hugepageLimits", hugetlbNeeded, setHugetlbV2},
	{"rdma", "rdma", rdmaNeeded, setRdma},
	{"", "", nil, setDevicesV2},
	{"", "", nil, setUnified},
}

// v1Stats read the statistics of their hierarchy, in this order.
var v1Stats = []struct {
	hierarchy string
	read      func(*statReader, string, *Stats)
}{
	{"cpuacct", cpuacctStatsV1},
	{"cpu", cpuStatsV1},
	{"cpuset", cpusetStatsV1},
	{"memory", memoryStatsV1},
	{"pids", pidsStatsV1},
	{"blkio", blkioStatsV1},
	{"hugetlb", hugetlbStatsV1},
}

// v2Stats read the statistics of the cgroup v2 directory, in this order.
var v2Stats = []func(*statReader, string, *Stats){
	cpuStatsV2, cpusetStatsV2, memoryStatsV2, pidsStatsV2, ioStatsV2, hugetlbStatsV2,
}

// ---- validation ----

// hostEnv is what Validate needs to know of the host.
type hostEnv struct {
	v2        bool            // unified (v2 only) host: the v1-only knobs are refused
	cpus      map[int]bool    // online CPUs (nil: unknown, not checked)
	mems      map[int]bool    // online memory nodes (nil: unknown)
	hugepages map[string]bool // huge page sizes, as in hugepageLimits ("2MB")
}

var currentEnv = sync.OnceValue(func() *hostEnv {
	env := &hostEnv{v2: IsV2()}
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		env.cpus, _ = parseList(strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile("/sys/devices/system/node/online"); err == nil {
		env.mems, _ = parseList(strings.TrimSpace(string(b)))
	} else if os.IsNotExist(err) {
		env.mems = map[int]bool{0: true} // kernel without NUMA: node 0 only
	}
	env.hugepages = hugepageSizes()
	return env
})

// Validate checks r (linux.resources) without touching any cgroup: values
// out of range, combinations the kernel refuses, cpus/mems outside the
// host's online CPUs and memory nodes, huge page sizes the host lacks,
// malformed unified keys, and, on a cgroup v2 host, the v1-only settings
// that cannot be converted. Each error is one line naming the field, e.g.
// "linux.resources.memory.swap: ...". A nil r is valid.
func Validate(r *specs.LinuxResources) error {
	return validate(r, currentEnv())
}

func validate(r *specs.LinuxResources, env *hostEnv) error {
	if r == nil {
		return nil
	}
	for _, check := range validators {
		if err := check(r, env); err != nil {
			return err
		}
	}
	return nil
}

// ---- Set ----

// Set writes the cgroup files itself (no containerd/cgroups cgroup1 or
// cgroup2 package: their init costs every podrun start over a
// millisecond), following runc's fs and fs2 drivers.
func (m *manager) Set(r *specs.LinuxResources) error {
	if err := Validate(r); err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	if err := m.Create(); err != nil {
		return err
	}
	if m.onlyUnified {
		return setV2(m.dirs[0], r)
	}
	return m.setV1(r)
}

func (m *manager) setV1(r *specs.LinuxResources) error {
	for _, c := range v1Controllers {
		if !c.needed(r) {
			continue
		}
		d, ok := m.paths[c.hierarchy]
		if !ok {
			return fieldErr(c.field, "the %s controller is not mounted (cgroup v1)", c.hierarchy)
		}
		if err := c.set(d, r); err != nil {
			return err
		}
	}
	return nil
}

func setV2(dir string, r *specs.LinuxResources) error {
	need := controllersV2(r)
	if err := unifiedControllers(dir, r, need); err != nil {
		return err
	}
	if err := enableControllers(dir, need); err != nil {
		return err
	}
	for _, c := range v2Controllers {
		if err := c.set(dir, r); err != nil {
			return err
		}
	}
	return nil
}

// controllersV2 lists the controllers r needs, each with the field that
// needs it (for errors).
func controllersV2(r *specs.LinuxResources) map[string]string {
	need := make(map[string]string)
	for _, c := range v2Controllers {
		if c.needed != nil && c.needed(r) {
			need[c.name] = c.field
		}
	}
	return need
}

func wordSet(p string) map[string]bool {
	set := make(map[string]bool)
	s, _ := readTrim(p)
	for _, w := range strings.Fields(s) {
		set[w] = true
	}
	return set
}

// enableControllers enables the needed controllers in the
// cgroup.subtree_control of every ancestor of dir below the cgroup2 root,
// top-down, where they are not enabled yet.
func enableControllers(dir string, need map[string]string) error {
	if len(need) == 0 {
		return nil
	}
	ctrls := make([]string, 0, len(need))
	for c := range need {
		ctrls = append(ctrls, c)
	}
	slices.Sort(ctrls)
	var ancestors []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		ancestors = append(ancestors, p)
		if p == unifiedMountpoint || !strings.HasPrefix(p, unifiedMountpoint+"/") {
			break
		}
	}
	slices.Reverse(ancestors)
	for _, a := range ancestors {
		avail := wordSet(filepath.Join(a, "cgroup.controllers"))
		enabled := wordSet(filepath.Join(a, "cgroup.subtree_control"))
		var add []string
		for _, c := range ctrls {
			if !avail[c] {
				return fieldErr(need[c], "%s controller not available in %s", c, a)
			}
			if !enabled[c] {
				add = append(add, c)
			}
		}
		for _, c := range add {
			err := writeFile(filepath.Join(a, "cgroup.subtree_control"), []byte("+"+c))
			if errors.Is(err, unix.EBUSY) {
				return fieldErr(need[c], "cannot enable the %s controller in %s: it holds processes itself (cgroup v2 allows controllers only over child cgroups)", c, a)
			}
			if err != nil {
				return fieldErr(need[c], "enable the %s controller: %v", c, err)
			}
		}
	}
	return nil
}

// ---- Stats ----

func (m *manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: make(map[string]Hugetlb)}
	sr := &statReader{}
	if m.onlyUnified {
		statsV2(sr, m.dirs[0], s)
	} else {
		m.statsV1(sr, s)
	}
	if sr.err != nil {
		return s, m.err("stats", "", sr.err)
	}
	return s, nil
}

func (m *manager) statsV1(sr *statReader, s *Stats) {
	for _, c := range v1Stats {
		if d, ok := m.paths[c.hierarchy]; ok {
			c.read(sr, d, s)
		}
	}
}

func statsV2(sr *statReader, d string, s *Stats) {
	for _, read := range v2Stats {
		read(sr, d, s)
	}
}

// ---- cgroup files ----

// write writes value to dir/file, naming field in the error.
func write(field, dir, file, value string) error {
	if err := writeFile(filepath.Join(dir, file), []byte(value)); err != nil {
		return &ResourceError{Field: field, Err: err}
	}
	return nil
}

// writeOptional writes an optional file: a missing file is an error
// saying what the kernel lacks.
func writeOptional(field, dir, file, value, lacks string) error {
	err := writeFile(filepath.Join(dir, file), []byte(value))
	if errors.Is(err, fs.ErrNotExist) {
		return fieldErr(field, "no %s in %s: %s", file, dir, lacks)
	}
	if err != nil {
		return &ResourceError{Field: field, Err: err}
	}
	return nil
}

func readUint(dir, file string) (uint64, error) {
	s, err := readTrim(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return math.MaxUint64, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// fileExists reports whether the cgroup file dir/name exists.
func fileExists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// limitString is a cgroup v2 limit: "max" for -1.
func limitString(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
