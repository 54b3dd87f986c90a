// cpu.go is the cpu controller (and v1's cpuacct): linux.resources.cpu's
// shares, quota, period, burst, realtime and idle settings, their checks,
// their cgroup v1 and v2 files, and the CPU statistics.

package cgroups

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel's CFS bandwidth bounds, in microseconds.
const (
	minCFSPeriod = 1000
	maxCFSPeriod = 1000000
	minCFSQuota  = 1000
	minShares    = 2
	maxShares    = 262144
)

// clockTicks is USER_HZ, the unit of cpuacct.stat (100 on every Linux
// architecture podrun builds for; runc assumes the same).
const clockTicks = 100

// validateCPU checks the cpu controller's part of linux.resources.cpu
// (cpus and mems: validateCpuset).
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
	return nil
}

// cpuNeededV1: r holds a setting of the v1 cpu controller.
func cpuNeededV1(r *specs.LinuxResources) bool {
	c := r.CPU
	return c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
		c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil)
}

// cpuNeededV2: r holds a setting of the v2 cpu controller (realtime
// settings are refused by Validate on v2).
func cpuNeededV2(r *specs.LinuxResources) bool {
	c := r.CPU
	return c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil)
}

func setCPUV1(dir string, r *specs.LinuxResources) error {
	c := r.CPU
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

func setCPUV2(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
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

// cpuWeight converts cgroup v1 cpu.shares (2-262144) to cgroup v2
// cpu.weight (1-10000), with runc's linear formula.
func cpuWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
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

// cpuacctStatsV1 reads the CPU time of the v1 cpuacct hierarchy.
func cpuacctStatsV1(sr *statReader, d string, s *Stats) {
	u := &s.CPU.Usage
	u.Total = sr.uint(d, "cpuacct.usage")
	u.Percpu = sr.uints(d, "cpuacct.usage_percpu")
	// cpuacct.usage_all: "cpu user system" and a line per CPU.
	for _, line := range strings.Split(sr.read(d, "cpuacct.usage_all"), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		user, _ := strconv.ParseUint(f[1], 10, 64)
		sys, _ := strconv.ParseUint(f[2], 10, 64)
		u.PercpuUser = append(u.PercpuUser, user)
		u.PercpuKernel = append(u.PercpuKernel, sys)
	}
	st := sr.keyed(d, "cpuacct.stat")
	u.User = st["user"] * (1e9 / clockTicks)
	u.Kernel = st["system"] * (1e9 / clockTicks)
}

// cpuStatsV1 reads the CFS throttling of the v1 cpu hierarchy.
func cpuStatsV1(sr *statReader, d string, s *Stats) {
	st := sr.keyed(d, "cpu.stat")
	s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_time"]}
}

func cpuStatsV2(sr *statReader, d string, s *Stats) {
	st := sr.keyed(d, "cpu.stat") // there even without the cpu controller
	s.CPU.Usage.Total = st["usage_usec"] * 1000
	s.CPU.Usage.User = st["user_usec"] * 1000
	s.CPU.Usage.Kernel = st["system_usec"] * 1000
	s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_usec"] * 1000}
	s.CPU.PSI = sr.psi(d, "cpu.pressure")
}

// Throttling is the CFS bandwidth throttling of the cgroup.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"` // nanoseconds
}

// CPUUsage is the CPU time used, in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// CPU is the CPU usage and throttling.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}
