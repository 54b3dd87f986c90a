// hugetlb.go is the hugetlb controller: linux.resources.hugepageLimits,
// their checks against the host's huge page sizes, their cgroup v1 and v2
// files (with the reservation limits), and the huge page statistics.

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

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

// pagesizeRe is compiled on first use (as unifiedKeyRe).
var pagesizeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[1-9][0-9]*[KMGTP]?B$`) })

func validateHugepages(r *specs.LinuxResources, env *hostEnv) error {
	seen := make(map[string]bool)
	for i, h := range r.HugepageLimits {
		f := fmt.Sprintf("hugepageLimits[%d].pageSize", i)
		if !pagesizeRe().MatchString(h.Pagesize) {
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

func hugetlbNeeded(r *specs.LinuxResources) bool { return len(r.HugepageLimits) > 0 }

func setHugetlbV1(dir string, r *specs.LinuxResources) error {
	return setHugetlb(dir, r.HugepageLimits, ".limit_in_bytes", ".rsvd.limit_in_bytes")
}

func setHugetlbV2(dir string, r *specs.LinuxResources) error {
	return setHugetlb(dir, r.HugepageLimits, ".max", ".rsvd.max")
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

func hugetlbStatsV1(sr *statReader, d string, s *Stats) {
	for size := range currentEnv().hugepages {
		p := "hugetlb." + size + "."
		s.Hugetlb[size] = Hugetlb{
			Usage:   sr.uint(d, p+"usage_in_bytes"),
			Max:     sr.uint(d, p+"max_usage_in_bytes"),
			Failcnt: sr.uint(d, p+"failcnt"),
		}
	}
}

func hugetlbStatsV2(sr *statReader, d string, s *Stats) {
	for size := range currentEnv().hugepages {
		p := "hugetlb." + size + "."
		if !fileExists(d, p+"current") {
			continue
		}
		// v2 keeps no peak: Max stays 0, as in runc.
		s.Hugetlb[size] = Hugetlb{Usage: sr.uint(d, p+"current"), Failcnt: sr.keyed(d, p+"events")["max"]}
	}
}

// Hugetlb is the usage of one huge page size.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}
