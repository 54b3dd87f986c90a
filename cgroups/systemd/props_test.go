package systemd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// show renders properties as "Name=value" strings, in order.
func show(props []sdbus.Property) []string {
	var s []string
	for _, p := range props {
		s = append(s, fmt.Sprintf("%s=%v", p.Name, p.Value.Value()))
	}
	return s
}

const inf = "18446744073709551615"

func checkProps(t *testing.T, name string, r *specs.LinuxResources, v2 bool, sdVer int, want ...string) {
	t.Helper()
	props, err := resourceProperties(r, v2, sdVer)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if got := show(props); !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", name, got, want)
	}
}

func TestCPUSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 39, 512: 20, 262144: 10000, 1 << 20: 10000} {
		if got := CPUSharesToWeight(shares); got != want {
			t.Errorf("CPUSharesToWeight(%d) = %d; want %d", shares, got, want)
		}
	}
	checkProps(t, "shares v2", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}}, true, 252, "CPUWeight=39")
	checkProps(t, "shares v1", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}}, false, 252, "CPUShares=1024")
	checkProps(t, "shares 0", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](0)}}, true, 252)
}

func TestCPUQuota(t *testing.T) {
	cpu := func(q *int64, p *uint64) *specs.LinuxResources {
		return &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: q, Period: p}}
	}
	checkProps(t, "half a cpu", cpu(ptr[int64](50000), ptr[uint64](100000)), true, 252,
		"CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=500000")
	// 12.345%: rounded up to the next whole percent (10 ms per second).
	checkProps(t, "fraction", cpu(ptr[int64](12345), ptr[uint64](100000)), true, 252,
		"CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=130000")
	checkProps(t, "third", cpu(ptr[int64](1000), ptr[uint64](3000)), true, 252,
		"CPUQuotaPeriodUSec=3000", "CPUQuotaPerSecUSec=340000")
	checkProps(t, "exact percent", cpu(ptr[int64](10000), ptr[uint64](50000)), true, 252,
		"CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=200000")
	checkProps(t, "default period", cpu(ptr[int64](150000), nil), true, 252, "CPUQuotaPerSecUSec=1500000")
	checkProps(t, "unlimited", cpu(ptr[int64](-1), nil), true, 252, "CPUQuotaPerSecUSec="+inf)
	checkProps(t, "zero quota", cpu(ptr[int64](0), nil), true, 252, "CPUQuotaPerSecUSec="+inf)
	checkProps(t, "period only", cpu(nil, ptr[uint64](20000)), true, 252, "CPUQuotaPeriodUSec=20000")
	// CPUQuotaPeriodUSec needs systemd 242.
	checkProps(t, "old systemd", cpu(ptr[int64](50000), ptr[uint64](100000)), true, 241, "CPUQuotaPerSecUSec=500000")
	checkProps(t, "v1", cpu(ptr[int64](25000), ptr[uint64](100000)), false, 252,
		"CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=250000")
}

func TestMemory(t *testing.T) {
	mem := func(limit, res, swap *int64) *specs.LinuxResources {
		return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: limit, Reservation: res, Swap: swap}}
	}
	m64, m128 := ptr[int64](64<<20), ptr[int64](128<<20)
	checkProps(t, "limit v2", mem(m64, nil, nil), true, 252, "MemoryMax=67108864")
	checkProps(t, "limit v1", mem(m64, nil, nil), false, 252, "MemoryLimit=67108864")
	checkProps(t, "reservation", mem(m128, m64, nil), true, 252, "MemoryMax=134217728", "MemoryLow=67108864")
	checkProps(t, "reservation v1", mem(nil, m64, nil), false, 252)
	// swap is memory+swap in the spec, swap alone in cgroup v2.
	checkProps(t, "swap", mem(m64, nil, m128), true, 252, "MemoryMax=67108864", "MemorySwapMax=67108864")
	checkProps(t, "swap equal", mem(m64, nil, m64), true, 252, "MemoryMax=67108864", "MemorySwapMax=0")
	checkProps(t, "swap unlimited", mem(m64, nil, ptr[int64](-1)), true, 252, "MemoryMax=67108864", "MemorySwapMax="+inf)
	checkProps(t, "all unlimited", mem(ptr[int64](-1), nil, nil), true, 252, "MemoryMax="+inf, "MemorySwapMax="+inf)
	checkProps(t, "swap v1", mem(m64, nil, m128), false, 252, "MemoryLimit=67108864")
	for name, r := range map[string]*specs.LinuxResources{
		"swap below limit":   mem(m128, nil, m64),
		"swap without limit": mem(nil, nil, m128),
		"negative limit":     mem(ptr[int64](-2), nil, nil),
		"unlimited memory":   mem(ptr[int64](-1), nil, m128),
	} {
		if props, err := resourceProperties(r, true, 252); err == nil {
			t.Errorf("%s: no error, %q", name, show(props))
		}
	}
}

func TestTasksMaxAndIO(t *testing.T) {
	pids := func(l *int64) *specs.LinuxResources { return &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: l}} }
	checkProps(t, "pids", pids(ptr[int64](32)), true, 252, "TasksMax=32")
	checkProps(t, "pids max", pids(ptr[int64](-1)), true, 252, "TasksMax="+inf)
	checkProps(t, "pids 0", pids(ptr[int64](0)), false, 252, "TasksMax=0")
	checkProps(t, "pids unset", pids(nil), true, 252)
	io := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}}
	checkProps(t, "io v2", io, true, 252, "IOWeight=4950")
	checkProps(t, "io v1", io, false, 252, "BlockIOWeight=500")
	checkProps(t, "nil", nil, true, 252)
}

func TestCpuset(t *testing.T) {
	for in, want := range map[string][]byte{
		"0":          {0x01},
		"0-2,5":      {0x27},
		"0-9":        {0xff, 0x03},
		"8":          {0x00, 0x01},
		" 1 , 3-4 ,": {0x1a},
	} {
		got, err := RangeToBits(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("RangeToBits(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ",", "a", "3-1", "1-", "-1"} {
		if got, err := RangeToBits(bad); err == nil {
			t.Errorf("RangeToBits(%q) = %x; want an error", bad, got)
		}
	}
	r := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0"}}
	checkProps(t, "cpuset", r, true, 252, "AllowedCPUs=[3]", "AllowedMemoryNodes=[1]")
	checkProps(t, "cpuset old systemd", r, true, 243)
	checkProps(t, "cpuset v1", r, false, 252)
}

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

func TestDevices(t *testing.T) {
	const W = wildcard
	rules := []specs.LinuxDeviceCgroup{
		dev(false, "a", W, W, "rwm"), // deny all
		dev(true, "c", 1, 3, "rwm"),  // /dev/null
		dev(true, "c", 1, 5, "rwm"),  // /dev/zero
		dev(true, "c", W, W, "m"),    // mknod any char
		dev(true, "b", W, W, "m"),    // mknod any block
		dev(true, "c", 136, W, "rw"), // pts
		dev(true, "b", 8, W, "r"),    // sd
		dev(false, "c", 1, 5, "w"),   // takes write away from /dev/zero
		dev(true, "c", W, 1, "r"),    // "*:1": systemd cannot say it
		dev(true, "c", 10, 200, "wr"),
		dev(false, "c", 10, 229, "rwm"), // deny of something never allowed
	}
	r := &specs.LinuxResources{Devices: rules}
	checkProps(t, "allow-list", r, true, 252,
		"DevicePolicy=strict", "DeviceAllow=[]",
		"DeviceAllow=[{block-* m} {block-8 r} {char-* m} {/dev/char/1:3 rwm} {/dev/char/1:5 rm} {/dev/char/10:200 rw} {char-136 rw}]")

	// Before systemd 240 a whole major is named by its driver.
	orig := procDevices
	defer func() { procDevices = orig }()
	procDevices = func() ([]byte, error) {
		return []byte("Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n"), nil
	}
	checkProps(t, "old systemd", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		dev(false, "a", W, W, ""), dev(true, "c", 136, W, "rwm"), dev(true, "b", 8, W, "rw"), dev(true, "c", 99, W, "rw"),
	}}, true, 239, "DevicePolicy=strict", "DeviceAllow=[]", "DeviceAllow=[{block-sd rw} {char-pts rwm}]")

	checkProps(t, "allow all", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(true, "a", W, W, "rwm")}}, true, 252,
		"DevicePolicy=auto", "DeviceAllow=[]")
	checkProps(t, "empty type is all", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(false, "", W, W, "rwm"), dev(true, "", W, W, "")}}, false, 252,
		"DevicePolicy=auto", "DeviceAllow=[]")
	// A deny-list systemd cannot express: deny everything (the safe side).
	checkProps(t, "deny-list", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(true, "a", W, W, "rwm"), dev(false, "c", 1, 3, "w")}}, true, 252,
		"DevicePolicy=strict", "DeviceAllow=[]")
	// Denying what was allowed again makes it allow-all once more.
	checkProps(t, "deny-list undone", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		dev(true, "a", W, W, "rwm"), dev(false, "c", 1, 3, "w"), dev(true, "c", 1, 3, "w"),
	}}, true, 252, "DevicePolicy=auto", "DeviceAllow=[]")
	// Nothing allowed at all.
	checkProps(t, "deny all", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(false, "a", W, W, "rwm")}}, true, 252,
		"DevicePolicy=strict", "DeviceAllow=[]", "DeviceAllow=[]")
	// No device rules: leave DevicePolicy alone.
	checkProps(t, "no rules", &specs.LinuxResources{Devices: nil}, true, 252)

	for _, bad := range [][]specs.LinuxDeviceCgroup{
		{dev(true, "x", 1, 3, "rwm")},
		{dev(true, "c", 1, 3, "rwx")},
		{{Allow: true, Type: "c", Major: ptr[int64](-5), Minor: ptr[int64](3), Access: "r"}},
	} {
		if props, err := resourceProperties(&specs.LinuxResources{Devices: bad}, true, 252); err == nil {
			t.Errorf("%+v: no error, %q", bad, show(props))
		}
	}
}

func TestUnified(t *testing.T) {
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)},
		Unified: map[string]string{
			"memory.max":  "max",
			"memory.high": "1048576",
			"pids.max":    "10",
			"cpu.weight":  "50",
			"cpu.max":     "50000 100000",
			"cpuset.cpus": "1",
			"io.max":      "8:0 rbps=1",
		},
	}
	checkProps(t, "unified", r, true, 252,
		"MemoryMax=1048576", // from memory.limit, overridden by the unified value
		"CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=500000", "CPUWeight=50", "AllowedCPUs=[2]",
		"MemoryHigh=1048576", "MemoryMax="+inf, "TasksMax=10")
	checkProps(t, "unified on v1 is ignored", &specs.LinuxResources{Unified: map[string]string{"pids.max": "10"}}, false, 252)
	checkProps(t, "cpu.max max", &specs.LinuxResources{Unified: map[string]string{"cpu.max": "max"}}, true, 252, "CPUQuotaPerSecUSec="+inf)
	for _, kv := range []string{"memory.max=lots", "pids.max=-1", "cpu.max=0 100000", "cpu.max=100 x", "cpu.weight=x", "cpuset.mems=a"} {
		k, v, _ := strings.Cut(kv, "=")
		if props, err := resourceProperties(&specs.LinuxResources{Unified: map[string]string{k: v}}, true, 252); err == nil {
			t.Errorf("unified %s: no error, %q", kv, show(props))
		}
	}
}

func TestBaseProperties(t *testing.T) {
	got := show(baseProperties("podrun-abc.scope", "system.slice", 42, true))
	want := []string{
		"Description=podrun container podrun-abc", "Slice=system.slice", "Delegate=true", "PIDs=[42]",
		"MemoryAccounting=true", "CPUAccounting=true", "IOAccounting=true", "TasksAccounting=true", "DefaultDependencies=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("scope v2:\n got  %q\n want %q", got, want)
	}
	got = show(baseProperties("a-b.slice", "a.slice", 0, false))
	want = []string{
		"Description=podrun container a-b", "Wants=[a.slice]",
		"MemoryAccounting=true", "CPUAccounting=true", "BlockIOAccounting=true", "TasksAccounting=true", "DefaultDependencies=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("slice v1:\n got  %q\n want %q", got, want)
	}
}
