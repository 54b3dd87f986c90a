package systemd

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// infinity is systemd's "infinity" for the uint64 limits (CGROUP_LIMIT_MAX,
// USEC_INFINITY).
const infinity = uint64(math.MaxUint64)

// defaultCPUPeriod is the kernel's (and systemd's) CFS period, in µs.
const defaultCPUPeriod = 100000

// newProp builds one unit property.
func newProp(name string, v any) sdbus.Property {
	return sdbus.Property{Name: name, Value: godbus.MakeVariant(v)}
}

// deviceAllow is one DeviceAllow entry (D-Bus type "(ss)").
type deviceAllow struct {
	Path  string
	Perms string
}

// resourceProperties converts the resources to the unit properties that
// systemd version sdVer applies itself, for a unified (v2) or a v1 host.
// What systemd cannot express (swappiness, hugetlb, rdma, io limits,
// cpu.idle, v1 memsw, ...) is left to the cgroupfs code, which writes
// every value after systemd anyway. It is a pure function.
func resourceProperties(r *specs.LinuxResources, v2 bool, sdVer int) ([]sdbus.Property, error) {
	if r == nil {
		return nil, nil
	}
	var props []sdbus.Property
	add := func(name string, v any) { props = append(props, newProp(name, v)) }

	if m := r.Memory; m != nil {
		limit := value(m.Limit)
		if limit != 0 {
			v, err := limitValue("memory limit", limit)
			if err != nil {
				return nil, err
			}
			if v2 {
				add("MemoryMax", v)
			} else {
				add("MemoryLimit", v)
			}
		}
		if v2 {
			if res := value(m.Reservation); res != 0 {
				v, err := limitValue("memory reservation", res)
				if err != nil {
					return nil, err
				}
				add("MemoryLow", v)
			}
			swap, err := swapV2(value(m.Swap), limit)
			if err != nil {
				return nil, err
			}
			switch {
			case swap != 0:
				add("MemorySwapMax", limitOrInfinity(swap))
			case value(m.Swap) > 0:
				add("MemorySwapMax", uint64(0)) // swap == limit: no swap
			}
		}
	}

	if c := r.CPU; c != nil {
		if shares := value(c.Shares); shares != 0 {
			if v2 {
				add("CPUWeight", CPUSharesToWeight(shares))
			} else {
				add("CPUShares", shares)
			}
		}
		props = append(props, cpuQuotaProperties(c.Quota, value(c.Period), sdVer)...)
		if v2 && sdVer >= 244 {
			// systemd handles cpuset on the unified hierarchy only.
			if c.Cpus != "" {
				bits, err := RangeToBits(c.Cpus)
				if err != nil {
					return nil, fmt.Errorf("cpuset cpus %q: %w", c.Cpus, err)
				}
				add("AllowedCPUs", bits)
			}
			if c.Mems != "" {
				bits, err := RangeToBits(c.Mems)
				if err != nil {
					return nil, fmt.Errorf("cpuset mems %q: %w", c.Mems, err)
				}
				add("AllowedMemoryNodes", bits)
			}
		}
	}

	if p := r.Pids; p != nil && p.Limit != nil {
		// runtime-spec 1.3: -1 (any negative) is "max", 0 is a real limit.
		add("TasksMax", limitOrInfinity(*p.Limit))
	}

	if b := r.BlockIO; b != nil && value(b.Weight) != 0 {
		if v2 {
			add("IOWeight", BlkioWeightToIOWeight(*b.Weight))
		} else {
			add("BlockIOWeight", uint64(*b.Weight))
		}
	}

	if r.Devices != nil {
		dp, err := deviceProperties(r.Devices, sdVer)
		if err != nil {
			return nil, err
		}
		props = append(props, dp...)
	}

	if v2 && len(r.Unified) > 0 {
		up, err := unifiedProperties(r.Unified, sdVer)
		if err != nil {
			return nil, err
		}
		// Later properties win in systemd: unified values override.
		props = append(props, up...)
	}
	return props, nil
}

func value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// limitValue maps a spec limit (-1: unlimited) to systemd's value.
func limitValue(what string, v int64) (uint64, error) {
	if v < -1 {
		return 0, fmt.Errorf("invalid %s %d", what, v)
	}
	return limitOrInfinity(v), nil
}

func limitOrInfinity(v int64) uint64 {
	if v < 0 {
		return infinity
	}
	return uint64(v)
}

// swapV2 converts the spec's memory+swap limit to cgroup v2's separate
// swap limit (0: leave unset, or none when swap == memory; -1:
// unlimited), like runc and package cgroups.
func swapV2(swap, memory int64) (int64, error) {
	switch {
	case memory == -1 && swap == 0:
		// Unlimited memory with swap unset: both unlimited, as on v1.
		return -1, nil
	case swap == -1 || swap == 0:
		return swap, nil
	case memory == 0 || memory == -1:
		return 0, errors.New("memory swap limit set without a memory limit")
	case memory < 0 || swap < 0:
		return 0, fmt.Errorf("invalid memory limit %d or swap limit %d", memory, swap)
	case swap < memory:
		return 0, fmt.Errorf("memory+swap limit %d is below the memory limit %d", swap, memory)
	}
	return swap - memory, nil
}

// CPUSharesToWeight converts cgroup v1 cpu shares [2, 262144] to a v2
// cpu weight [1, 10000] with runc's linear formula, the one the cgroupfs
// code of package cgroups writes to cpu.weight: systemd and the file must
// agree, or a daemon-reload would change the weight. 0 stays 0 (unset).
// (runc 1.3 and crun moved to a curve that maps 1024 to 100; switch both
// together.)
func CPUSharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares < 2:
		shares = 2
	case shares > 262144:
		shares = 262144
	}
	return 1 + (shares-2)*9999/262142
}

// BlkioWeightToIOWeight converts a v1 blkio weight [10, 1000] to a v2 io
// weight [1, 10000], like runc; 0 stays 0.
func BlkioWeightToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	if w < 10 {
		w = 10
	}
	return 1 + (uint64(w)-10)*9999/990
}

// cpuQuotaProperties converts the CFS quota and period (µs; a quota <= 0
// is unlimited, a 0 period the default) like runc: CPUQuotaPeriodUSec
// (systemd 242 or later) and CPUQuotaPerSecUSec, the CPU time per second
// of wall time. systemd keeps the latter as a percentage, so a fractional
// percent is rounded up to the next 10 ms; the cgroupfs code then writes
// the exact cpu.max. Unlike runc, a nil quota (only the period changes)
// leaves CPUQuotaPerSecUSec alone, as the cgroupfs code keeps the quota.
func cpuQuotaProperties(quota *int64, period uint64, sdVer int) []sdbus.Property {
	var props []sdbus.Property
	if period != 0 && sdVer >= 242 {
		props = append(props, newProp("CPUQuotaPeriodUSec", period))
	}
	if quota == nil {
		return props
	}
	perSec := infinity
	if *quota > 0 {
		if period == 0 {
			period = defaultCPUPeriod
		}
		perSec = uint64(*quota) * 1000000 / period
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
		}
	}
	return append(props, newProp("CPUQuotaPerSecUSec", perSec))
}

// RangeToBits converts a cpuset list ("0-3,7") to the byte mask that
// systemd's AllowedCPUs/AllowedMemoryNodes take: bit n of byte n/8 is
// CPU n, lowest byte first.
func RangeToBits(list string) ([]byte, error) {
	var b []byte
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(r, "-")
		start, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad element %q", r)
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16); err != nil || end < start {
				return nil, fmt.Errorf("bad range %q", r)
			}
		}
		if n := int(end/8) + 1; n > len(b) {
			b = append(b, make([]byte, n-len(b))...)
		}
		for i := start; i <= end; i++ {
			b[i/8] |= 1 << (i % 8)
		}
	}
	if len(b) == 0 {
		return nil, errors.New("empty set")
	}
	return b, nil
}

// unifiedProperties converts the linux.resources.unified keys that systemd
// also manages, so that systemd does not later re-apply its own values
// over them; the cgroupfs code writes every key anyway.
func unifiedProperties(u map[string]string, sdVer int) ([]sdbus.Property, error) {
	var props []sdbus.Property
	for _, k := range slices.Sorted(maps.Keys(u)) {
		v := strings.TrimSpace(u[k])
		bad := func(err error) error { return fmt.Errorf("unified %s=%q: %w", k, u[k], err) }
		switch k {
		case "memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.max", "pids.max":
			n, err := maxOrUint(v)
			if err != nil {
				return nil, bad(err)
			}
			name := map[string]string{
				"memory.min": "MemoryMin", "memory.low": "MemoryLow", "memory.high": "MemoryHigh",
				"memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax",
			}[k]
			props = append(props, newProp(name, n))
		case "cpu.weight":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, bad(err)
			}
			props = append(props, newProp("CPUWeight", n))
		case "cpu.max":
			q, p, _ := strings.Cut(v, " ")
			var quota int64 = -1
			if q != "max" {
				n, err := strconv.ParseInt(q, 10, 64)
				if err != nil || n <= 0 {
					return nil, bad(errors.New("bad quota"))
				}
				quota = n
			}
			var period uint64
			if p = strings.TrimSpace(p); p != "" {
				n, err := strconv.ParseUint(p, 10, 64)
				if err != nil || n == 0 {
					return nil, bad(errors.New("bad period"))
				}
				period = n
			}
			props = append(props, cpuQuotaProperties(&quota, period, sdVer)...)
		case "cpuset.cpus", "cpuset.mems":
			if sdVer < 244 {
				continue
			}
			bits, err := RangeToBits(v)
			if err != nil {
				return nil, bad(err)
			}
			name := "AllowedCPUs"
			if k == "cpuset.mems" {
				name = "AllowedMemoryNodes"
			}
			props = append(props, newProp(name, bits))
		}
	}
	return props, nil
}

func maxOrUint(v string) (uint64, error) {
	if v == "max" {
		return infinity, nil
	}
	return strconv.ParseUint(v, 10, 64)
}
