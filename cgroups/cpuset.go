// cpuset.go is the cpuset controller: linux.resources.cpu's cpus and mems,
// their checks against the host's online CPUs and memory nodes, their
// cgroup files (the same on v1 and v2), and the cpuset statistics.

package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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

func validateCpuset(r *specs.LinuxResources, env *hostEnv) error {
	c := r.CPU
	if c == nil {
		return nil
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

func cpusetNeeded(r *specs.LinuxResources) bool {
	return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "")
}

// setCpuset writes cpus and mems (v1 and v2 alike).
func setCpuset(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
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

func cpusetStatsV1(sr *statReader, d string, s *Stats) {
	c := &s.CPUSet
	c.CPUs = sr.list(d, "cpuset.cpus")
	c.Mems = sr.list(d, "cpuset.mems")
	c.CPUExclusive = sr.uint(d, "cpuset.cpu_exclusive")
	c.MemHardwall = sr.uint(d, "cpuset.mem_hardwall")
	c.MemExclusive = sr.uint(d, "cpuset.mem_exclusive")
	c.MemoryMigrate = sr.uint(d, "cpuset.memory_migrate")
	c.MemorySpreadPage = sr.uint(d, "cpuset.memory_spread_page")
	c.MemorySpreadSlab = sr.uint(d, "cpuset.memory_spread_slab")
	c.MemoryPressure = sr.uint(d, "cpuset.memory_pressure")
	c.SchedLoadBalance = sr.uint(d, "cpuset.sched_load_balance")
	if v := strings.TrimSpace(sr.read(d, "cpuset.sched_relax_domain_level")); v != "" {
		c.SchedRelaxDomainLevel, _ = strconv.ParseInt(v, 10, 64)
	}
}

func cpusetStatsV2(sr *statReader, d string, s *Stats) {
	if fileExists(d, "cpuset.cpus.effective") {
		s.CPUSet.CPUs = sr.list(d, "cpuset.cpus.effective")
		s.CPUSet.Mems = sr.list(d, "cpuset.mems.effective")
	}
}

// CPUSet is the cpuset configuration (v1 cpuset.*, v2 cpuset.*.effective).
type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}
