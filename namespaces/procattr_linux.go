package namespaces

import (
	"github.com/podrun/podrun/procattr"
)

// applyProcAttrs sets the personality, scheduler, I/O priority and (exec)
// final CPU affinity of this thread, which the exec'd process keeps. It
// runs before prepareProcess drops the capabilities a real-time policy or
// I/O class needs; an unset attribute costs nothing.
func applyProcAttrs(pl *Plan) error {
	if err := procattr.ApplyPersonality(pl.Personality); err != nil {
		return err
	}
	if err := procattr.ApplyScheduler(pl.Scheduler); err != nil {
		return err
	}
	if err := procattr.ApplyIOPriority(pl.IOPriority); err != nil {
		return err
	}
	if pl.Kind == KindExec {
		return procattr.ApplyFinalAffinity(pl.ExecCPUAffinity)
	}
	return nil
}
