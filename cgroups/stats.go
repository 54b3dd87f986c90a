// stats.go is the plumbing of Stats: the runc-compatible Stats type and
// the parts every controller's statistics share (the pressure stall
// information, the reader of cgroup stat files). The controllers' parts
// are in their files; controllers.go calls them.

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

// Stats is the container's resource usage. Its JSON is that of the "data"
// of runc's `runc events --stats` (runc's types.Stats), so that
// `podrun events --stats` prints what runc prints.
type Stats struct {
	CPU               CPU                 `json:"cpu"`
	CPUSet            CPUSet              `json:"cpuset"`
	Memory            Memory              `json:"memory"`
	Pids              Pids                `json:"pids"`
	Blkio             Blkio               `json:"blkio"`
	Hugetlb           map[string]Hugetlb  `json:"hugetlb"`
	IntelRdt          IntelRdt            `json:"intel_rdt"`
	NetworkInterfaces []*NetworkInterface `json:"network_interfaces"`
}

// PSIData is one line of a v2 *.pressure file.
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// PSIStats is a v2 *.pressure file (pressure stall information).
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

// IntelRdt is empty: podrun has no resctrl support. runc prints {} too
// when the container has no intelRdt.
type IntelRdt struct{}

// NetworkInterface is the traffic of one interface. Stats leaves
// Stats.NetworkInterfaces nil, as runc does.
type NetworkInterface struct {
	Name      string
	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}

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
