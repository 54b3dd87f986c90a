// controllers_test.go tests the controllers without a cgroup: Validate,
// the v1-to-v2 conversions, and Set and Stats on plain files.

package cgroups

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

var (
	envV1 = &hostEnv{cpus: map[int]bool{0: true, 1: true}, mems: map[int]bool{0: true}, hugepages: map[string]bool{"2MB": true, "1GB": true}}
	envV2 = &hostEnv{v2: true, cpus: envV1.cpus, mems: envV1.mems, hugepages: envV1.hugepages}
)

func TestValidate(t *testing.T) {
	dev := func(maj, min int64) specs.LinuxBlockIODevice {
		return specs.LinuxBlockIODevice{Major: maj, Minor: min}
	}
	tests := []struct {
		name  string
		r     specs.LinuxResources
		v2    bool   // validate for a v2 host (else v1)
		field string // "" = valid; else the field the error names
	}{
		{name: "empty", r: specs.LinuxResources{}},
		{name: "full v1", r: specs.LinuxResources{
			Memory:         &specs.LinuxMemory{Limit: ptr[int64](1 << 20), Swap: ptr[int64](2 << 20), Reservation: ptr[int64](0), Swappiness: ptr[uint64](10), KernelTCP: ptr[int64](-1), Kernel: ptr[int64](-5), UseHierarchy: ptr(true)},
			CPU:            &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](50000), RealtimeRuntime: ptr[int64](950), RealtimePeriod: ptr[uint64](1000), Cpus: "0-1", Mems: "0", Idle: ptr[int64](1)},
			Pids:           &specs.LinuxPids{Limit: ptr[int64](0)},
			BlockIO:        &specs.LinuxBlockIO{Weight: ptr[uint16](10), LeafWeight: ptr[uint16](1000), WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), LeafWeight: ptr[uint16](20)}}, ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1}}},
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
			Network:        &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}},
			Rdma:           map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3)}},
			Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"}},
		}},
		{name: "full v2", v2: true, r: specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: ptr[int64](1 << 20), Swap: ptr[int64](-1), Swappiness: ptr[uint64](math.MaxUint64), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true)},
			CPU:     &specs.LinuxCPU{Shares: ptr[uint64](2), Quota: ptr[int64](-1), Period: ptr[uint64](1000000), RealtimeRuntime: ptr[int64](0)},
			Pids:    &specs.LinuxPids{Limit: ptr[int64](-1)},
			Unified: map[string]string{"memory.high": "max", "io.max": "8:0 rbps=1", "cgroup.max.depth": "3", "hugetlb.2MB.max": "0"},
		}},
		{name: "pids -1 and 0", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}},
		{name: "swap 0 is unset", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](0)}}, v2: true},
		{name: "unlimited memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}, v2: true},

		{name: "memory limit 0", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](0)}}, field: "memory.limit"},
		{name: "memory limit -2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}}, field: "memory.limit"},
		{name: "reservation -2", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr[int64](-2)}}, field: "memory.reservation"},
		{name: "swap -3", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](-3)}}, field: "memory.swap"},
		{name: "swap < limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 << 20), Swap: ptr[int64](1 << 20)}}, field: "memory.swap"},
		{name: "swap < limit v2", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 << 20), Swap: ptr[int64](1 << 20)}}, field: "memory.swap"},
		{name: "swap without limit v2", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](1 << 20)}}, field: "memory.swap"},
		{name: "swap with limit -1 v2", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](1 << 20)}}, field: "memory.swap"},
		{name: "kernelTCP 0", r: specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr[int64](0)}}, field: "memory.kernelTCP"},
		{name: "swappiness 101", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, field: "memory.swappiness"},
		{name: "swappiness on v2", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](0)}}, field: "memory.swappiness"},
		{name: "useHierarchy false v2", v2: true, r: specs.LinuxResources{Memory: &specs.LinuxMemory{UseHierarchy: ptr(false)}}, field: "memory.useHierarchy"},

		{name: "shares 1", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}}, field: "cpu.shares"},
		{name: "shares 0", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](0)}}, field: "cpu.shares"},
		{name: "shares too big", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262145)}}, field: "cpu.shares"},
		{name: "quota 0", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](0)}}, field: "cpu.quota"},
		{name: "quota 999", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](999)}}, field: "cpu.quota"},
		{name: "quota -2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-2)}}, field: "cpu.quota"},
		{name: "period 0", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](0)}}, field: "cpu.period"},
		{name: "period too long", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](1000001)}}, field: "cpu.period"},
		{name: "burst > quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000), Burst: ptr[uint64](10001)}}, field: "cpu.burst"},
		{name: "rt runtime -2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](-2)}}, field: "cpu.realtimeRuntime"},
		{name: "rt period 0", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptr[uint64](0)}}, field: "cpu.realtimePeriod"},
		{name: "rt runtime > period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](2000), RealtimePeriod: ptr[uint64](1000)}}, field: "cpu.realtimeRuntime"},
		{name: "rt runtime v2", v2: true, r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}}, field: "cpu.realtimeRuntime"},
		{name: "rt period v2", v2: true, r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptr[uint64](1000)}}, field: "cpu.realtimePeriod"},
		{name: "idle 2", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](2)}}, field: "cpu.idle"},
		{name: "cpus offline", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-2"}}, field: "cpu.cpus"},
		{name: "cpus garbage", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0,x"}}, field: "cpu.cpus"},
		{name: "cpus backwards", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1-0"}}, field: "cpu.cpus"},
		{name: "mems offline", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "1"}}, field: "cpu.mems"},

		{name: "pids -2", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-2)}}, field: "pids.limit"},

		{name: "blkio weight 9", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](9)}}, field: "blockIO.weight"},
		{name: "blkio weight 1001", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](1001)}}, field: "blockIO.weight"},
		{name: "blkio leaf weight 0", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](0)}}, field: "blockIO.leafWeight"},
		{name: "blkio leaf weight v2", v2: true, r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}}, field: "blockIO.leafWeight"},
		{name: "weightDevice empty", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0)}}}}, field: "blockIO.weightDevice[0]"},
		{name: "weightDevice weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](5)}}}}, field: "blockIO.weightDevice[0].weight"},
		{name: "weightDevice leaf v2", v2: true, r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](50), LeafWeight: ptr[uint16](50)}}}}, field: "blockIO.weightDevice[0].leafWeight"},
		{name: "weightDevice bad dev", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(-1, 0), Weight: ptr[uint16](50)}}}}, field: "blockIO.weightDevice[0]"},
		{name: "throttle bad dev", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{}, {LinuxBlockIODevice: dev(8, -5)}}}}, field: "blockIO.throttleWriteIOPSDevice[1]"},

		{name: "hugepage format", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, field: "hugepageLimits[0].pageSize"},
		{name: "hugepage size unknown", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "16GB"}}}, field: "hugepageLimits[1].pageSize"},
		{name: "hugepage twice", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "2MB"}}}, field: "hugepageLimits[1].pageSize"},

		{name: "classID v2", v2: true, r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, field: "network.classID"},
		{name: "priorities v2", v2: true, r: specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo"}}}}, field: "network.priorities"},
		{name: "priority name", r: specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "a b"}}}}, field: "network.priorities[0].name"},

		{name: "rdma empty", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {}}}, field: `rdma["mlx5_1"]`},
		{name: "rdma name", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"a=b": {HcaObjects: ptr[uint32](1)}}}, field: `rdma["a=b"]`},

		{name: "unified on v1", r: specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, field: "unified"},
		{name: "unified slash", v2: true, r: specs.LinuxResources{Unified: map[string]string{"../memory.high": "1"}}, field: `unified["../memory.high"]`},
		{name: "unified no dot", v2: true, r: specs.LinuxResources{Unified: map[string]string{"memory": "1"}}, field: `unified["memory"]`},
		{name: "unified procs", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, field: `unified["cgroup.procs"]`},
		{name: "unified subtree", v2: true, r: specs.LinuxResources{Unified: map[string]string{"cgroup.subtree_control": "+cpu"}}, field: `unified["cgroup.subtree_control"]`},

		{name: "device type", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}}, field: "devices[0].type"},
		{name: "device access", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{}, {Access: "rx"}}}, field: "devices[1].access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := envV1
			if tt.v2 {
				env = envV2
			}
			err := validate(&tt.r, env)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var re *ResourceError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a ResourceError for %s", err, tt.field)
			}
			want := "linux.resources." + tt.field + ": "
			if re.Field != tt.field || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %q, want one line starting %q", err, want)
			}
			t.Log(err)
		})
	}
	if err := validate(nil, envV1); err != nil {
		t.Errorf("validate(nil) = %v", err)
	}
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 262144: 10000} {
		if got := cpuWeight(shares); got != want {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{0: 0, 10: 1, 500: 4950, 1000: 10000} {
		if got := ioWeight(w); got != want {
			t.Errorf("ioWeight(%d) = %d, want %d", w, got, want)
		}
	}
	for _, tt := range []struct {
		swap, limit, want int64
		bad               bool
	}{
		{0, 0, 0, false}, {0, -1, -1, false}, {-1, 100, -1, false}, {0, 100, 0, false},
		{300, 100, 200, false}, {100, 100, 0, false},
		{50, 100, 0, true}, {100, 0, 0, true}, {100, -1, 0, true},
	} {
		got, err := swapV2(tt.swap, tt.limit)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("swapV2(%d, %d) = %d, %v; want %d, error %v", tt.swap, tt.limit, got, err, tt.want, tt.bad)
		}
	}
	for _, tt := range []struct {
		quota  *int64
		period *uint64
		cur    string
		want   string
	}{
		{ptr[int64](50000), nil, "max", "50000"},
		{ptr[int64](50000), ptr[uint64](100000), "", "50000 100000"},
		{ptr[int64](-1), ptr[uint64](100000), "20000", "max 100000"},
		{nil, ptr[uint64](200000), "20000", "20000 200000"},
		{nil, ptr[uint64](200000), "", "max 200000"},
	} {
		if got := cpuMax(tt.quota, tt.period, tt.cur); got != tt.want {
			t.Errorf("cpuMax(%v, %v, %q) = %q, want %q", deref(tt.quota), deref(tt.period), tt.cur, got, tt.want)
		}
	}
	for n, want := range map[uint64]string{64 << 10: "64KB", 2 << 20: "2MB", 1 << 30: "1GB", 32 << 20: "32MB", 16 << 30: "16GB"} {
		if got := hugepageName(n); got != want {
			t.Errorf("hugepageName(%d) = %q, want %q", n, got, want)
		}
	}
	for _, tt := range []struct {
		in   string
		want []int
		bad  bool
	}{{"", nil, false}, {"0", []int{0}, false}, {"0-2,5", []int{0, 1, 2, 5}, false}, {"3,1", []int{1, 3}, false}, {"a", nil, true}, {"2-1", nil, true}, {"1,", nil, true}} {
		set, err := parseList(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("parseList(%q) error %v", tt.in, err)
			continue
		}
		for _, i := range tt.want {
			if !set[i] {
				t.Errorf("parseList(%q) lacks %d", tt.in, i)
			}
		}
		if len(set) != len(tt.want) {
			t.Errorf("parseList(%q) = %v, want %v", tt.in, set, tt.want)
		}
	}
}

// TestStatsJSON pins the JSON of an empty Stats to what runc's
// types.Stats gives, so that `events --stats` matches runc.
func TestStatsJSON(t *testing.T) {
	b, err := json.Marshal(&Stats{Hugetlb: map[string]Hugetlb{}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},` +
		`"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},` +
		`"memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},` +
		`"pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	full := Stats{
		CPU:     CPU{Usage: CPUUsage{Total: 1, Percpu: []uint64{1}, PercpuKernel: []uint64{2}, PercpuUser: []uint64{3}}, Throttling: Throttling{1, 2, 3}},
		Memory:  Memory{Cache: 1, Raw: map[string]uint64{"x": 1}},
		Pids:    Pids{1, 2},
		Blkio:   Blkio{IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 5}}},
		Hugetlb: map[string]Hugetlb{"2MB": {1, 2, 3}},
	}
	b, _ = json.Marshal(&full)
	for _, key := range []string{`"percpu":[1]`, `"percpu_kernel":[2]`, `"percpu_user":[3]`, `"throttledPeriods":2`, `"throttledTime":3`,
		`"raw":{"x":1}`, `"cache":1`, `"pids":{"current":1,"limit":2}`, `"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":5}]`,
		`"hugetlb":{"2MB":{"usage":1,"max":2,"failcnt":3}}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
}

// writeFiles creates dir with the given files (cgroupfs stand-ins).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFiles(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

// TestSetV2Files runs the v2 writer on plain files: what lands in each.
// (Plain files keep only the last write, unlike cgroupfs.)
func TestSetV2Files(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ctr")
	writeFiles(t, root, map[string]string{"cgroup.controllers": "cpuset cpu io memory pids", "cgroup.subtree_control": "memory"})
	files := []string{"memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "memory.high"}
	empty := make(map[string]string)
	for _, f := range files {
		empty[f] = ""
	}
	writeFiles(t, dir, empty)
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](150 << 20), Reservation: ptr[int64](-1), Kernel: ptr[int64](1), KernelTCP: ptr[int64](1), DisableOOMKiller: ptr(true)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](20000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000), Idle: ptr[int64](0), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](0)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}}, ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 7}, {LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 1}, Rate: 9}}},
		Unified: map[string]string{"memory.high": "12345"},
	}
	// Plain files cannot be "enabled": enableControllers would write the
	// parent's subtree_control, which must then hold what it wrote.
	if err := setV2(dir, r); err != nil {
		t.Fatal(err)
	}
	got := readFiles(t, dir, files...)
	want := map[string]string{
		"memory.max": "104857600", "memory.swap.max": "52428800", "memory.low": "max",
		"cpu.weight": "39", "cpu.max": "20000 100000", "cpu.max.burst": "1000", "cpu.idle": "0",
		"cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "0",
		"io.weight": "4950", "io.max": "7:1 wiops=9", // the last of two lines
		"memory.high": "12345",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n got %v\nwant %v", got, want)
	}
	if s := readFiles(t, root, "cgroup.subtree_control")["cgroup.subtree_control"]; s != "+pids" {
		t.Errorf("subtree_control: last write %q, want +pids (memory was enabled already; cpu, cpuset, io, pids in order)", s)
	}

	// A controller the parent lacks, and an unknown unified prefix.
	for _, tt := range []struct {
		r     *specs.LinuxResources
		field string
	}{
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "hugepageLimits: hugetlb controller not available in " + root},
		{&specs.LinuxResources{Unified: map[string]string{"foo.bar": "1"}}, `unified["foo.bar"]: controller "foo" not available in ` + root},
		{&specs.LinuxResources{Unified: map[string]string{"memory.nonesuch": "1"}}, `unified["memory.nonesuch"]: no such file in ` + dir},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1), Swap: ptr[int64](1)}}, "memory.swap: swap accounting is off"},
	} {
		if tt.field == "memory.swap: swap accounting is off" {
			os.Remove(filepath.Join(dir, "memory.swap.max"))
		}
		err := setV2(dir, tt.r)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources."+tt.field) {
			t.Errorf("setV2: %v, want linux.resources.%s...", err, tt.field)
		}
	}
}

// TestSetV1Files runs the v1 writer on plain files.
func TestSetV1Files(t *testing.T) {
	root := t.TempDir()
	paths := map[string]string{}
	for _, c := range []string{"memory", "cpu", "cpuset", "pids", "blkio"} {
		paths[c] = filepath.Join(root, c, "ctr")
	}
	paths["cpuacct"] = paths["cpu"]
	writeFiles(t, paths["memory"], map[string]string{"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "", "memory.soft_limit_in_bytes": "", "memory.swappiness": "", "memory.oom_control": "", "memory.use_hierarchy": "1", "memory.kmem.tcp.limit_in_bytes": "", "memory.usage_in_bytes": "5000"})
	writeFiles(t, paths["cpu"], map[string]string{"cpu.shares": "", "cpu.cfs_quota_us": "", "cpu.cfs_period_us": "", "cpu.cfs_burst_us": "", "cpu.rt_runtime_us": "", "cpu.rt_period_us": "", "cpu.idle": ""})
	writeFiles(t, paths["cpuset"], map[string]string{"cpuset.cpus": "", "cpuset.mems": ""})
	writeFiles(t, paths["pids"], map[string]string{"pids.max": ""})
	writeFiles(t, paths["blkio"], map[string]string{"blkio.weight": "", "blkio.weight_device": "", "blkio.throttle.read_bps_device": "", "blkio.throttle.write_iops_device": ""})
	m := newManager("", false, paths, false)
	m.created = true
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](150 << 20), Reservation: ptr[int64](50 << 20), Swappiness: ptr[uint64](0), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true), KernelTCP: ptr[int64](-1), CheckBeforeUpdate: ptr(true)},
		CPU:     &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000), RealtimeRuntime: ptr[int64](-1), RealtimePeriod: ptr[uint64](1000000), Idle: ptr[int64](1), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500), WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](20)}}, ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}}, ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 7}}},
	}
	if err := m.setV1(r); err != nil {
		t.Fatal(err)
	}
	check := func(dir string, want map[string]string) {
		t.Helper()
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		if got := readFiles(t, dir, names...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", dir, got, want)
		}
	}
	check(paths["memory"], map[string]string{"memory.limit_in_bytes": "104857600", "memory.memsw.limit_in_bytes": "157286400", "memory.soft_limit_in_bytes": "52428800", "memory.swappiness": "0", "memory.oom_control": "1", "memory.use_hierarchy": "1", "memory.kmem.tcp.limit_in_bytes": "-1"})
	check(paths["cpu"], map[string]string{"cpu.shares": "", "cpu.cfs_quota_us": "20000", "cpu.cfs_period_us": "100000", "cpu.cfs_burst_us": "1000", "cpu.rt_runtime_us": "-1", "cpu.rt_period_us": "1000000", "cpu.idle": "1"})
	check(paths["cpuset"], map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"})
	check(paths["pids"], map[string]string{"pids.max": "max"})
	check(paths["blkio"], map[string]string{"blkio.weight": "500", "blkio.weight_device": "8:0 20", "blkio.throttle.read_bps_device": "8:0 100", "blkio.throttle.write_iops_device": "8:16 7"})

	for _, tt := range []struct {
		r    *specs.LinuxResources
		want string
	}{
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), CheckBeforeUpdate: ptr(true)}}, "linux.resources.memory.limit: 4096 refused (checkBeforeUpdate): the cgroup already uses 5000 bytes"},
		{&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, "linux.resources.network.classID: the net_cls controller is not mounted (cgroup v1)"},
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}}, "linux.resources.hugepageLimits: the hugetlb controller is not mounted (cgroup v1)"},
		{&specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"x": {}}}, "linux.resources.rdma: the rdma controller is not mounted (cgroup v1)"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}}, "linux.resources.blockIO.leafWeight: no blkio.leaf_weight in " + paths["blkio"] + ": leaf weights need the cfq scheduler"},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "r"}}}, "linux.resources.devices: the devices controller is not mounted (cgroup v1)"},
	} {
		if err := m.setV1(tt.r); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("setV1: %v\nwant %s...", err, tt.want)
		}
	}
	// Absent limits need no controller.
	if err := newManager("", false, map[string]string{"memory": paths["memory"]}, false).setV1(&specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, Network: &specs.LinuxNetwork{}, BlockIO: &specs.LinuxBlockIO{}}); err != nil {
		t.Errorf("empty limits: %v", err)
	}
}

func TestStatsV2Files(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cpu.stat":            "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 10\nnr_throttled 3\nthrottled_usec 7\n",
		"cpu.pressure":        "some avg10=1.50 avg60=0.00 avg300=0.00 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
		"memory.current":      "1000\n",
		"memory.max":          "max\n",
		"memory.stat":         "anon 10\nfile 20\n",
		"memory.swap.current": "5\n",
		"memory.swap.max":     "max\n",
		"pids.current":        "3\n",
		"pids.max":            "max\n",
		"io.stat":             "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
	})
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	sr := &statReader{}
	statsV2(sr, dir, s)
	if sr.err != nil {
		t.Fatal(sr.err)
	}
	if s.CPU.Usage.Total != 100000 || s.CPU.Usage.User != 60000 || s.CPU.Usage.Kernel != 40000 || s.CPU.Throttling != (Throttling{10, 3, 7000}) {
		t.Errorf("cpu: %+v", s.CPU)
	}
	if s.CPU.PSI == nil || s.CPU.PSI.Some.Avg10 != 1.5 || s.CPU.PSI.Some.Total != 42 || s.CPU.PSI.Full.Total != 7 {
		t.Errorf("cpu psi: %+v", s.CPU.PSI)
	}
	if s.Memory.Cache != 20 || s.Memory.Usage.Usage != 1000 || s.Memory.Usage.Limit != math.MaxUint64 || s.Memory.Swap.Usage != 1005 || s.Memory.Raw["anon"] != 10 {
		t.Errorf("memory: %+v", s.Memory)
	}
	if s.Pids != (Pids{Current: 3}) {
		t.Errorf("pids: %+v", s.Pids)
	}
	want := []BlkioEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}}
	if !reflect.DeepEqual(s.Blkio.IoServiceBytesRecursive, want) {
		t.Errorf("io: %+v", s.Blkio)
	}
}

func TestBlkioV1Parse(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n"})
	got := (&statReader{}).blkio(dir, "f")
	want := []BlkioEntry{{8, 0, "Read", 10}, {8, 0, "Write", 20}, {8, 0, "Total", 30}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestUnifiedOnV1Text: linux.resources.unified on cgroup v1 fails with
// runc's text (errors.Is ErrV1NoUnified), after the field.
func TestUnifiedOnV1Text(t *testing.T) {
	err := validate(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, envV1)
	if !errors.Is(err, ErrV1NoUnified) || err.Error() != "linux.resources.unified: invalid configuration: cannot use unified on cgroup v1" {
		t.Errorf("got %v", err)
	}
}

// TestInitCpusetHalfDoneParent: a parent that another create is
// initialising has its cpus already and not yet its mems; the new leaf
// still gets both (it had empty mems, and any task written to it ENOSPC).
func TestInitCpusetHalfDoneParent(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cpuset")
	parent := filepath.Join(root, "pods")
	leaf := filepath.Join(parent, "ctr")
	writeFiles(t, root, map[string]string{"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n"})
	writeFiles(t, parent, map[string]string{"cpuset.cpus": "0-1\n", "cpuset.mems": ""})
	writeFiles(t, leaf, map[string]string{"cpuset.cpus": "", "cpuset.mems": ""})
	if err := initCpuset(leaf); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"}
	for _, d := range []string{parent, leaf} {
		got := readFiles(t, d, "cpuset.cpus", "cpuset.mems")
		for k, v := range got {
			got[k] = strings.TrimSpace(v)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", d, got, want)
		}
	}
}
