// pids.go is the pids controller: linux.resources.pids.limit, its check,
// its pids.max (the same file on v1 and v2), and the pids statistics.

package cgroups

import (
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validatePids(r *specs.LinuxResources, _ *hostEnv) error {
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit < -1 {
		return fieldErr("pids.limit", "%d: want 0 or more, or -1 for no limit", *r.Pids.Limit)
	}
	return nil
}

func pidsNeeded(r *specs.LinuxResources) bool {
	return r.Pids != nil && r.Pids.Limit != nil
}

// setPids writes pids.max (v1 and v2 alike).
func setPids(dir string, r *specs.LinuxResources) error {
	if !pidsNeeded(r) {
		return nil
	}
	return write("pids.limit", dir, "pids.max", limitString(*r.Pids.Limit))
}

func pidsStats(sr *statReader, d string) Pids {
	p := Pids{Current: sr.uint(d, "pids.current"), Limit: sr.uint(d, "pids.max")}
	if p.Limit == math.MaxUint64 {
		p.Limit = 0 // no limit, as runc reports it
	}
	return p
}

func pidsStatsV1(sr *statReader, d string, s *Stats) { s.Pids = pidsStats(sr, d) }

func pidsStatsV2(sr *statReader, d string, s *Stats) {
	if fileExists(d, "pids.current") {
		s.Pids = pidsStats(sr, d)
	}
}

// Pids is the number of tasks and its limit (0: no limit).
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}
