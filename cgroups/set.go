package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups/devices"
)

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

// applyDevicesV1 and applyDevicesV2 apply linux.resources.devices: through
// the devices hierarchy's directory on v1, an eBPF program attached to the
// cgroup directory on v2 (package cgroups/devices). Variables, so that
// tests can stand in for them.
var (
	applyDevicesV1 = devices.ApplyV1
	applyDevicesV2 = devices.ApplyV2
)

// write writes value to dir/file, naming field in the error.
func write(field, dir, file, value string) error {
	if err := writeFile(filepath.Join(dir, file), []byte(value)); err != nil {
		return &ResourceError{Field: field, Err: err}
	}
	return nil
}

// writeIfExists writes an optional file: a missing file is an error
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

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// ---- cgroup v1 ----

func (m *manager) setV1(r *specs.LinuxResources) error {
	// dir is the directory of controller, or an error naming field when
	// the controller is not mounted.
	dir := func(ctrl, field string) (string, error) {
		if d, ok := m.paths[ctrl]; ok {
			return d, nil
		}
		return "", fieldErr(field, "the %s controller is not mounted (cgroup v1)", ctrl)
	}
	if mem := r.Memory; mem != nil && memoryV1Needed(mem) {
		d, err := dir("memory", "memory")
		if err != nil {
			return err
		}
		if err := setMemoryV1(d, mem); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
			c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
			d, err := dir("cpu", "cpu")
			if err != nil {
				return err
			}
			if err := setCPUV1(d, c); err != nil {
				return err
			}
		}
		if c.Cpus != "" || c.Mems != "" {
			d, err := dir("cpuset", "cpu.cpus")
			if err != nil {
				return err
			}
			if err := setCpuset("cpu.", d, c); err != nil {
				return err
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		d, err := dir("pids", "pids.limit")
		if err != nil {
			return err
		}
		if err := write("pids.limit", d, "pids.max", limitString(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil && blockIONeeded(b) {
		d, err := dir("blkio", "blockIO")
		if err != nil {
			return err
		}
		if err := setBlkioV1(d, b); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		d, err := dir("hugetlb", "hugepageLimits")
		if err != nil {
			return err
		}
		if err := setHugetlb(d, r.HugepageLimits, ".limit_in_bytes", ".rsvd.limit_in_bytes"); err != nil {
			return err
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			d, err := dir("net_cls", "network.classID")
			if err != nil {
				return err
			}
			if err := write("network.classID", d, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
				return err
			}
		}
		if len(n.Priorities) > 0 {
			d, err := dir("net_prio", "network.priorities")
			if err != nil {
				return err
			}
			for i, p := range n.Priorities {
				f := fmt.Sprintf("network.priorities[%d]", i)
				if err := write(f, d, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
					return err
				}
			}
		}
	}
	if len(r.Rdma) > 0 {
		d, err := dir("rdma", "rdma")
		if err != nil {
			return err
		}
		if err := setRdma(d, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		d, err := dir("devices", "devices")
		if err != nil {
			return err
		}
		if err := applyDevicesV1(d, r.Devices); err != nil {
			return &ResourceError{Field: "devices", Err: err}
		}
	}
	return nil
}

// memoryV1Needed: mem holds something to write (kernel is ignored, as by
// runc; checkBeforeUpdate alone is no setting; disableOOMKiller false is
// the default).
func memoryV1Needed(mem *specs.LinuxMemory) bool {
	return mem.Limit != nil || mem.Reservation != nil || (mem.Swap != nil && *mem.Swap != 0) ||
		mem.KernelTCP != nil || (mem.Swappiness != nil && *mem.Swappiness != math.MaxUint64) ||
		(mem.DisableOOMKiller != nil && *mem.DisableOOMKiller) || mem.UseHierarchy != nil
}

func checkBeforeUpdate(mem *specs.LinuxMemory, dir, usageFile string) error {
	if mem.CheckBeforeUpdate == nil || !*mem.CheckBeforeUpdate || mem.Limit == nil || *mem.Limit <= 0 {
		return nil
	}
	usage, err := readUint(dir, usageFile)
	if err != nil {
		return &ResourceError{Field: "memory.checkBeforeUpdate", Err: err}
	}
	if usage >= uint64(*mem.Limit) {
		return fieldErr("memory.limit", "%d refused (checkBeforeUpdate): the cgroup already uses %d bytes", *mem.Limit, usage)
	}
	return nil
}

func setMemoryV1(dir string, mem *specs.LinuxMemory) error {
	if err := checkBeforeUpdate(mem, dir, "memory.usage_in_bytes"); err != nil {
		return err
	}
	limit, swap := mem.Limit, mem.Swap
	if swap != nil && *swap == 0 {
		swap = nil
	}
	hasMemsw := fileExists(dir, "memory.memsw.limit_in_bytes")
	if limit != nil && *limit == -1 && swap == nil && hasMemsw {
		minus1 := int64(-1)
		swap = &minus1 // no memory limit: no memory+swap limit either (runc)
	}
	setLimit := func() error {
		if limit == nil {
			return nil
		}
		err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(i64(*limit)))
		if errors.Is(err, unix.EBUSY) {
			usage, _ := readUint(dir, "memory.usage_in_bytes")
			peak, _ := readUint(dir, "memory.max_usage_in_bytes")
			return fieldErr("memory.limit", "cannot set %d: the cgroup uses %d bytes (peak %d)", *limit, usage, peak)
		}
		if errors.Is(err, unix.EINVAL) && swap == nil {
			return fieldErr("memory.limit", "%d refused by the kernel: larger than the memory+swap limit in %s?", *limit, dir)
		}
		if err != nil {
			return &ResourceError{Field: "memory.limit", Err: err}
		}
		return nil
	}
	setSwap := func() error {
		if swap == nil {
			return nil
		}
		if !hasMemsw {
			if *swap == -1 {
				return nil
			}
			return fieldErr("memory.swap", "swap accounting is off in this kernel (no memory.memsw.limit_in_bytes; boot with swapaccount=1)")
		}
		return write("memory.swap", dir, "memory.memsw.limit_in_bytes", i64(*swap))
	}
	// The kernel wants memory <= memory+swap at every step: raising both
	// means swap first, lowering both means memory first (as runc).
	swapFirst := false
	if limit != nil && swap != nil {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return &ResourceError{Field: "memory.limit", Err: err}
		}
		swapFirst = *swap == -1 || cur < uint64(*swap)
	}
	steps := []func() error{setLimit, setSwap}
	if swapFirst {
		steps = []func() error{setSwap, setLimit}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := write("memory.reservation", dir, "memory.soft_limit_in_bytes", i64(*mem.Reservation)); err != nil {
			return err
		}
	}
	if mem.KernelTCP != nil {
		if err := writeOptional("memory.kernelTCP", dir, "memory.kmem.tcp.limit_in_bytes", i64(*mem.KernelTCP), "the kernel has no kernel TCP memory accounting"); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil && *mem.Swappiness != math.MaxUint64 {
		if err := write("memory.swappiness", dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := write("memory.disableOOMKiller", dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		want := "0"
		if *mem.UseHierarchy {
			want = "1"
		}
		if cur, err := readTrim(filepath.Join(dir, "memory.use_hierarchy")); err != nil || cur != want {
			if err := write("memory.useHierarchy", dir, "memory.use_hierarchy", want); err != nil {
				return err
			}
		}
	}
	return nil
}

func setCPUV1(dir string, c *specs.LinuxCPU) error {
	if c.Shares != nil {
		if err := write("cpu.shares", dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
		// The kernel clamps silently; say so, as runc does.
		if got, err := readUint(dir, "cpu.shares"); err == nil && got != *c.Shares {
			return fieldErr("cpu.shares", "%d: the kernel set %d instead", *c.Shares, got)
		}
	}
	// A burst above the new quota, or a quota below the old burst, is
	// refused: try the burst first, set quota and period, then the burst.
	var burstErr error
	if c.Burst != nil {
		burstErr = writeOptional("cpu.burst", dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10), "the kernel has no CFS burst (Linux 5.14 or later)")
		if burstErr != nil && !errors.Is(burstErr, unix.EINVAL) {
			return burstErr
		}
	}
	if c.Period != nil {
		err := write("cpu.period", dir, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		if err != nil && errors.Is(err, unix.EINVAL) && c.Quota != nil {
			// The new period does not fit the old quota: quota first.
			if err := write("cpu.quota", dir, "cpu.cfs_quota_us", i64(*c.Quota)); err != nil {
				return err
			}
			err = write("cpu.period", dir, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		if err != nil {
			return err
		}
	}
	if c.Quota != nil {
		if err := write("cpu.quota", dir, "cpu.cfs_quota_us", i64(*c.Quota)); err != nil {
			return err
		}
	}
	if c.Burst != nil && burstErr != nil {
		if err := write("cpu.burst", dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	const noRT = "the kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)"
	if c.RealtimePeriod != nil {
		if err := writeOptional("cpu.realtimePeriod", dir, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10), noRT); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil {
		if err := writeOptional("cpu.realtimeRuntime", dir, "cpu.rt_runtime_us", i64(*c.RealtimeRuntime), noRT); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeOptional("cpu.idle", dir, "cpu.idle", i64(*c.Idle), "the kernel has no SCHED_IDLE cgroups (Linux 5.15 or later)"); err != nil {
			return err
		}
	}
	return nil
}

// setCpuset writes cpus and mems (v1 and v2 alike).
func setCpuset(_ string, dir string, c *specs.LinuxCPU) error {
	for _, f := range []struct{ field, file, v string }{
		{"cpu.cpus", "cpuset.cpus", c.Cpus}, {"cpu.mems", "cpuset.mems", c.Mems},
	} {
		if f.v == "" {
			continue
		}
		err := write(f.field, dir, f.file, f.v)
		if errors.Is(err, unix.EINVAL) {
			parent, _ := readTrim(filepath.Join(filepath.Dir(dir), f.file))
			if parent == "" {
				parent, _ = readTrim(filepath.Join(filepath.Dir(dir), f.file+".effective"))
			}
			return fieldErr(f.field, "%q refused: not within the parent cgroup's %q", f.v, parent)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func blockIONeeded(b *specs.LinuxBlockIO) bool {
	if b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 {
		return true
	}
	for _, t := range throttles(b) {
		if len(t.devs) > 0 {
			return true
		}
	}
	return false
}

func devString(d specs.LinuxBlockIODevice) string {
	return strconv.FormatInt(d.Major, 10) + ":" + strconv.FormatInt(d.Minor, 10)
}

func setBlkioV1(dir string, b *specs.LinuxBlockIO) error {
	// runc prefers BFQ's files, then CFQ's.
	weightFile, weightDevFile := "blkio.bfq.weight", "blkio.bfq.weight_device"
	if !fileExists(dir, weightFile) {
		weightFile, weightDevFile = "blkio.weight", "blkio.weight_device"
	}
	const noWeight = "no block I/O scheduler with weights (bfq, cfq) is in use"
	if b.Weight != nil {
		if err := writeOptional("blockIO.weight", dir, weightFile, strconv.FormatUint(uint64(*b.Weight), 10), noWeight); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := writeOptional("blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10), "leaf weights need the cfq scheduler (gone since Linux 5.0)"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if wd.Weight != nil {
			if err := writeOptional(f+".weight", dir, weightDevFile, devString(wd.LinuxBlockIODevice)+" "+strconv.FormatUint(uint64(*wd.Weight), 10), noWeight); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := writeOptional(f+".leafWeight", dir, "blkio.leaf_weight_device", devString(wd.LinuxBlockIODevice)+" "+strconv.FormatUint(uint64(*wd.LeafWeight), 10), "leaf weights need the cfq scheduler (gone since Linux 5.0)"); err != nil {
				return err
			}
		}
	}
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			f := fmt.Sprintf("blockIO.%s[%d]", t.field, i)
			if err := writeOptional(f, dir, t.v1File, devString(td.LinuxBlockIODevice)+" "+strconv.FormatUint(td.Rate, 10), "the kernel has no block I/O throttling"); err != nil {
				return err
			}
		}
	}
	return nil
}

// setHugetlb writes the limits and, where the kernel has them, the
// reservation limits (as runc does; the spec prefers reservations).
func setHugetlb(dir string, limits []specs.LinuxHugepageLimit, suffix, rsvdSuffix string) error {
	hasRsvd := true
	for i, h := range limits {
		f := fmt.Sprintf("hugepageLimits[%d]", i)
		v := strconv.FormatUint(h.Limit, 10)
		if err := writeOptional(f, dir, "hugetlb."+h.Pagesize+suffix, v, "no such huge page size"); err != nil {
			return err
		}
		if !hasRsvd {
			continue
		}
		err := writeFile(filepath.Join(dir, "hugetlb."+h.Pagesize+rsvdSuffix), []byte(v))
		if errors.Is(err, fs.ErrNotExist) {
			hasRsvd = false // kernel before 5.7
			continue
		}
		if err != nil {
			return &ResourceError{Field: f, Err: err}
		}
	}
	return nil
}

func setRdma(dir string, rdma map[string]specs.LinuxRdma) error {
	devs := make([]string, 0, len(rdma))
	for d := range rdma {
		devs = append(devs, d)
	}
	slices.Sort(devs)
	for _, d := range devs {
		l := rdma[d]
		line := d
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if err := write(fmt.Sprintf("rdma[%q]", d), dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

// ---- cgroup v2 ----

// controllersV2 lists the controllers r needs, each with the field that
// needs it (for errors).
func controllersV2(r *specs.LinuxResources) map[string]string {
	need := make(map[string]string)
	if mem := r.Memory; mem != nil && (mem.Limit != nil || mem.Reservation != nil || (mem.Swap != nil && *mem.Swap != 0)) {
		need["memory"] = "memory"
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil {
			need["cpu"] = "cpu"
		}
		if c.Cpus != "" || c.Mems != "" {
			need["cpuset"] = "cpu.cpus"
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		need["pids"] = "pids"
	}
	if b := r.BlockIO; b != nil && blockIONeeded(b) {
		need["io"] = "blockIO"
	}
	if len(r.HugepageLimits) > 0 {
		need["hugetlb"] = "hugepageLimits"
	}
	if len(r.Rdma) > 0 {
		need["rdma"] = "rdma"
	}
	return need
}

func setV2(dir string, r *specs.LinuxResources) error {
	need := controllersV2(r)
	// unified keys whose prefix is a controller need it too; others must
	// be core files ("cgroup.*", "*.pressure") present in dir.
	var avail map[string]bool
	for k := range r.Unified {
		ctrl, _, _ := strings.Cut(k, ".")
		if ctrl == "cgroup" {
			continue
		}
		if avail == nil {
			avail = wordSet(filepath.Join(filepath.Dir(dir), "cgroup.controllers"))
		}
		if avail[ctrl] {
			if _, ok := need[ctrl]; !ok {
				need[ctrl] = fmt.Sprintf("unified[%q]", k)
			}
		} else if !fileExists(dir, k) {
			return fieldErr(fmt.Sprintf("unified[%q]", k), "controller %q not available in %s", ctrl, filepath.Dir(dir))
		}
	}
	if err := enableControllers(dir, need); err != nil {
		return err
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := write("pids.limit", dir, "pids.max", limitString(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if mem := r.Memory; mem != nil {
		if err := setMemoryV2(dir, mem); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil && blockIONeeded(b) {
		if err := setIOV2(dir, b); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil {
		if err := setCPUV2(dir, c); err != nil {
			return err
		}
		if err := setCpuset("", dir, c); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := setHugetlb(dir, r.HugepageLimits, ".max", ".rsvd.max"); err != nil {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		if err := setRdma(dir, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := applyDevicesV2(dir, r.Devices); err != nil {
			return &ResourceError{Field: "devices", Err: err}
		}
	}
	// unified last: it overrides the converted values, as in runc.
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := fmt.Sprintf("unified[%q]", k)
		err := writeFile(filepath.Join(dir, k), []byte(r.Unified[k]))
		if errors.Is(err, fs.ErrNotExist) {
			return fieldErr(f, "no such file in %s", dir)
		}
		if err != nil {
			return &ResourceError{Field: f, Err: err}
		}
	}
	return nil
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

func setMemoryV2(dir string, mem *specs.LinuxMemory) error {
	if err := checkBeforeUpdate(mem, dir, "memory.current"); err != nil {
		return err
	}
	if mem.Swap != nil && *mem.Swap != 0 || (mem.Limit != nil && *mem.Limit == -1) {
		swap, err := swapV2(deref(mem.Swap), deref(mem.Limit))
		if err != nil {
			return err
		}
		v := ""
		switch {
		case swap != 0:
			v = limitString(swap)
		case mem.Swap != nil && *mem.Swap > 0:
			v = "0" // swap == limit: no swap at all
		}
		if v != "" {
			err := writeFile(filepath.Join(dir, "memory.swap.max"), []byte(v))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if v != "max" {
					return fieldErr("memory.swap", "swap accounting is off in this kernel (no memory.swap.max; boot with swapaccount=1)")
				}
			case err != nil:
				return &ResourceError{Field: "memory.swap", Err: err}
			}
		}
	}
	if mem.Limit != nil {
		if err := write("memory.limit", dir, "memory.max", limitString(*mem.Limit)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := write("memory.reservation", dir, "memory.low", limitString(*mem.Reservation)); err != nil {
			return err
		}
	}
	// kernel, kernelTCP and disableOOMKiller have no cgroup v2 file and are
	// ignored, as by runc; swappiness and useHierarchy=false are refused
	// by Validate.
	return nil
}

func setCPUV2(dir string, c *specs.LinuxCPU) error {
	if c.Shares != nil {
		if err := write("cpu.shares", dir, "cpu.weight", strconv.FormatUint(cpuWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeOptional("cpu.idle", dir, "cpu.idle", i64(*c.Idle), "the kernel has no SCHED_IDLE cgroups (Linux 5.15 or later)"); err != nil {
			return err
		}
	}
	const noBurst = "the kernel has no CFS burst (Linux 5.14 or later)"
	burst := ""
	var burstErr error
	if c.Burst != nil {
		burst = strconv.FormatUint(*c.Burst, 10)
		// As on v1: first try, then again after cpu.max.
		burstErr = writeOptional("cpu.burst", dir, "cpu.max.burst", burst, noBurst)
		if burstErr != nil && !errors.Is(burstErr, unix.EINVAL) {
			return burstErr
		}
	}
	if c.Quota != nil || c.Period != nil {
		field := "cpu.quota"
		cur := ""
		if c.Quota == nil {
			field = "cpu.period"
			// Period alone keeps the current quota (runc would reset it).
			s, _ := readTrim(filepath.Join(dir, "cpu.max"))
			cur, _, _ = strings.Cut(s, " ")
		}
		if err := write(field, dir, "cpu.max", cpuMax(c.Quota, c.Period, cur)); err != nil {
			return err
		}
	}
	if burstErr != nil {
		if err := write("cpu.burst", dir, "cpu.max.burst", burst); err != nil {
			return err
		}
	}
	return nil
}

func setIOV2(dir string, b *specs.LinuxBlockIO) error {
	// BFQ takes the OCI (v1) weights as they are; io.weight needs them
	// converted. runc's choice, except that runc drops per-device
	// weights without BFQ while this writes them to io.weight.
	bfq := fileExists(dir, "io.bfq.weight")
	weightFile := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.FormatUint(uint64(w), 10)
		}
		return "io.weight", strconv.FormatUint(ioWeight(w), 10)
	}
	if b.Weight != nil {
		file, v := weightFile(*b.Weight)
		if err := writeOptional("blockIO.weight", dir, file, v, "no I/O weights (io.weight needs the io.cost controller, io.bfq.weight the bfq scheduler)"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		if wd.Weight == nil {
			continue
		}
		file, v := weightFile(*wd.Weight)
		if err := writeOptional(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), dir, file, devString(wd.LinuxBlockIODevice)+" "+v, "no per-device I/O weights"); err != nil {
			return err
		}
	}
	// io.max: one line per device with all its limits.
	type dev struct{ maj, min int64 }
	var order []dev
	lines := make(map[dev]string)
	fields := make(map[dev]string)
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			d := dev{td.Major, td.Minor}
			if _, ok := lines[d]; !ok {
				order = append(order, d)
				lines[d] = devString(td.LinuxBlockIODevice)
				fields[d] = fmt.Sprintf("blockIO.%s[%d]", t.field, i)
			}
			lines[d] += " " + t.v2Key + "=" + strconv.FormatUint(td.Rate, 10)
		}
	}
	for _, d := range order {
		err := write(fields[d], dir, "io.max", lines[d])
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) {
			return fieldErr(fields[d], "%q refused: no such block device (whole disks only)", lines[d])
		}
		if err != nil {
			return err
		}
	}
	return nil
}
