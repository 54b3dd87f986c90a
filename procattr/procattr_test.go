package procattr

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateScheduler(t *testing.T) {
	for _, c := range []struct {
		s    specs.Scheduler
		want string // "" = valid
	}{
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -20}, ""},
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 19, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, ""},
		{specs.Scheduler{Policy: specs.SchedIdle}, ""},
		{specs.Scheduler{Policy: specs.SchedFIFO, Priority: 1}, ""},
		{specs.Scheduler{Policy: specs.SchedRR, Priority: 99}, ""},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10e6, Deadline: 30e6, Period: 100e6}, ""},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10e6, Deadline: 30e6}, ""},
		{specs.Scheduler{}, "process.scheduler.policy: is required"},
		{specs.Scheduler{Policy: "SCHED_FOO"}, `process.scheduler.policy: unknown policy "SCHED_FOO"`},
		{specs.Scheduler{Policy: specs.SchedISO}, "process.scheduler.policy: SCHED_ISO is not implemented"},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: 20}, "process.scheduler.nice: 20 is outside [-20, 19]"},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -21}, "process.scheduler.nice: -21"},
		{specs.Scheduler{Policy: specs.SchedBatch, Priority: 5}, "process.scheduler.priority: only meaningful for SCHED_FIFO and SCHED_RR"},
		{specs.Scheduler{Policy: specs.SchedFIFO}, "process.scheduler.priority: 0 is outside [1, 99] for SCHED_FIFO"},
		{specs.Scheduler{Policy: specs.SchedRR, Priority: 100}, "process.scheduler.priority: 100 is outside"},
		{specs.Scheduler{Policy: specs.SchedOther, Runtime: 1}, "process.scheduler: runtime, deadline and period are only meaningful for SCHED_DEADLINE"},
		{specs.Scheduler{Policy: specs.SchedIdle, Period: 1}, "only meaningful for SCHED_DEADLINE, not SCHED_IDLE"},
		{specs.Scheduler{Policy: specs.SchedDeadline}, "process.scheduler: SCHED_DEADLINE needs 0 < runtime <= deadline <= period"},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 40e6, Deadline: 30e6, Period: 100e6}, "SCHED_DEADLINE needs"},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10e6, Deadline: 300e6, Period: 100e6}, "SCHED_DEADLINE needs"},
		{specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_RESET_ON_FORK", "BOGUS"}}, `process.scheduler.flags[1]: unknown flag "BOGUS"`},
	} {
		err := ValidateScheduler(&c.s, "process.scheduler")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.s, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.s, err, c.want)
		}
	}
	if err := ValidateScheduler(nil, "x"); err != nil {
		t.Errorf("nil scheduler: %v", err)
	}
}

func TestSchedAttr(t *testing.T) {
	a := SchedAttr(&specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1, Deadline: 2, Period: 3,
		Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagReclaim}})
	if a.Policy != 6 || a.Runtime != 1 || a.Deadline != 2 || a.Period != 3 ||
		a.Flags != unix.SCHED_FLAG_RESET_ON_FORK|unix.SCHED_FLAG_RECLAIM {
		t.Errorf("deadline attr: %+v", a)
	}
	a = SchedAttr(&specs.Scheduler{Policy: specs.SchedBatch, Nice: -3})
	if a.Policy != 3 || a.Nice != -3 || a.Priority != 0 {
		t.Errorf("batch attr: %+v", a)
	}
	a = SchedAttr(&specs.Scheduler{Policy: specs.SchedRR, Priority: 42})
	if a.Policy != 2 || a.Priority != 42 {
		t.Errorf("rr attr: %+v", a)
	}
}

func TestIOPriority(t *testing.T) {
	for _, c := range []struct {
		p    specs.LinuxIOPriority
		val  int
		want string
	}{
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 0}, 1<<13 | 0, ""},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 7}, 2<<13 | 7, ""},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 3}, 3<<13 | 3, ""},
		{specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"}, 0, `process.ioPriority.class: unknown class "IOPRIO_CLASS_NONE"`},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}, 0, "process.ioPriority.priority: 8 is outside [0, 7]"},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: -1}, 0, "process.ioPriority.priority: -1"},
	} {
		err := ValidateIOPriority(&c.p, "process.ioPriority")
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.p, err)
			} else if got := IOPrio(&c.p); got != c.val {
				t.Errorf("%+v: ioprio %#x, want %#x", c.p, got, c.val)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.p, err, c.want)
		}
	}
}

func TestValidatePersonality(t *testing.T) {
	for _, c := range []struct {
		p    specs.LinuxPersonality
		want string
	}{
		{specs.LinuxPersonality{Domain: specs.PerLinux}, ""},
		{specs.LinuxPersonality{Domain: specs.PerLinux32}, ""},
		{specs.LinuxPersonality{Domain: "LINUX64"}, `linux.personality.domain: unknown domain "LINUX64"`},
		{specs.LinuxPersonality{}, `linux.personality.domain: unknown domain ""`},
		{specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"ADDR_NO_RANDOMIZE"}}, `linux.personality.flags: unknown flag "ADDR_NO_RANDOMIZE"`},
	} {
		err := ValidatePersonality(&c.p)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.p, err, c.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0":         {0},
		"0-3,7":     {0, 1, 2, 3, 7},
		" 1 , 3-4 ": {1, 3, 4},
		"1023":      {1023},
		"5-5,2,0-1": {0, 1, 2, 5},
	} {
		set, err := ParseCPUList(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if set.Count() != len(want) {
			t.Errorf("%q: %d CPUs, want %v", in, set.Count(), want)
		}
		for _, c := range want {
			if !set.IsSet(c) {
				t.Errorf("%q: CPU %d not set", in, c)
			}
		}
	}
	for _, in := range []string{"", "a", "1-", "-1", "3-1", "1,,2", "1024", "0-1024", "1.5"} {
		if _, err := ParseCPUList(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	err := ValidateAffinity(&specs.CPUAffinity{Initial: "0", Final: "2-1"}, "process.execCPUAffinity")
	if err == nil || !strings.HasPrefix(err.Error(), `process.execCPUAffinity.final: invalid CPU list: "2-1"`) {
		t.Errorf("bad final: %v", err)
	}
	err = ValidateAffinity(&specs.CPUAffinity{Initial: "x"}, "process.execCPUAffinity")
	if err == nil || !strings.HasPrefix(err.Error(), "process.execCPUAffinity.initial:") {
		t.Errorf("bad initial: %v", err)
	}
}

// Unset attributes must not touch the thread (and so cost nothing).
func TestApplyNil(t *testing.T) {
	if err := ApplyScheduler(nil); err != nil {
		t.Error(err)
	}
	if err := ApplyIOPriority(nil); err != nil {
		t.Error(err)
	}
	if err := ApplyPersonality(nil); err != nil {
		t.Error(err)
	}
}
