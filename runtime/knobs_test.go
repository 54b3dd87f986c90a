package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/intelrdt"
	"github.com/podrun/podrun/lsm"
)

// The kernel knobs reach validateSpec (and exec's validateProcess) with
// one-line errors naming the field; valid settings pass.
func TestValidateKnobs(t *testing.T) {
	r := New(t.TempDir(), nil)
	timeNS := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	}
	type tc struct {
		name string
		edit func(*specs.Spec)
		want string // "" = valid
	}
	cases := []tc{
		{"scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5} }, ""},
		{"io priority", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE} }, ""},
		{"affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "0-1"} }, ""},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32} }, ""},
		{"time offsets", func(s *specs.Spec) {
			timeNS(s)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
		}, ""},
		{"bad scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_X"} }, `process.scheduler.policy: unknown policy "SCHED_X"`},
		{"bad io priority", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "X"} }, "process.ioPriority.class"},
		{"bad affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "a"} }, "process.execCPUAffinity.initial: invalid CPU list"},
		{"bad personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "X"} }, "linux.personality.domain"},
		{"offsets without ns", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
		}, "linux.timeOffsets: requires a time namespace"},
		{"bad rdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{MemBwSchema: "L3:0=1"} }, "linux.intelRdt.memBwSchema"},
	}
	host := lsm.Host{}
	if !host.AppArmorEnabled() {
		cases = append(cases, tc{"apparmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "p" }, "process.apparmorProfile: AppArmor is not enabled on this host"})
	}
	if !host.SELinuxEnabled() {
		cases = append(cases,
			tc{"selinux", func(s *specs.Spec) { s.Process.SelinuxLabel = "a:b:c:s0" }, "process.selinuxLabel: SELinux is not enabled on this host"},
			tc{"mount label", func(s *specs.Spec) { s.Linux.MountLabel = "a:b:c:s0" }, "linux.mountLabel: SELinux is not enabled on this host"})
	}
	if _, err := intelrdt.HostMountpoint(); err != nil {
		cases = append(cases, tc{"rdt without resctrl", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} },
			"linux.intelRdt: no resctrl filesystem is mounted"})
	}
	for _, c := range cases {
		s := validSpec()
		c.edit(s)
		err := r.validateSpec(s)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want it to start with %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
	}
	// exec --process is validated the same way, under "process".
	p := validSpec().Process
	p.Scheduler = &specs.Scheduler{Policy: specs.SchedIdle, Priority: 1}
	if err := r.validateProcess(p, "process"); err == nil || !strings.HasPrefix(err.Error(), "process.scheduler.priority:") {
		t.Errorf("exec process with a bad scheduler: %v", err)
	}
}
