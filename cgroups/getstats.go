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
)

// clockTicks is USER_HZ, the unit of cpuacct.stat (100 on every Linux
// architecture podrun builds for; runc assumes the same).
const clockTicks = 100

// statReader reads cgroup files for Stats. A missing file (controller
// not enabled, older kernel) reads as nothing; the first other error is
// kept in err.
type statReader struct{ err error }

func (sr *statReader) keep(err error) {
	if err != nil && sr.err == nil && !errors.Is(err, fs.ErrNotExist) {
		sr.err = err
	}
}

// read returns the content of dir/file, or "" if missing.
func (sr *statReader) read(dir, file string) string {
	b, err := readFile(filepath.Join(dir, file))
	sr.keep(err)
	return string(b)
}

// uint returns the number in dir/file; "max" reads as MaxUint64.
func (sr *statReader) uint(dir, file string) uint64 {
	s := strings.TrimSpace(sr.read(dir, file))
	switch s {
	case "":
		return 0
	case "max":
		return math.MaxUint64
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 limits may read as -1 in some kernels.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return math.MaxUint64
		}
		sr.keep(fmt.Errorf("parse %s: %w", filepath.Join(dir, file), err))
	}
	return n
}

// keyed parses a flat keyed file ("key value" lines) into a map.
func (sr *statReader) keyed(dir, file string) map[string]uint64 {
	out := make(map[string]uint64)
	for _, line := range strings.Split(sr.read(dir, file), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		out[k] = n
	}
	return out
}

func (sr *statReader) uints(dir, file string) []uint64 {
	var out []uint64
	for _, f := range strings.Fields(sr.read(dir, file)) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			sr.keep(fmt.Errorf("parse %s: %w", filepath.Join(dir, file), err))
			return nil
		}
		out = append(out, n)
	}
	return out
}

func (sr *statReader) list(dir, file string) []uint16 {
	set, err := parseList(strings.TrimSpace(sr.read(dir, file)))
	if err != nil {
		sr.keep(fmt.Errorf("parse %s: %w", filepath.Join(dir, file), err))
		return nil
	}
	var out []uint16
	for i := range set {
		out = append(out, uint16(i))
	}
	slices.Sort(out)
	return out
}

// psi parses a v2 *.pressure file; nil if there is none.
func (sr *statReader) psi(dir, file string) *PSIStats {
	s := sr.read(dir, file)
	if s == "" {
		return nil
	}
	var out PSIStats
	for _, line := range strings.Split(s, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		var d *PSIData
		switch kind {
		case "some":
			d = &out.Some
		case "full":
			d = &out.Full
		default:
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "avg10", "avg60", "avg300":
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					sr.keep(fmt.Errorf("parse %s: %w", filepath.Join(dir, file), err))
					continue
				}
				switch k {
				case "avg10":
					d.Avg10 = f
				case "avg60":
					d.Avg60 = f
				default:
					d.Avg300 = f
				}
			case "total":
				d.Total, _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	return &out
}

// blkio parses a v1 blkio stat file ("MAJ:MIN Op Value" lines).
func (sr *statReader) blkio(dir, file string) []BlkioEntry {
	var out []BlkioEntry
	for _, line := range strings.Split(sr.read(dir, file), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 && len(f) != 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue // "Total N"
		}
		e := BlkioEntry{}
		e.Major, _ = strconv.ParseUint(maj, 10, 64)
		e.Minor, _ = strconv.ParseUint(min, 10, 64)
		v := f[len(f)-1]
		if len(f) == 3 {
			e.Op = f[1]
		}
		e.Value, _ = strconv.ParseUint(v, 10, 64)
		out = append(out, e)
	}
	return out
}

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
	if d, ok := m.paths["cpuacct"]; ok {
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
	if d, ok := m.paths["cpu"]; ok {
		st := sr.keyed(d, "cpu.stat")
		s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_time"]}
	}
	if d, ok := m.paths["cpuset"]; ok {
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
	if d, ok := m.paths["memory"]; ok {
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
	if d, ok := m.paths["pids"]; ok {
		s.Pids = pidsStats(sr, d)
	}
	if d, ok := m.paths["blkio"]; ok {
		// As runc: CFQ's statistics, else BFQ's, else the throttling
		// layer's (which counts every I/O).
		prefix := "blkio.throttle."
		for _, p := range []string{"blkio.", "blkio.bfq."} {
			if fileExists(d, p+"io_serviced_recursive") {
				prefix = p
				break
			}
		}
		b := &s.Blkio
		b.IoServiceBytesRecursive = sr.blkio(d, prefix+"io_service_bytes_recursive")
		b.IoServicedRecursive = sr.blkio(d, prefix+"io_serviced_recursive")
		if prefix != "blkio.throttle." {
			b.IoQueuedRecursive = sr.blkio(d, prefix+"io_queued_recursive")
			b.IoServiceTimeRecursive = sr.blkio(d, prefix+"io_service_time_recursive")
			b.IoWaitTimeRecursive = sr.blkio(d, prefix+"io_wait_time_recursive")
			b.IoMergedRecursive = sr.blkio(d, prefix+"io_merged_recursive")
			b.IoTimeRecursive = sr.blkio(d, prefix+"time_recursive")
			b.SectorsRecursive = sr.blkio(d, prefix+"sectors_recursive")
		}
	}
	if d, ok := m.paths["hugetlb"]; ok {
		for size := range currentEnv().hugepages {
			p := "hugetlb." + size + "."
			s.Hugetlb[size] = Hugetlb{
				Usage:   sr.uint(d, p+"usage_in_bytes"),
				Max:     sr.uint(d, p+"max_usage_in_bytes"),
				Failcnt: sr.uint(d, p+"failcnt"),
			}
		}
	}
}

func pidsStats(sr *statReader, d string) Pids {
	p := Pids{Current: sr.uint(d, "pids.current"), Limit: sr.uint(d, "pids.max")}
	if p.Limit == math.MaxUint64 {
		p.Limit = 0 // no limit, as runc reports it
	}
	return p
}

func statsV2(sr *statReader, d string, s *Stats) {
	st := sr.keyed(d, "cpu.stat") // there even without the cpu controller
	s.CPU.Usage.Total = st["usage_usec"] * 1000
	s.CPU.Usage.User = st["user_usec"] * 1000
	s.CPU.Usage.Kernel = st["system_usec"] * 1000
	s.CPU.Throttling = Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_usec"] * 1000}
	s.CPU.PSI = sr.psi(d, "cpu.pressure")

	if fileExists(d, "cpuset.cpus.effective") {
		s.CPUSet.CPUs = sr.list(d, "cpuset.cpus.effective")
		s.CPUSet.Mems = sr.list(d, "cpuset.mems.effective")
	}

	if fileExists(d, "memory.current") {
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

	if fileExists(d, "pids.current") {
		s.Pids = pidsStats(sr, d)
	}

	// io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N".
	for _, line := range strings.Split(sr.read(d, "io.stat"), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		e := BlkioEntry{}
		e.Major, _ = strconv.ParseUint(maj, 10, 64)
		e.Minor, _ = strconv.ParseUint(min, 10, 64)
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e.Value = n
			switch k {
			case "rbytes":
				e.Op = "Read"
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			}
		}
	}
	s.Blkio.PSI = sr.psi(d, "io.pressure")

	for size := range currentEnv().hugepages {
		p := "hugetlb." + size + "."
		if !fileExists(d, p+"current") {
			continue
		}
		// v2 keeps no peak: Max stays 0, as in runc.
		s.Hugetlb[size] = Hugetlb{Usage: sr.uint(d, p+"current"), Failcnt: sr.keyed(d, p+"events")["max"]}
	}
}
