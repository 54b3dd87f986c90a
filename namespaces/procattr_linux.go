package namespaces

import (
	"github.com/podrun/podrun/procattr"
)

// applyProcAttrs sets the personality, scheduler and I/O priority of this
// thread, which the exec'd process keeps. It
// runs before prepareProcess drops the capabilities a real-time policy or
// I/O class needs; an unset attribute costs nothing.
func applyProcAttrs(pl *Plan) error {
	if err := procattr.ApplyPersonality(pl.Personality); err != nil {
		return err
	}
	if err := procattr.ApplyScheduler(pl.Scheduler); err != nil {
		return err
	}
	return procattr.ApplyIOPriority(pl.IOPriority)
}
