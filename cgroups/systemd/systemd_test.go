package systemd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/internal/testutil"
)

// requiresSystemd skips unless the test runs as root on a host booted
// with systemd whose system bus answers (run-in-vm --init systemd).
func requiresSystemd(t *testing.T) {
	t.Helper()
	testutil.RequiresRoot(t)
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err != nil {
		t.Skip("skipping systemd cgroup driver test: no system D-Bus socket at /run/dbus/system_bus_socket (run it under `run-in-vm --init systemd`)")
	}
	if comm, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(comm)) != "systemd" {
		t.Skipf("skipping systemd cgroup driver test: PID 1 is %q, not systemd (run it under `run-in-vm --init systemd`)", strings.TrimSpace(string(comm)))
	}
}

func randName(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func systemctl(args ...string) (string, error) {
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func unitProp(t *testing.T, unit, prop string) string {
	t.Helper()
	out, err := systemctl("show", "--value", "-p", prop, unit)
	if err != nil {
		t.Fatalf("systemctl show -p %s %s: %v: %s", prop, unit, err, out)
	}
	return out
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// limitFiles names the memory and pids limit files of the manager's
// cgroup on this host.
func limitFiles(t *testing.T, paths map[string]string) (mem, pids string) {
	t.Helper()
	if d, ok := paths[cgroups.UnifiedKey]; ok && cgroups.IsV2() {
		return filepath.Join(d, "memory.max"), filepath.Join(d, "pids.max")
	}
	if paths["memory"] == "" || paths["pids"] == "" {
		t.Fatalf("no memory or pids hierarchy in %v", paths)
	}
	return filepath.Join(paths["memory"], "memory.limit_in_bytes"), filepath.Join(paths["pids"], "pids.max")
}

// checkGone checks that the unit and its cgroup directories are gone.
func checkGone(t *testing.T, unit string, paths map[string]string) {
	t.Helper()
	if out, err := systemctl("status", "--no-pager", unit); err == nil {
		t.Errorf("systemctl status %s succeeded after Destroy:\n%s", unit, out)
	}
	// A transient scope is unloaded at once; a slice may stay loaded,
	// inactive, until systemd collects it.
	if s := unitProp(t, unit, "ActiveState"); s != "inactive" {
		t.Errorf("unit %s: ActiveState %q after Destroy, want inactive", unit, s)
	}
	if s := unitProp(t, unit, "LoadState"); s != "not-found" && strings.HasSuffix(unit, ".scope") {
		t.Errorf("unit %s: LoadState %q after Destroy, want not-found", unit, s)
	}
	for k, d := range paths {
		if k == UnitKey {
			continue
		}
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Destroy (%v)", d, err)
		}
	}
}

func TestScope(t *testing.T) {
	requiresSystemd(t)
	name := randName(t)
	m, err := New("system.slice:podrun-test:"+name, "id")
	if err != nil {
		t.Fatal(err)
	}
	unit := "podrun-test-" + name + ".scope"
	if got := m.(*Manager).Unit(); got != unit {
		t.Fatalf("unit %q, want %q", got, unit)
	}
	paths := m.Paths()
	t.Logf("paths %v", paths)
	if err := m.Create(); err != nil { // nothing for a scope
		t.Fatal(err)
	}
	if _, err := m.CgroupFD(); !errors.Is(err, cgroups.ErrNoCgroupFD) {
		t.Fatalf("CgroupFD: %v, want ErrNoCgroupFD", err)
	}
	// Set before Apply: the scope starts with these limits.
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](32)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			m.Destroy()
		}
	})
	start := time.Now()
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	t.Logf("Apply took %v", time.Since(start))

	// The process is in the scope, in every hierarchy.
	own := readTrim(t, "/proc/"+strconv.Itoa(pid)+"/cgroup")
	for _, line := range strings.Split(own, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[2] != "/system.slice/"+unit && (parts[1] == "" || strings.Contains(parts[1], "memory") || strings.Contains(parts[1], "pids") || parts[1] == "name=systemd") {
			t.Errorf("/proc/%d/cgroup: %q, want the cgroup /system.slice/%s", pid, line, unit)
		}
	}
	if s := unitProp(t, unit, "ActiveState"); s != "active" {
		t.Errorf("ActiveState %q", s)
	}
	if s := unitProp(t, unit, "Delegate"); s != "yes" {
		t.Errorf("Delegate %q", s)
	}
	if s := unitProp(t, unit, "Slice"); s != "system.slice" {
		t.Errorf("Slice %q", s)
	}
	memFile, pidsFile := limitFiles(t, paths)
	if v := readTrim(t, memFile); v != strconv.Itoa(64<<20) {
		t.Errorf("%s = %s, want %d", memFile, v, 64<<20)
	}
	if v := readTrim(t, pidsFile); v != "32" {
		t.Errorf("%s = %s, want 32", pidsFile, v)
	}
	if v := unitProp(t, unit, "TasksMax"); v != "32" {
		t.Errorf("TasksMax %s, want 32", v)
	}
	if cgroups.IsV2() {
		if v := unitProp(t, unit, "MemoryMax"); v != strconv.Itoa(64<<20) {
			t.Errorf("MemoryMax %s", v)
		}
		if v := unitProp(t, unit, "CPUWeight"); v != strconv.FormatUint(CPUSharesToWeight(512), 10) {
			t.Errorf("CPUWeight %s", v)
		}
		if v := readTrim(t, filepath.Join(paths[cgroups.UnifiedKey], "cpu.max")); v != "50000 100000" {
			t.Errorf("cpu.max %q", v)
		}
	} else if v := unitProp(t, unit, "MemoryLimit"); v != strconv.Itoa(64<<20) {
		t.Errorf("MemoryLimit %s", v)
	}

	// Device rules: systemd's DevicePolicy and DeviceAllow, then cgroupfs.
	err = m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		dev(false, "a", wildcard, wildcard, "rwm"),
		dev(true, "c", 1, 3, "rwm"),
		dev(true, "c", 136, wildcard, "rw"),
	}})
	if v := unitProp(t, unit, "DevicePolicy"); v != "strict" {
		t.Errorf("DevicePolicy %q", v)
	}
	// systemctl shows one entry a line, newest first.
	allow := strings.FieldsFunc(unitProp(t, unit, "DeviceAllow"), func(r rune) bool { return r == '\n' || r == ',' })
	for i := range allow {
		allow[i] = strings.TrimSpace(allow[i])
	}
	slices.Sort(allow)
	if want := []string{"/dev/char/1:3 rwm", "char-136 rw"}; !slices.Equal(allow, want) {
		t.Errorf("DeviceAllow %q, want %q", allow, want)
	}
	var re *cgroups.ResourceError
	if errors.As(err, &re) && re.Field == "devices" {
		// The cgroupfs side (cgroups/devices) may not be there yet.
		t.Logf("device rules through cgroupfs: %v", err)
	} else if err != nil {
		t.Errorf("Set devices: %v", err)
	} else if d := paths["devices"]; d != "" {
		list := readTrim(t, filepath.Join(d, "devices.list"))
		if !strings.Contains(list, "c 1:3 rwm") || !strings.Contains(list, "c 136:* rw") || strings.Contains(list, "a *:* rwm") {
			t.Errorf("devices.list:\n%s", list)
		}
	}
	procs, err := m.Procs()
	if err != nil || !slices.Contains(procs, pid) {
		t.Errorf("Procs() = %v, %v; want %d in it", procs, err, pid)
	}

	// The name is taken: a second manager cannot start it again.
	other := startSleep(t)
	m2, err := New("system.slice:podrun-test:"+name, "id")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Apply(other.Process.Pid); err == nil {
		t.Error("Apply of a running scope's name succeeded")
	} else {
		t.Logf("Apply of a taken name: %v", err)
	}

	// A later process: Load from the saved paths, update, destroy.
	lm, err := Load(paths, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := lm.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](64)}}); err != nil {
		t.Fatal(err)
	}
	if v := readTrim(t, pidsFile); v != "64" {
		t.Errorf("after Set: %s = %s, want 64", pidsFile, v)
	}
	if v := unitProp(t, unit, "TasksMax"); v != "64" {
		t.Errorf("after Set: TasksMax %s, want 64", v)
	}
	destroyed = true
	start = time.Now()
	if err := lm.Destroy(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Destroy took %v", time.Since(start))
	cmd.Wait() // stopping the scope killed sleep
	checkGone(t, unit, paths)
	if err := lm.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestNestedSlice puts a scope in a kubelet-style slice that does not
// exist yet: systemd makes the slices on the way.
func TestNestedSlice(t *testing.T) {
	requiresSystemd(t)
	name := randName(t)
	pod := "podruntest-burstable-pod" + name + ".slice"
	m, err := New(pod+":cri-containerd:"+name, "id")
	if err != nil {
		t.Fatal(err)
	}
	unit := "cri-containerd-" + name + ".scope"
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Destroy()
		systemctl("stop", pod, "podruntest-burstable.slice", "podruntest.slice")
	})
	want := "/podruntest.slice/podruntest-burstable.slice/" + pod + "/" + unit
	own := readTrim(t, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/cgroup")
	if !strings.Contains(own, ":"+want+"\n") && !strings.HasSuffix(own, ":"+want) {
		t.Errorf("/proc/pid/cgroup:\n%s\nwant %s", own, want)
	}
	for k, d := range m.Paths() {
		if k != UnitKey && !strings.HasSuffix(d, want) {
			t.Errorf("path %s=%s, want .../%s", k, d, want)
		}
		if k != UnitKey {
			if _, err := os.Stat(d); err != nil {
				t.Error(err)
			}
		}
	}
	if s := unitProp(t, pod, "ActiveState"); s != "active" {
		t.Errorf("%s: ActiveState %q", pod, s)
	}
	paths := m.Paths()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, unit, paths)
}

// TestSliceUnit makes a slice unit (a name ending in .slice) with Create.
func TestSliceUnit(t *testing.T) {
	requiresSystemd(t)
	name := "podruntest-" + randName(t) + ".slice"
	m, err := New("podruntest.slice::"+name, "id")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Destroy()
		systemctl("stop", "podruntest.slice")
	})
	if s := unitProp(t, name, "ActiveState"); s != "active" {
		t.Errorf("ActiveState %q", s)
	}
	if v := unitProp(t, name, "TasksMax"); v != "100" {
		t.Errorf("TasksMax %s", v)
	}
	if err := m.Apply(os.Getpid()); err == nil {
		t.Error("Apply to a slice unit succeeded")
	}
	paths := m.Paths()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, name, paths)
}

// TestScopeNameReuse destroys a scope whose processes are dead already
// (the runtime kills first) and starts one of the same name again.
func TestScopeNameReuse(t *testing.T) {
	requiresSystemd(t)
	name := randName(t)
	for i := 0; i < 2; i++ {
		m, err := New(":podrun-test:"+name, "id")
		if err != nil {
			t.Fatal(err)
		}
		cmd := startSleep(t)
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		cmd.Process.Kill()
		cmd.Wait()
		if err := m.Destroy(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		checkGone(t, "podrun-test-"+name+".scope", m.Paths())
	}
}
