package namespaces

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/procattr"
)

// applyProcAttrs sets the personality, scheduler, I/O priority and (exec)
// final CPU affinity of this thread, which the exec'd process keeps. It
// runs before prepareProcess drops the capabilities a real-time policy or
// I/O class needs; an unset attribute costs nothing.
func applyProcAttrs(cfg *InitConfig) error {
	p := cfg.Process
	pers := cfg.Personality
	if pers == nil {
		pers = personalityOf(cfg.Spec)
	}
	if err := procattr.ApplyPersonality(pers); err != nil {
		return err
	}
	if err := procattr.ApplyScheduler(p.Scheduler); err != nil {
		return err
	}
	if err := procattr.ApplyIOPriority(p.IOPriority); err != nil {
		return err
	}
	if cfg.Kind == KindExec {
		return procattr.ApplyFinalAffinity(p.ExecCPUAffinity)
	}
	return nil
}

// personalityOf returns linux.personality of a spec, nil when unset.
func personalityOf(s *specs.Spec) *specs.LinuxPersonality {
	if s == nil || s.Linux == nil {
		return nil
	}
	return s.Linux.Personality
}
