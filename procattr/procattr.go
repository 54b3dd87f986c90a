// Package procattr validates and applies the kernel scheduling attributes of
// a container process: scheduler policy (sched_setattr), I/O priority
// (ioprio_set), CPU affinity and execution personality. Validation runs in
// the CLI before anything exists; the Apply functions run on the init's
// locked thread just before exec, and do nothing for an unset attribute;
// exec hands the same values (SchedAttr, IOPrio, Personality,
// FinalAffinity) to its C helper (namespaces/nsenter).
package procattr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Linux scheduling policies (sched(7)); SCHED_ISO is reserved but was never
// merged into mainline, so it is refused rather than failing at exec time.
var policies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther:    0,
	specs.SchedFIFO:     1,
	specs.SchedRR:       2,
	specs.SchedBatch:    3,
	specs.SchedIdle:     5,
	specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork:  unix.SCHED_FLAG_RESET_ON_FORK,
	specs.SchedFlagReclaim:      unix.SCHED_FLAG_RECLAIM,
	specs.SchedFlagDLOverrun:    unix.SCHED_FLAG_DL_OVERRUN,
	specs.SchedFlagKeepPolicy:   unix.SCHED_FLAG_KEEP_POLICY,
	specs.SchedFlagKeepParams:   unix.SCHED_FLAG_KEEP_PARAMS,
	specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
	specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
}

// ValidateScheduler checks process.scheduler as the spec and sched(7)
// define it; field is the prefix of the error ("process.scheduler").
func ValidateScheduler(s *specs.Scheduler, field string) error {
	if s == nil {
		return nil
	}
	if s.Policy == "" {
		return fmt.Errorf("%s.policy: is required", field)
	}
	if s.Policy == specs.SchedISO {
		return fmt.Errorf("%s.policy: SCHED_ISO is not implemented by the Linux kernel", field)
	}
	if _, ok := policies[s.Policy]; !ok {
		return fmt.Errorf("%s.policy: unknown policy %q", field, s.Policy)
	}
	if s.Nice < -20 || s.Nice > 19 {
		return fmt.Errorf("%s.nice: %d is outside [-20, 19]", field, s.Nice)
	}
	rt := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case rt && (s.Priority < 1 || s.Priority > 99):
		return fmt.Errorf("%s.priority: %d is outside [1, 99] for %s", field, s.Priority, s.Policy)
	case !rt && s.Priority != 0:
		return fmt.Errorf("%s.priority: only meaningful for SCHED_FIFO and SCHED_RR, not %s", field, s.Policy)
	}
	if s.Policy == specs.SchedDeadline {
		period := s.Period
		if period == 0 {
			period = s.Deadline
		}
		if s.Runtime == 0 || s.Runtime > s.Deadline || s.Deadline > period {
			return fmt.Errorf("%s: SCHED_DEADLINE needs 0 < runtime <= deadline <= period (got %d, %d, %d)",
				field, s.Runtime, s.Deadline, s.Period)
		}
	} else if s.Runtime != 0 || s.Deadline != 0 || s.Period != 0 {
		return fmt.Errorf("%s: runtime, deadline and period are only meaningful for SCHED_DEADLINE, not %s", field, s.Policy)
	}
	for i, f := range s.Flags {
		if _, ok := schedFlags[f]; !ok {
			return fmt.Errorf("%s.flags[%d]: unknown flag %q", field, i, f)
		}
	}
	return nil
}

// SchedAttr converts a validated scheduler to the sched_setattr argument.
func SchedAttr(s *specs.Scheduler) *unix.SchedAttr {
	a := &unix.SchedAttr{
		Policy:   policies[s.Policy],
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		a.Flags |= schedFlags[f]
	}
	return a
}

// ApplyScheduler sets the calling thread's scheduling attributes.
func ApplyScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if err := unix.SchedSetAttr(0, SchedAttr(s), 0); err != nil {
		return fmt.Errorf("process.scheduler: sched_setattr %s: %w", s.Policy, err)
	}
	return nil
}

// I/O priority classes and the encoding of ioprio_set(2).
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
)

var ioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

// ValidateIOPriority checks process.ioPriority.
func ValidateIOPriority(p *specs.LinuxIOPriority, field string) error {
	if p == nil {
		return nil
	}
	if _, ok := ioClasses[p.Class]; !ok {
		return fmt.Errorf("%s.class: unknown class %q", field, p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return fmt.Errorf("%s.priority: %d is outside [0, 7]", field, p.Priority)
	}
	return nil
}

// IOPrio returns the ioprio_set value of a validated priority.
func IOPrio(p *specs.LinuxIOPriority) int {
	return ioClasses[p.Class]<<ioprioClassShift | p.Priority
}

// ApplyIOPriority sets the calling thread's I/O priority.
func ApplyIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(IOPrio(p))); e != 0 {
		return fmt.Errorf("process.ioPriority: ioprio_set %s %d: %w", p.Class, p.Priority, e)
	}
	return nil
}

// personality(2) domains the spec allows.
var domains = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

// ValidatePersonality checks linux.personality; the spec defines no flags.
func ValidatePersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if _, ok := domains[p.Domain]; !ok {
		return fmt.Errorf("linux.personality.domain: unknown domain %q", p.Domain)
	}
	if len(p.Flags) > 0 {
		return fmt.Errorf("linux.personality.flags: unknown flag %q (the spec defines none)", p.Flags[0])
	}
	return nil
}

// ApplyPersonality sets the execution domain, which survives the exec.
func ApplyPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(Personality(p)), 0, 0); e != 0 {
		return fmt.Errorf("linux.personality: %w", e)
	}
	return nil
}

// Personality is the personality(2) argument of a validated
// linux.personality.
func Personality(p *specs.LinuxPersonality) uint { return uint(domains[p.Domain]) }

// errCPUList is wrapped by ParseCPUList errors.
var errCPUList = errors.New("invalid CPU list")

// ParseCPUList parses a list like "0-3,7" into a CPU set.
func ParseCPUList(s string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty", errCPUList)
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%w: %q", errCPUList, part)
		}
		if b >= len(set)*64 {
			return nil, fmt.Errorf("%w: CPU %d is beyond %d", errCPUList, b, len(set)*64-1)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return &set, nil
}

// ValidateAffinity checks process.execCPUAffinity.
func ValidateAffinity(a *specs.CPUAffinity, field string) error {
	if a == nil {
		return nil
	}
	if a.Initial != "" {
		if _, err := ParseCPUList(a.Initial); err != nil {
			return fmt.Errorf("%s.initial: %w", field, err)
		}
	}
	if a.Final != "" {
		if _, err := ParseCPUList(a.Final); err != nil {
			return fmt.Errorf("%s.final: %w", field, err)
		}
	}
	return nil
}

// FinalAffinity is the affinity a process takes once in the container's
// cgroup: execCPUAffinity.final, or with only an initial set every CPU
// (the kernel intersects the mask with the cpuset), so the process does
// not stay on the CPUs meant for its start-up; nil: leave it.
func FinalAffinity(a *specs.CPUAffinity) (*unix.CPUSet, error) {
	switch {
	case a == nil || (a.Initial == "" && a.Final == ""):
		return nil, nil
	case a.Final != "":
		set, err := ParseCPUList(a.Final)
		if err != nil {
			return nil, fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
		return set, nil
	}
	set := new(unix.CPUSet)
	for i := range set {
		set[i] = ^set[i]
	}
	return set, nil
}
