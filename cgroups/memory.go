// memory.go is the memory controller: linux.resources.memory's limits,
// swap, reservation and knobs, their checks, their cgroup v1 and v2 files
// (with v1's memory+swap converted to v2's swap), and the memory
// statistics. The OOM events are in oom.go.

package cgroups

import (
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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

// memoryNeededV1: r.Memory holds something to write (kernel is ignored,
// as by runc; checkBeforeUpdate alone is no setting; disableOOMKiller
// false is the default).
func memoryNeededV1(r *specs.LinuxResources) bool {
	mem := r.Memory
	return mem != nil && (mem.Limit != nil || mem.Reservation != nil || (mem.Swap != nil && *mem.Swap != 0) ||
		mem.KernelTCP != nil || (mem.Swappiness != nil && *mem.Swappiness != math.MaxUint64) ||
		(mem.DisableOOMKiller != nil && *mem.DisableOOMKiller) || mem.UseHierarchy != nil)
}

// memoryNeededV2: r.Memory holds something for a v2 memory file.
func memoryNeededV2(r *specs.LinuxResources) bool {
	mem := r.Memory
	return mem != nil && (mem.Limit != nil || mem.Reservation != nil || (mem.Swap != nil && *mem.Swap != 0))
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

func setMemoryV1(dir string, r *specs.LinuxResources) error {
	mem := r.Memory
	if err := checkBeforeUpdate(mem, dir, "memory.usage_in_bytes"); err != nil {
		return err
	}
	if err := setMemoryLimitsV1(dir, mem.Limit, mem.Swap); err != nil {
		return err
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

// setMemoryLimitsV1 writes the memory limit and the memory+swap limit
// (swap 0: unset) in the order the kernel accepts.
func setMemoryLimitsV1(dir string, limit, swap *int64) error {
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
	return nil
}

func setMemoryV2(dir string, r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
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

func memoryStatsV1(sr *statReader, d string, s *Stats) {
	mem := &s.Memory
	mem.Raw = sr.keyed(d, "memory.stat")
	mem.Cache = mem.Raw["cache"]
	entry := func(prefix string) MemoryEntry {
		if !fileExists(d, prefix+"usage_in_bytes") {
			return MemoryEntry{}
		}
		return MemoryEntry{
			Usage:   sr.uint(d, prefix+"usage_in_bytes"),
			Max:     sr.uint(d, prefix+"max_usage_in_bytes"),
			Failcnt: sr.uint(d, prefix+"failcnt"),
			Limit:   sr.uint(d, prefix+"limit_in_bytes"),
		}
	}
	mem.Usage = entry("memory.")
	mem.Swap = entry("memory.memsw.")
	mem.Kernel = entry("memory.kmem.")
	mem.KernelTCP = entry("memory.kmem.tcp.")
}

func memoryStatsV2(sr *statReader, d string, s *Stats) {
	if !fileExists(d, "memory.current") {
		return
	}
	mem := &s.Memory
	mem.Raw = sr.keyed(d, "memory.stat")
	mem.Cache = mem.Raw["file"]
	mem.Usage = MemoryEntry{Usage: sr.uint(d, "memory.current"), Limit: sr.uint(d, "memory.max")}
	if fileExists(d, "memory.peak") {
		mem.Usage.Max = sr.uint(d, "memory.peak")
	}
	// v1 reports memory+swap: so does runc on v2, for compatibility.
	if fileExists(d, "memory.swap.current") {
		mem.Swap = MemoryEntry{Usage: sr.uint(d, "memory.swap.current") + mem.Usage.Usage, Limit: sr.uint(d, "memory.swap.max")}
		if mem.Swap.Limit != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
			mem.Swap.Limit += mem.Usage.Limit
		} else {
			mem.Swap.Limit = math.MaxUint64
		}
	}
	mem.PSI = sr.psi(d, "memory.pressure")
}

// MemoryEntry is one memory counter with its limit, peak and failures.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Memory is the memory usage; Raw holds memory.stat.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}
