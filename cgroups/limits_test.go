// limits_test.go tests Set, Stats, the freezer and OOM events on real
// cgroups of this host (root).

package cgroups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testutil"
)

// newCtrManager makes, as root, a manager (not created) for a fresh
// absolute cgroup /podrun-test-<rand>/ctr (absolute: on v2 its parent is a
// cgroup of our own without processes, where controllers can be enabled),
// whose directories are removed at the end of the test. name is the
// parent's.
func newCtrManager(t *testing.T) (m Manager, name string) {
	t.Helper()
	testutil.RequiresRoot(t)
	name = testName(t)
	m, err := New("/"+name+"/ctr", "unused")
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroups(t, m.Paths(), name)
	return m, name
}

// newLimitManager is newCtrManager's cgroup, created, with its processes
// killed and the cgroup destroyed at the end of the test.
func newLimitManager(t *testing.T) Manager {
	t.Helper()
	m, _ := newCtrManager(t)
	t.Cleanup(func() {
		killAll(m)
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}

func killAll(m Manager) {
	_ = m.Thaw()
	pids, _ := m.Procs()
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

// startIn starts args with stdin held, moves it into m's cgroup, then
// lets it go (it should begin by reading a line from stdin).
func startIn(t *testing.T, m Manager, args []string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killAll(m) // children too: they may hold the output pipe
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// dirOf returns the directory holding the v1 controller's files, or the
// v2 cgroup directory.
func dirOf(t *testing.T, m Manager, ctrl string) string {
	t.Helper()
	p := m.Paths()
	if IsV2() {
		return p[UnifiedKey]
	}
	d, ok := p[ctrl]
	if !ok {
		t.Skipf("the %s controller is not mounted", ctrl)
	}
	return d
}

func readBack(t *testing.T, dir, file string) string {
	t.Helper()
	s, err := readTrim(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blockDevice finds a whole block device (loop devices do) for io.max.
func blockDevice(t *testing.T) (int64, int64) {
	t.Helper()
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "dev"))
		if err != nil {
			continue
		}
		maj, min, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
		a, err1 := strconv.ParseInt(maj, 10, 64)
		c, err2 := strconv.ParseInt(min, 10, 64)
		if err1 == nil && err2 == nil {
			return a, c
		}
	}
	t.Skip("no block device")
	return 0, 0
}

// TestSetReadBack sets what this host supports and reads the files back.
func TestSetReadBack(t *testing.T) {
	m := newLimitManager(t)
	maj, min := blockDevice(t)
	dev := specs.LinuxBlockIODevice{Major: maj, Minor: min}
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](96 << 20), Reservation: ptr[int64](32 << 20), Kernel: ptr[int64](-1)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](42)},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}}, ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}}},
	}
	if IsV2() {
		r.Unified = map[string]string{"memory.high": "104857600"}
	} else {
		r.Memory.Swappiness = ptr[uint64](10)
	}
	memDir := dirOf(t, m, "memory")
	hasBurst := fileExists(dirOf(t, m, "cpu"), "cpu.cfs_burst_us") || fileExists(dirOf(t, m, "cpu"), "cpu.max.burst")
	hasIdle := fileExists(dirOf(t, m, "cpu"), "cpu.idle")
	hasSwap := fileExists(memDir, "memory.memsw.limit_in_bytes") || fileExists(memDir, "memory.swap.max")
	if IsV2() {
		// Before Set, the controllers are not enabled: probe the parent.
		ctrls := wordSet(filepath.Join(filepath.Dir(memDir), "cgroup.controllers"))
		hasSwap = ctrls["memory"]
		hasBurst, hasIdle = true, true // Linux 5.15 and later
	}
	if !hasSwap {
		r.Memory.Swap = nil
	}
	if hasBurst {
		r.CPU.Burst = ptr[uint64](10000)
	}
	if hasIdle {
		r.CPU.Idle = ptr[int64](0)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	type file struct{ ctrl, name, want string }
	var want []file
	if IsV2() {
		parent := filepath.Dir(memDir)
		sub := wordSet(filepath.Join(parent, "cgroup.subtree_control"))
		for _, c := range []string{"memory", "cpu", "cpuset", "pids", "io"} {
			if !sub[c] {
				t.Errorf("%s not enabled in %s/cgroup.subtree_control", c, parent)
			}
		}
		if sub["hugetlb"] || sub["rdma"] {
			t.Errorf("controllers enabled that no limit needs: %v", sub)
		}
		want = []file{
			{"", "memory.max", "67108864"}, {"", "memory.low", "33554432"}, {"", "memory.high", "104857600"},
			{"", "cpu.weight", "20"}, {"", "cpu.max", "50000 100000"}, {"", "cpuset.cpus", "0"}, {"", "cpuset.mems", "0"},
			{"", "pids.max", "42"}, {"", "io.max", fmt.Sprintf("%d:%d rbps=1048576 wbps=max riops=max wiops=100", maj, min)},
		}
		if r.Memory.Swap != nil {
			want = append(want, file{"", "memory.swap.max", "33554432"})
		}
		if r.CPU.Burst != nil {
			want = append(want, file{"", "cpu.max.burst", "10000"})
		}
	} else {
		want = []file{
			{"memory", "memory.limit_in_bytes", "67108864"}, {"memory", "memory.soft_limit_in_bytes", "33554432"}, {"memory", "memory.swappiness", "10"},
			{"cpu", "cpu.shares", "512"}, {"cpu", "cpu.cfs_quota_us", "50000"}, {"cpu", "cpu.cfs_period_us", "100000"},
			{"cpuset", "cpuset.cpus", "0"}, {"cpuset", "cpuset.mems", "0"}, {"pids", "pids.max", "42"},
			{"blkio", "blkio.throttle.read_bps_device", fmt.Sprintf("%d:%d 1048576", maj, min)},
			{"blkio", "blkio.throttle.write_iops_device", fmt.Sprintf("%d:%d 100", maj, min)},
		}
		if r.Memory.Swap != nil {
			want = append(want, file{"memory", "memory.memsw.limit_in_bytes", "100663296"})
		}
		if r.CPU.Burst != nil {
			want = append(want, file{"cpu", "cpu.cfs_burst_us", "10000"})
		}
	}
	if r.CPU.Idle != nil {
		want = append(want, file{"cpu", "cpu.idle", "0"})
	}
	for _, f := range want {
		if got := readBack(t, dirOf(t, m, f.ctrl), f.name); got != f.want {
			t.Errorf("%s = %q, want %q", f.name, got, f.want)
		}
	}

	// An update: lower memory+swap below the old limit (v1 must order
	// the writes), period alone keeps the quota.
	up := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](16 << 20), Swap: ptr[int64](24 << 20)},
		CPU:    &specs.LinuxCPU{Period: ptr[uint64](200000)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](-1)},
	}
	if !hasSwap {
		up.Memory.Swap = nil
	}
	if err := m.Set(up); err != nil {
		t.Fatal(err)
	}
	if IsV2() {
		want = []file{{"", "memory.max", "16777216"}, {"", "cpu.max", "50000 200000"}, {"", "pids.max", "max"}}
		if hasSwap {
			want = append(want, file{"", "memory.swap.max", "8388608"})
		}
	} else {
		want = []file{{"memory", "memory.limit_in_bytes", "16777216"}, {"cpu", "cpu.cfs_quota_us", "50000"}, {"cpu", "cpu.cfs_period_us", "200000"}, {"pids", "pids.max", "max"}}
		if hasSwap {
			want = append(want, file{"memory", "memory.memsw.limit_in_bytes", "25165824"})
		}
	}
	for _, f := range want {
		if got := readBack(t, dirOf(t, m, f.ctrl), f.name); got != f.want {
			t.Errorf("after update: %s = %q, want %q", f.name, got, f.want)
		}
	}
	// And raising both again (swap first on v1).
	if hasSwap {
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20), Swap: ptr[int64](-1)}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Pids.Limit != 0 {
		t.Errorf("Stats pids.limit = %d after -1, want 0 (no limit)", s.Pids.Limit)
	}
}

// TestSetErrors: errors from the kernel or a missing controller name
// their field, on one line.
func TestSetErrors(t *testing.T) {
	m := newLimitManager(t)
	check := func(err error, field string) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources."+field+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("got %v, want one line naming linux.resources.%s", err, field)
			return
		}
		t.Log(err)
	}
	// A shell holding a 4 MB string, charged to the cgroup (on v2, once
	// a memory limit has enabled the controller).
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](512 << 20)}}); err != nil {
		t.Fatal(err)
	}
	startIn(t, m, []string{"sh", "-c", "read x; a=$(head -c 4000000 /dev/zero | tr '\\0' x); echo ready; sleep 600"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Memory.Usage.Usage > 4<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("memory usage stays at %d", s.Memory.Usage.Usage)
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), CheckBeforeUpdate: ptr(true)}}), "memory.limit")
	check(m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-4095"}}), "cpu.cpus")
	if IsV2() {
		check(m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](1)}}), "memory.swappiness")
		check(m.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}), "network.classID")
		check(m.Set(&specs.LinuxResources{Unified: map[string]string{"nonesuch.max": "1"}}), `unified["nonesuch.max"]`)
		check(m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.nonesuch": "1"}}), `unified["memory.nonesuch"]`)
		check(m.Set(&specs.LinuxResources{Unified: map[string]string{"pids.max": "lots"}}), `unified["pids.max"]`)
		// A cgroup holding processes cannot pass controllers on.
		sub, err := Load(map[string]string{UnifiedKey: filepath.Join(m.Paths()[UnifiedKey], "sub")})
		if err != nil {
			t.Fatal(err)
		}
		// (pids is a threaded controller, exempt from the rule: memory is not.)
		check(sub.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}), "memory")
		sub.Destroy()
	} else {
		check(m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}), "unified")
		// v1 refuses a limit below usage by itself.
		check(m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096)}}), "memory.limit")
		if _, ok := m.Paths()["net_cls"]; !ok {
			check(m.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}), "network.classID")
		}
	}
}

// TestPidsLimit: forks beyond pids.limit fail.
func TestPidsLimit(t *testing.T) {
	m := newLimitManager(t)
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](4)}}); err != nil {
		t.Fatal(err)
	}
	cmd, out := startIn(t, m, []string{"sh", "-c", "read x; i=0; while [ $i -lt 10 ]; do sleep 600 >/dev/null 2>&1 & i=$((i+1)); done; echo started all"})
	err := cmd.Wait()
	t.Logf("sh: %v: %s", err, bytes.TrimSpace(out.Bytes()))
	if err == nil || strings.Contains(out.String(), "started all") || !strings.Contains(strings.ToLower(out.String()), "fork") {
		t.Errorf("sh started 10 children under pids.limit 4: %v: %s", err, out)
	}
	procs, _ := m.Procs()
	if len(procs) > 4 {
		t.Errorf("%d processes in the cgroup, limit 4", len(procs))
	}
	n, err := keyValue(filepath.Join(dirOf(t, m, "pids"), "pids.events"), "max")
	if err != nil || n == 0 {
		t.Errorf("pids.events max = %d, %v; want > 0", n, err)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Pids.Limit != 4 || s.Pids.Current != uint64(len(procs)) {
		t.Errorf("Stats pids = %+v, want limit 4, current %d", s.Pids, len(procs))
	}
}

// TestHelperHog is not a test: re-executed with PODRUN_TEST_HOG=1, it
// waits for a line on stdin, then allocates memory until killed.
func TestHelperHog(t *testing.T) {
	if os.Getenv("PODRUN_TEST_HOG") != "1" {
		t.Skip("helper process")
	}
	os.Stdin.Read(make([]byte, 16))
	var keep [][]byte
	for i := 0; i < 1024; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep), "MiB")
	os.Exit(3)
}

// TestMemoryOOM: a hog over memory.limit is OOM-killed, and OOMKillCount
// and NotifyOOM see it; NotifyOOM's channel closes with the cgroup.
func TestMemoryOOM(t *testing.T) {
	m := newLimitManager(t)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](32 << 20)}}
	if d := dirOf(t, m, "memory"); !IsV2() && !fileExists(d, "memory.memsw.limit_in_bytes") {
		r.Memory.Swap = nil
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.NotifyOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Fatalf("OOMKillCount before = %d, %v", n, err)
	}
	cmd, out := startIn(t, m, []string{os.Args[0], "-test.run=^TestHelperHog$"}, "PODRUN_TEST_HOG=1")
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog: %v, want killed by SIGKILL: %s", err, out)
	}
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("NotifyOOM channel closed without an event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM event within 10s")
	}
	n, err := m.OOMKillCount()
	if err != nil || n < 1 {
		t.Errorf("OOMKillCount = %d, %v; want >= 1", n, err)
	}
	t.Logf("oom_kill %d", n)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Limit != 32<<20 || s.Memory.Usage.Max == 0 && !IsV2() {
		t.Errorf("Stats memory usage = %+v", s.Memory.Usage)
	}
	// The cgroup goes: the channel closes.
	killAll(m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if ok {
				continue // a late event
			}
			return
		case <-deadline:
			t.Fatal("NotifyOOM channel still open 5s after Destroy")
		}
	}
}

// TestNotifyOOMCancel: the channel closes when ctx ends.
func TestNotifyOOMCancel(t *testing.T) {
	m := newLimitManager(t)
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := m.NotifyOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event without an OOM")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel still open 5s after cancel")
	}
}

// TestCPUQuota: a busy loop under a 10% quota is throttled.
func TestCPUQuota(t *testing.T) {
	m := newLimitManager(t)
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000), Period: ptr[uint64](100000)}}); err != nil {
		t.Fatal(err)
	}
	startIn(t, m, []string{"sh", "-c", "read x; while :; do :; done"})
	time.Sleep(700 * time.Millisecond)
	st := (&statReader{}).keyed(dirOf(t, m, "cpu"), "cpu.stat")
	if st["nr_throttled"] == 0 {
		t.Errorf("cpu.stat: nr_throttled 0 after a busy loop under a 10%% quota: %v", st)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Throttling.ThrottledPeriods == 0 || s.CPU.Usage.Total == 0 {
		t.Errorf("Stats cpu = %+v", s.CPU)
	}
	// 10% of one CPU over 0.7 s is 70 ms; allow for the period edges.
	if s.CPU.Usage.Total > uint64(300*time.Millisecond) {
		t.Errorf("used %v of CPU in 0.7 s under a 10%% quota", time.Duration(s.CPU.Usage.Total))
	}
	b, _ := json.Marshal(s)
	t.Logf("stats: %s", b)
}

// cpuTicks returns utime+stime of pid and its state letter.
func cpuTicks(t *testing.T, pid int) (uint64, string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s, f[0]
}

// TestFreeze: a frozen busy loop gets no CPU time; thawed, it runs again.
func TestFreeze(t *testing.T) {
	m := newLimitManager(t)
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() before = %v, %v", frozen, err)
	}
	cmd, _ := startIn(t, m, []string{"sh", "-c", "read x; while :; do :; done"})
	pid := cmd.Process.Pid
	time.Sleep(100 * time.Millisecond)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
	}
	t0, state := cpuTicks(t, pid)
	time.Sleep(500 * time.Millisecond)
	t1, _ := cpuTicks(t, pid)
	t.Logf("frozen: state %s, ticks %d -> %d", state, t0, t1)
	if t1 != t0 {
		t.Errorf("frozen process used %d ticks", t1-t0)
	}
	if err := m.Freeze(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
	}
	time.Sleep(500 * time.Millisecond)
	t2, state := cpuTicks(t, pid)
	t.Logf("thawed: state %s, ticks %d", state, t2)
	if t2 <= t1 {
		t.Errorf("thawed process used no CPU (%d ticks)", t2)
	}
}

// TestStatsSane: Stats of a cgroup with one process.
func TestStatsSane(t *testing.T) {
	m := newLimitManager(t)
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 << 20)}, Pids: &specs.LinuxPids{Limit: ptr[int64](100)}}); err != nil {
		t.Fatal(err)
	}
	startIn(t, m, []string{"sh", "-c", "read x; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 600"})
	time.Sleep(300 * time.Millisecond)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(s, "", " ")
	if s.Pids.Current != 1 || s.Pids.Limit != 100 {
		t.Errorf("pids = %+v", s.Pids)
	}
	if s.Memory.Usage.Usage == 0 || s.Memory.Usage.Limit != 256<<20 || len(s.Memory.Raw) == 0 {
		t.Errorf("memory = %+v", s.Memory.Usage)
	}
	if !IsV2() {
		if _, ok := m.Paths()["cpuacct"]; ok && (s.CPU.Usage.Total == 0 || len(s.CPU.Usage.Percpu) == 0) {
			t.Errorf("cpu usage = %+v", s.CPU.Usage)
		}
	} else if s.CPU.Usage.Total == 0 {
		t.Errorf("cpu usage = %+v", s.CPU.Usage)
	}
	if s.Hugetlb == nil || s.NetworkInterfaces != nil {
		t.Errorf("hugetlb %v, network_interfaces %v", s.Hugetlb, s.NetworkInterfaces)
	}
	if testing.Verbose() {
		t.Logf("stats: %s", b)
	}
}

// TestSetDevices: Set hands linux.resources.devices to cgroups/devices
// (whose own tests check the effect).
func TestSetDevices(t *testing.T) {
	m := newLimitManager(t)
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	if !IsV2() {
		if got := readBack(t, dirOf(t, m, "devices"), "devices.list"); got != "c 1:3 rwm" {
			t.Errorf("devices.list = %q, want c 1:3 rwm", got)
		}
	}
	err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwx"}}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.devices[0].access") {
		t.Errorf("bad rule: %v", err)
	}
}
