package cgroups

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/cgroups/devices"
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

// hugepageSizes lists the host's huge page sizes in the names the cgroup
// files use ("2MB", "1GB", "64KB").
func hugepageSizes() map[string]bool {
	sizes := make(map[string]bool)
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		return sizes
	}
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		kb, ok = strings.CutSuffix(kb, "kB")
		n, err := strconv.ParseUint(kb, 10, 64)
		if !ok || err != nil {
			continue
		}
		sizes[hugepageName(n*1024)] = true
	}
	return sizes
}

// hugepageName names a huge page size of n bytes as the kernel's hugetlb
// cgroup files do: the largest unit that divides it, base 1024.
func hugepageName(n uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	i := 0
	for n >= 1024 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return strconv.FormatUint(n, 10) + units[i]
}

var pagesizeRe = regexp.MustCompile(`^[1-9][0-9]*[KMGTP]?B$`)

// parseList parses a cpuset list ("0-3,7") into a set.
func parseList(s string) (map[int]bool, error) {
	set := make(map[int]bool)
	if s == "" {
		return set, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid list %q: %q is not a number", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, fmt.Errorf("invalid list %q: %q is not a number", s, hi)
			}
			if b < a {
				return nil, fmt.Errorf("invalid list %q: range %s is backwards", s, part)
			}
		}
		for i := a; i <= b; i++ {
			set[int(i)] = true
		}
	}
	return set, nil
}

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
	for _, check := range []func(*specs.LinuxResources, *hostEnv) error{
		validateMemory, validateCPU, validatePids, validateBlockIO,
		validateHugepages, validateNetwork, validateRdma, validateUnified,
		validateDevices,
	} {
		if err := check(r, env); err != nil {
			return err
		}
	}
	return nil
}

func validateMemory(r *specs.LinuxResources, env *hostEnv) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	limitOrMax := func(field string, v *int64) error {
		if v != nil && *v != -1 && *v <= 0 {
			return fieldErr(field, "%d: want a positive number of bytes, or -1 for no limit", *v)
		}
		return nil
	}
	if err := limitOrMax("memory.limit", m.Limit); err != nil {
		return err
	}
	if m.Reservation != nil && *m.Reservation < -1 {
		return fieldErr("memory.reservation", "%d: want bytes (0 or more), or -1 for no limit", *m.Reservation)
	}
	// swap 0 means "not set", as in runc.
	if m.Swap != nil && *m.Swap != 0 {
		if err := limitOrMax("memory.swap", m.Swap); err != nil {
			return err
		}
		if _, err := swapV2(*m.Swap, deref(m.Limit)); err != nil && env.v2 {
			return err
		}
		if *m.Swap > 0 && m.Limit != nil && *m.Limit > 0 && *m.Swap < *m.Limit {
			return fieldErr("memory.swap", "%d is less than memory.limit %d: swap is the limit of memory+swap", *m.Swap, *m.Limit)
		}
	}
	if err := limitOrMax("memory.kernelTCP", m.KernelTCP); err != nil {
		return err
	}
	if m.Swappiness != nil && *m.Swappiness != math.MaxUint64 { // -1: kernel default
		if *m.Swappiness > 100 {
			return fieldErr("memory.swappiness", "%d out of range 0-100", *m.Swappiness)
		}
		if env.v2 {
			return fieldErr("memory.swappiness", "cgroup v2 has no per-cgroup swappiness (set it only on cgroup v1)")
		}
	}
	if m.UseHierarchy != nil && !*m.UseHierarchy && env.v2 {
		return fieldErr("memory.useHierarchy", "false is impossible: cgroup v2 memory accounting is always hierarchical")
	}
	return nil
}

// swapV2 converts linux.resources.memory.swap (the limit of memory+swap,
// as cgroup v1's memsw) to cgroup v2's memory.swap.max (swap alone), like
// runc. It returns 0 when swap is unset (nothing to write), -1 for "max".
func swapV2(swap, limit int64) (int64, error) {
	switch {
	case swap == 0 && limit == -1:
		return -1, nil // unlimited memory, swap unset: unlimited swap too
	case swap == 0, swap == -1:
		return swap, nil
	case limit == 0 || limit == -1:
		return 0, fieldErr("memory.swap", "%d needs a memory.limit on cgroup v2 (memory.swap.max = swap - limit)", swap)
	case swap < limit:
		return 0, fieldErr("memory.swap", "%d is less than memory.limit %d: swap is the limit of memory+swap", swap, limit)
	}
	return swap - limit, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// The kernel's CFS bandwidth bounds, in microseconds.
const (
	minCFSPeriod = 1000
	maxCFSPeriod = 1000000
	minCFSQuota  = 1000
	minShares    = 2
	maxShares    = 262144
)

func validateCPU(r *specs.LinuxResources, env *hostEnv) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Shares != nil && (*c.Shares < minShares || *c.Shares > maxShares) {
		return fieldErr("cpu.shares", "%d out of range %d-%d", *c.Shares, minShares, maxShares)
	}
	if c.Quota != nil && *c.Quota != -1 && *c.Quota < minCFSQuota {
		return fieldErr("cpu.quota", "%d: want at least %d (microseconds per period), or -1 for no limit", *c.Quota, minCFSQuota)
	}
	if c.Period != nil && (*c.Period < minCFSPeriod || *c.Period > maxCFSPeriod) {
		return fieldErr("cpu.period", "%d out of range %d-%d (microseconds)", *c.Period, minCFSPeriod, maxCFSPeriod)
	}
	if c.Burst != nil && c.Quota != nil && *c.Quota > 0 && *c.Burst > uint64(*c.Quota) {
		return fieldErr("cpu.burst", "%d is larger than cpu.quota %d", *c.Burst, *c.Quota)
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime < -1 {
		return fieldErr("cpu.realtimeRuntime", "%d: want microseconds (0 or more), or -1 for no limit", *c.RealtimeRuntime)
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod == 0 {
		return fieldErr("cpu.realtimePeriod", "0: want a positive number of microseconds")
	}
	if c.RealtimeRuntime != nil && c.RealtimePeriod != nil && *c.RealtimeRuntime > 0 && uint64(*c.RealtimeRuntime) > *c.RealtimePeriod {
		return fieldErr("cpu.realtimeRuntime", "%d is larger than cpu.realtimePeriod %d", *c.RealtimeRuntime, *c.RealtimePeriod)
	}
	if env.v2 {
		if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
			return fieldErr("cpu.realtimeRuntime", "cgroup v2 has no realtime CPU controller")
		}
		if c.RealtimePeriod != nil {
			return fieldErr("cpu.realtimePeriod", "cgroup v2 has no realtime CPU controller")
		}
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		return fieldErr("cpu.idle", "%d: want 0 or 1", *c.Idle)
	}
	for _, l := range []struct {
		field, v, what string
		online         map[int]bool
	}{{"cpu.cpus", c.Cpus, "CPU", env.cpus}, {"cpu.mems", c.Mems, "memory node", env.mems}} {
		set, err := parseList(l.v)
		if err != nil {
			return fieldErr(l.field, "%v", err)
		}
		if l.online == nil {
			continue
		}
		ids := slices.Sorted(maps.Keys(set))
		for _, i := range ids {
			if !l.online[i] {
				return fieldErr(l.field, "%q: %s %d is not online on this host", l.v, l.what, i)
			}
		}
	}
	return nil
}

func validatePids(r *specs.LinuxResources, _ *hostEnv) error {
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit < -1 {
		return fieldErr("pids.limit", "%d: want 0 or more, or -1 for no limit", *r.Pids.Limit)
	}
	return nil
}

// The blkio weight range of cgroup v1 (CFQ, and BFQ for the OCI values).
const (
	minBlkioWeight = 10
	maxBlkioWeight = 1000
)

func validateBlockIO(r *specs.LinuxResources, env *hostEnv) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	weight := func(field string, w *uint16) error {
		if w != nil && (*w < minBlkioWeight || *w > maxBlkioWeight) {
			return fieldErr(field, "%d out of range %d-%d", *w, minBlkioWeight, maxBlkioWeight)
		}
		return nil
	}
	if err := weight("blockIO.weight", b.Weight); err != nil {
		return err
	}
	if err := weight("blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	if b.LeafWeight != nil && env.v2 {
		return fieldErr("blockIO.leafWeight", "cgroup v2 has no leaf weight")
	}
	device := func(field string, d specs.LinuxBlockIODevice) error {
		if d.Major < 0 || d.Minor < 0 || d.Major > 0xfff || d.Minor > 0xfffff {
			return fieldErr(field, "invalid device %d:%d", d.Major, d.Minor)
		}
		return nil
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if err := device(f, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		if wd.Weight == nil && wd.LeafWeight == nil {
			return fieldErr(f, "neither weight nor leafWeight given")
		}
		if err := weight(f+".weight", wd.Weight); err != nil {
			return err
		}
		if err := weight(f+".leafWeight", wd.LeafWeight); err != nil {
			return err
		}
		if wd.LeafWeight != nil && env.v2 {
			return fieldErr(f+".leafWeight", "cgroup v2 has no leaf weight")
		}
	}
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			if err := device(fmt.Sprintf("blockIO.%s[%d]", t.field, i), td.LinuxBlockIODevice); err != nil {
				return err
			}
		}
	}
	return nil
}

// throttle is one of the four throttle lists of blockIO, with its v1 file
// and its io.max key.
type throttle struct {
	field, v1File, v2Key string
	devs                 []specs.LinuxThrottleDevice
}

func throttles(b *specs.LinuxBlockIO) []throttle {
	return []throttle{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

func validateHugepages(r *specs.LinuxResources, env *hostEnv) error {
	seen := make(map[string]bool)
	for i, h := range r.HugepageLimits {
		f := fmt.Sprintf("hugepageLimits[%d].pageSize", i)
		if !pagesizeRe.MatchString(h.Pagesize) {
			return fieldErr(f, "%q: want <size><unit>B, e.g. 2MB or 1GB", h.Pagesize)
		}
		if !env.hugepages[h.Pagesize] {
			return fieldErr(f, "%q: no such huge page size on this host (have %s)", h.Pagesize, setString(env.hugepages))
		}
		if seen[h.Pagesize] {
			return fieldErr(f, "%q given twice", h.Pagesize)
		}
		seen[h.Pagesize] = true
	}
	return nil
}

func setString(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	if len(s) == 0 {
		return "none"
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

func validateNetwork(r *specs.LinuxResources, env *hostEnv) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if env.v2 {
		if n.ClassID != nil {
			return fieldErr("network.classID", "cgroup v2 has no net_cls controller")
		}
		if len(n.Priorities) > 0 {
			return fieldErr("network.priorities", "cgroup v2 has no net_prio controller")
		}
	}
	for i, p := range n.Priorities {
		if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") || len(p.Name) >= 16 {
			return fieldErr(fmt.Sprintf("network.priorities[%d].name", i), "%q is not an interface name", p.Name)
		}
	}
	return nil
}

func validateRdma(r *specs.LinuxResources, _ *hostEnv) error {
	for dev, l := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \t\n=/") {
			return fieldErr(fmt.Sprintf("rdma[%q]", dev), "not a device name")
		}
		if l.HcaHandles == nil && l.HcaObjects == nil {
			return fieldErr(fmt.Sprintf("rdma[%q]", dev), "neither hcaHandles nor hcaObjects given")
		}
	}
	return nil
}

var unifiedKeyRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*\.[A-Za-z0-9_.]+$`)

func validateUnified(r *specs.LinuxResources, env *hostEnv) error {
	if len(r.Unified) == 0 {
		return nil
	}
	if !env.v2 {
		return &ResourceError{Field: "unified", Err: ErrV1NoUnified}
	}
	for k, v := range r.Unified {
		f := fmt.Sprintf("unified[%q]", k)
		if strings.Contains(k, "/") {
			return fieldErr(f, "must be a file name (no slashes)")
		}
		if !unifiedKeyRe.MatchString(k) || strings.HasSuffix(k, ".") {
			return fieldErr(f, "must be a cgroup file name of the form <controller>.<name>")
		}
		switch k {
		case "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill":
			return fieldErr(f, "is not a resource setting")
		}
		if strings.ContainsRune(v, 0) {
			return fieldErr(f, "value holds a NUL byte")
		}
	}
	return nil
}

func validateDevices(r *specs.LinuxResources, _ *hostEnv) error {
	for i, d := range r.Devices {
		f := fmt.Sprintf("devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fieldErr(f+".type", "%q: want a, b or c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(f+".access", "%q: want a combination of r, w and m", d.Access)
		}
		if (d.Major != nil && *d.Major < -1) || (d.Minor != nil && *d.Minor < -1) {
			return fieldErr(f, "negative device number")
		}
	}
	// The rest as ApplyV1/ApplyV2 see it; its error names the entry.
	return devices.Validate(r.Devices)
}

// cpuWeight converts cgroup v1 cpu.shares (2-262144) to cgroup v2
// cpu.weight (1-10000), with runc's linear formula.
func cpuWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}

// ioWeight converts a cgroup v1 blkio weight (10-1000) to cgroup v2
// io.weight (1-10000), as runc does.
func ioWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}

// cpuMax is cgroup v2's cpu.max for quota and period; curQuota is the
// quota part of the current cpu.max, kept when only the period changes.
func cpuMax(quota *int64, period *uint64, curQuota string) string {
	q := curQuota
	if quota != nil {
		q = "max"
		if *quota > 0 {
			q = strconv.FormatInt(*quota, 10)
		}
	}
	if q == "" {
		q = "max"
	}
	if period != nil {
		return q + " " + strconv.FormatUint(*period, 10)
	}
	return q
}

// limitString is a cgroup v2 limit: "max" for -1.
func limitString(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// fileExists reports whether the cgroup file dir/name exists.
func fileExists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}
