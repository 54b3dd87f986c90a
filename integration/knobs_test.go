package integration

// Tests of the kernel knobs of a container process: personality, time
// namespace offsets, scheduler, I/O priority, exec CPU affinity, and the
// LSM labels and Intel RDT where the host has them (clear errors where it
// does not). Helpers start with "knobs".

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/intelrdt"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/lsm"
)

// knobsRun runs args in a new container (spec edited first) in the
// foreground and returns its standard output.
func knobsRun(h *H, edit func(*Spec), args ...string) string {
	h.t.Helper()
	return h.Must("run", "--bundle", coreBundle(h, edit, args...), h.ID()).Stdout
}

// knobsSched parses `checker sched`.
func knobsSched(t *testing.T, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("checker sched: bad line %q in %q", line, out)
		}
		m[k] = n
	}
	return m
}

// knobsProcessFile writes an exec --process file running args.
func knobsProcessFile(t *testing.T, edit func(*specs.Process), args ...string) string {
	t.Helper()
	p := specs.Process{Args: args, Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/"}
	if edit != nil {
		edit(&p)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func knobsAddNS(s *Spec, t specs.LinuxNamespaceType) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
}

// TestKnobsPersonality: LINUX32 makes uname report a 32-bit machine, in the
// init and in exec'd processes; LINUX leaves it alone.
func TestKnobsPersonality(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the i686 expectation is for x86-64 hosts")
	}
	h := New(t)
	linux32 := func(s *Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32} }
	if got := strings.TrimSpace(knobsRun(h, linux32, "uname", "-m")); got != "i686" {
		t.Errorf("LINUX32: uname -m = %q, want i686", got)
	}
	linux := func(s *Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux} }
	if got := strings.TrimSpace(knobsRun(h, linux, "uname", "-m")); got != "x86_64" {
		t.Errorf("LINUX: uname -m = %q, want x86_64", got)
	}
	id, _ := coreSleeper(h, linux32)
	if got := strings.TrimSpace(h.Must("exec", id, "uname", "-m").Stdout); got != "i686" {
		t.Errorf("exec in a LINUX32 container: uname -m = %q, want i686", got)
	}
}

// knobsUptime parses the first field of /proc/uptime.
func knobsUptime(t *testing.T, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("bad /proc/uptime %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("bad /proc/uptime %q", s)
	}
	return v
}

func knobsHostUptime(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	return knobsUptime(t, string(b))
}

// TestKnobsTimeOffsets: the offsets are in place before the init enters
// the new time namespace (/proc/uptime shows the boottime one), exec'd
// processes join it, and the init's namespace has both offsets.
func TestKnobsTimeOffsets(t *testing.T) {
	if _, err := os.Stat("/proc/self/timens_offsets"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	h := New(t)
	const boot, mono = 10 * 86400, 20 * 86400
	withOffsets := func(s *Spec) {
		knobsAddNS(s, specs.TimeNamespace)
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"boottime": {Secs: boot}, "monotonic": {Secs: mono, Nanosecs: 5},
		}
	}
	// Inside = host boottime + offset: bounded by the host's uptime read
	// before and after (the same clock, so no timing slack is needed).
	inBounds := func(what string, inside, before, after float64) {
		t.Helper()
		if inside-boot < before-0.01 || inside-boot > after+0.01 {
			t.Errorf("%s: uptime %.2f, want %d + [%.2f, %.2f]", what, inside, boot, before, after)
		}
	}
	before := knobsHostUptime(t)
	out := knobsRun(h, withOffsets, "cat", "/proc/uptime")
	inBounds("init", knobsUptime(t, out), before, knobsHostUptime(t))

	id, pid := coreSleeper(h, withOffsets)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/timens_offsets")
	if err != nil {
		t.Fatal(err)
	}
	have := strings.Join(strings.Fields(string(b)), " ")
	for _, want := range []string{"monotonic " + strconv.Itoa(mono) + " 5", "boottime " + strconv.Itoa(boot) + " 0"} {
		if !strings.Contains(have, want) {
			t.Errorf("init's timens_offsets %q lacks %q", b, want)
		}
	}
	before = knobsHostUptime(t)
	out = h.Must("exec", id, "cat", "/proc/uptime").Stdout
	inBounds("exec", knobsUptime(t, out), before, knobsHostUptime(t))

	// A time namespace without offsets keeps the host's clocks.
	plain := func(s *Spec) { knobsAddNS(s, specs.TimeNamespace) }
	before = knobsHostUptime(t)
	got := knobsUptime(t, knobsRun(h, plain, "cat", "/proc/uptime"))
	if got < before-0.01 || got > knobsHostUptime(t)+0.01 {
		t.Errorf("time namespace without offsets: uptime %.2f, host %.2f", got, before)
	}
}

// TestKnobsTimeOffsetsUserNS: with a new user namespace the time namespace
// is made (and owned) inside it; exec joins time, then user namespace.
func TestKnobsTimeOffsetsUserNS(t *testing.T) {
	if _, err := os.Stat("/proc/self/timens_offsets"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	h := New(t)
	const boot = 3 * 86400
	withOffsets := func(s *Spec) {
		knobsAddNS(s, specs.TimeNamespace)
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: boot}}
	}
	check := func(what, out string, before float64) {
		t.Helper()
		got, after := knobsUptime(t, out), knobsHostUptime(t)
		if got-boot < before-0.01 || got-boot > after+0.01 {
			t.Errorf("%s: uptime %.2f, want %d + [%.2f, %.2f]", what, got, boot, before, after)
		}
	}
	before := knobsHostUptime(t)
	out := h.Must("run", "--bundle", coreUserNSBundle(h, withOffsets, "cat", "/proc/uptime"), h.ID()).Stdout
	check("init", out, before)

	id := h.ID()
	pid := h.RunDetached(coreUserNSBundle(h, withOffsets, testimage.CheckerInRootfs, "sleep"), id)
	if got, host := coreNS(t, pid, "time"), coreNS(t, "self", "time"); got == host {
		t.Errorf("init's time namespace is the host's %s", host)
	}
	before = knobsHostUptime(t)
	check("exec", h.Must("exec", id, "cat", "/proc/uptime").Stdout, before)
}

// TestKnobsScheduler: the policy and nice value hold inside, for the init
// and for an exec'd process.
func TestKnobsScheduler(t *testing.T) {
	h := New(t)
	for _, c := range []struct {
		s                   specs.Scheduler
		policy, nice, flags int
	}{
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}, 3, 7, 0},
		{specs.Scheduler{Policy: specs.SchedIdle}, 5, 0, 0},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -5}, 0, -5, 0},
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 3, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, 3, 3, 1},
	} {
		s := c.s
		got := knobsSched(t, knobsRun(h, func(sp *Spec) { sp.Process.Scheduler = &s }, testimage.CheckerInRootfs, "sched"))
		if got["policy"] != c.policy || got["nice"] != c.nice || got["flags"] != c.flags {
			t.Errorf("%+v: policy %d nice %d flags %d, want %d %d %d", c.s, got["policy"], got["nice"], got["flags"], c.policy, c.nice, c.flags)
		}
	}
	// SCHED_DEADLINE: the locked init thread takes it and execs; Go makes
	// its threads from another one, so the init does not need to fork.
	// Admission control may refuse it (restricted cpusets): then skip.
	dl := &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 10e6, Period: 100e6,
		Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
	r := h.Run("run", "--bundle", coreBundle(h, func(sp *Spec) { sp.Process.Scheduler = dl }, testimage.CheckerInRootfs, "sched"), h.ID())
	switch {
	case r.Code != 0 && strings.Contains(r.Stderr, "process.scheduler: sched_setattr SCHED_DEADLINE"):
		t.Logf("SCHED_DEADLINE refused here: %s", r.Stderr)
	case r.Code != 0:
		t.Errorf("SCHED_DEADLINE: exit %d: %s", r.Code, r.Stderr)
	default:
		if got := knobsSched(t, r.Stdout); got["policy"] != 6 || got["flags"] != 1 {
			t.Errorf("SCHED_DEADLINE: policy %d flags %d, want 6 1", got["policy"], got["flags"])
		}
	}

	id, _ := coreSleeper(h, nil)
	file := knobsProcessFile(t, func(p *specs.Process) {
		p.Scheduler = &specs.Scheduler{Policy: specs.SchedIdle}
	}, "checker", "sched")
	if got := knobsSched(t, h.Must("exec", "--process", file, id).Stdout); got["policy"] != 5 {
		t.Errorf("exec with SCHED_IDLE: policy %d, want 5", got["policy"])
	}
	// An exec without a scheduler of its own takes the container's (none here).
	if got := knobsSched(t, h.Must("exec", id, "checker", "sched").Stdout); got["policy"] != 0 {
		t.Errorf("plain exec: policy %d, want 0 (SCHED_OTHER)", got["policy"])
	}
}

// TestKnobsIOPriority: class and level hold inside.
func TestKnobsIOPriority(t *testing.T) {
	h := New(t)
	for _, c := range []struct {
		p            specs.LinuxIOPriority
		class, level int
	}{
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}, 2, 6},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 0}, 3, 0},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 3}, 1, 3},
	} {
		p := c.p
		got := knobsSched(t, knobsRun(h, func(s *Spec) { s.Process.IOPriority = &p }, testimage.CheckerInRootfs, "sched"))
		if got["ioclass"] != c.class || got["iolevel"] != c.level {
			t.Errorf("%+v: class %d level %d, want %d %d", c.p, got["ioclass"], got["iolevel"], c.class, c.level)
		}
	}
	id, _ := coreSleeper(h, nil)
	file := knobsProcessFile(t, func(p *specs.Process) {
		p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 1}
	}, "checker", "sched")
	if got := knobsSched(t, h.Must("exec", "--process", file, id).Stdout); got["ioclass"] != 2 || got["iolevel"] != 1 {
		t.Errorf("exec: class %d level %d, want 2 1", got["ioclass"], got["iolevel"])
	}
}

// knobsCpusAllowed returns Cpus_allowed_list from a /proc/PID/status text.
func knobsCpusAllowed(t *testing.T, status string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in %q", status)
	return ""
}

// TestKnobsExecCPUAffinity: final is the exec'd process's affinity; with
// only initial, the process gets every CPU of its cgroup back.
func TestKnobsExecCPUAffinity(t *testing.T) {
	h := New(t)
	id, pid := coreSleeper(h, nil)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	all := knobsCpusAllowed(t, string(b))
	if all != "0-1" && !strings.HasPrefix(all, "0-") {
		t.Skipf("the container may run on CPUs %q; the test needs 0 and 1", all)
	}
	for _, c := range []struct {
		a    specs.CPUAffinity
		want string
	}{
		{specs.CPUAffinity{Final: "1"}, "1"},
		{specs.CPUAffinity{Initial: "0", Final: "1"}, "1"},
		{specs.CPUAffinity{Final: "0"}, "0"},
		{specs.CPUAffinity{Initial: "1"}, all},
	} {
		a := c.a
		file := knobsProcessFile(t, func(p *specs.Process) { p.ExecCPUAffinity = &a }, "cat", "/proc/self/status")
		if got := knobsCpusAllowed(t, h.Must("exec", "--process", file, id).Stdout); got != c.want {
			t.Errorf("%+v: Cpus_allowed_list %q, want %q", c.a, got, c.want)
		}
	}
	file := knobsProcessFile(t, func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Final: "3-1"} }, "true")
	h.Fails(`process.execCPUAffinity.final: invalid CPU list: "3-1"`, "exec", "--process", file, id)
}

// TestKnobsErrors: each bad or unavailable knob is a one-line error naming
// the field, and create leaves nothing behind.
func TestKnobsErrors(t *testing.T) {
	h := New(t)
	host := lsm.Host{}
	cases := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"offsets without time ns", func(s *Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
		}, "linux.timeOffsets: requires a time namespace in linux.namespaces"},
		{"offsets of realtime", func(s *Spec) {
			knobsAddNS(s, specs.TimeNamespace)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, "linux.timeOffsets.realtime: unknown clock"},
		{"personality", func(s *Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"}
		}, `linux.personality.domain: unknown domain "LINUX64"`},
		{"scheduler priority", func(s *Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Priority: 3}
		}, "process.scheduler.priority: only meaningful for SCHED_FIFO and SCHED_RR"},
		{"scheduler deadline fields", func(s *Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Runtime: 100}
		}, "process.scheduler: runtime, deadline and period are only meaningful for SCHED_DEADLINE"},
		{"io priority", func(s *Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}, "process.ioPriority.priority: 9 is outside [0, 7]"},
	}
	if !host.AppArmorEnabled() {
		cases = append(cases, struct {
			name string
			edit func(*Spec)
			want string
		}{"apparmor", func(s *Spec) { s.Process.ApparmorProfile = "podrun-test" },
			"process.apparmorProfile: AppArmor is not enabled on this host"})
	}
	if !host.SELinuxEnabled() {
		cases = append(cases, []struct {
			name string
			edit func(*Spec)
			want string
		}{
			{"selinux", func(s *Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
				"process.selinuxLabel: SELinux is not enabled on this host"},
			{"mount label", func(s *Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" },
				"linux.mountLabel: SELinux is not enabled on this host"},
		}...)
	}
	if _, err := intelrdt.HostMountpoint(); err != nil {
		cases = append(cases, struct {
			name string
			edit func(*Spec)
			want string
		}{"intelRdt", func(s *Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=ff"} },
			"linux.intelRdt: no resctrl filesystem is mounted"})
	}
	for _, c := range cases {
		bundle := coreBundle(h, c.edit, "true")
		h.Fails(c.want, "run", "--bundle", bundle, h.ID())
	}
	AssertClean(t, h.Root)

	// exec: the labels of --apparmor / --process-label are checked too.
	id, _ := coreSleeper(h, nil)
	if !host.AppArmorEnabled() {
		h.Fails("process.apparmorProfile: AppArmor is not enabled on this host", "exec", "--apparmor", "podrun-test", id, "true")
	}
	if !host.SELinuxEnabled() {
		h.Fails("process.selinuxLabel: SELinux is not enabled on this host", "exec", "--process-label", "system_u:system_r:container_t:s0", id, "true")
	}
	file := knobsProcessFile(t, func(p *specs.Process) {
		p.Scheduler = &specs.Scheduler{Policy: "SCHED_ISO"}
	}, "true")
	h.Fails("process.scheduler.policy: SCHED_ISO is not implemented by the Linux kernel", "exec", "--process", file, id)
}

// TestKnobsFeatures: features says the LSMs and RDT are compiled in.
func TestKnobsFeatures(t *testing.T) {
	h := New(t)
	var f struct {
		Linux struct {
			Apparmor, Selinux struct{ Enabled *bool }
			IntelRdt          struct{ Enabled, Schemata, Monitoring *bool }
		}
	}
	if err := json.Unmarshal([]byte(h.Must("features").Stdout), &f); err != nil {
		t.Fatal(err)
	}
	l := f.Linux
	for name, b := range map[string]*bool{"apparmor": l.Apparmor.Enabled, "selinux": l.Selinux.Enabled,
		"intelRdt": l.IntelRdt.Enabled, "intelRdt.schemata": l.IntelRdt.Schemata, "intelRdt.monitoring": l.IntelRdt.Monitoring} {
		if b == nil || !*b {
			t.Errorf("features: linux.%s.enabled not true", name)
		}
	}
}

// knobsProfile denies reading /etc/passwd and allows the rest.
const knobsProfile = `abi <abi/3.0>,
profile podrun-test-knobs flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  unix,
  signal,
  ptrace,
  mount,
  umount,
  pivot_root,
  deny /etc/passwd r,
}
`

// knobsSecurityfs mounts securityfs when the kernel has AppArmor enabled
// but nothing mounted it (the throw-away VMs of ../shared/vm boot a busybox
// init); a real host has it mounted already.
func knobsSecurityfs(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || len(b) == 0 || b[0] != 'Y' {
		return
	}
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err == nil {
		return
	}
	if err := unix.Mount("securityfs", "/sys/kernel/security", "securityfs", 0, ""); err != nil {
		t.Logf("mounting securityfs: %v", err)
		return
	}
	t.Cleanup(func() { _ = unix.Unmount("/sys/kernel/security", unix.MNT_DETACH) })
}

// TestKnobsAppArmor loads a test profile and checks that the container
// process runs confined by it (and the denial), then unloads it.
func TestKnobsAppArmor(t *testing.T) {
	h := New(t)
	knobsSecurityfs(t)
	if !(lsm.Host{}).AppArmorEnabled() {
		t.Skip("AppArmor is not enabled on this host")
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Skip("apparmor_parser missing (scripts/install-deps.sh installs apparmor)")
	}
	file := filepath.Join(t.TempDir(), "podrun-test-knobs")
	if err := os.WriteFile(file, []byte(knobsProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(parser, "-r", "-W", file).CombinedOutput(); err != nil {
		t.Fatalf("loading the test profile: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(parser, "-R", file).CombinedOutput(); err != nil {
			t.Errorf("unloading the test profile: %v\n%s", err, out)
		}
	})
	confined := func(s *Spec) { s.Process.ApparmorProfile = "podrun-test-knobs" }
	out := knobsRun(h, confined, "cat", "/proc/self/attr/current")
	if got := strings.TrimRight(out, "\x00\n"); got != "podrun-test-knobs (enforce)" {
		t.Errorf("/proc/self/attr/current = %q, want podrun-test-knobs (enforce)", got)
	}
	r := h.Run("run", "--bundle", coreBundle(h, confined, "cat", "/etc/passwd"), h.ID())
	if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "ermission denied") {
		t.Errorf("reading /etc/passwd under the profile: exit %d, output %q %q; want a denial", r.Code, r.Stdout, r.Stderr)
	}
	// The same read is allowed unconfined, so the denial is the profile's.
	knobsRun(h, nil, "cat", "/etc/passwd")

	id, _ := coreSleeper(h, nil)
	out = h.Must("exec", "--apparmor", "podrun-test-knobs", id, "cat", "/proc/self/attr/current").Stdout
	if got := strings.TrimRight(out, "\x00\n"); got != "podrun-test-knobs (enforce)" {
		t.Errorf("exec --apparmor: attr/current = %q", got)
	}
	h.Must("delete", "--force", id)

	// A profile the kernel does not know fails create, leaving nothing.
	missing := func(s *Spec) { s.Process.ApparmorProfile = "podrun-test-no-such-profile" }
	h.Fails(`process.apparmorProfile: setting exec label "exec podrun-test-no-such-profile"`,
		"create", "--bundle", coreBundle(h, missing, "true"), h.ID())
	AssertClean(t, h.Root)
}
