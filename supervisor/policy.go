package supervisor

import "github.com/podrun/podrun/pod/manifest"

// Role is what a container is to the pod: its restart rule, its place in
// the start and stop order and whether it counts towards the phase.
type Role int

const (
	RoleApp     Role = iota // spec.containers
	RoleInit                // an init container that runs to completion
	RoleSidecar             // an init container with restartPolicy Always
)

// RoleOf is c's role; init says c is in spec.initContainers.
func RoleOf(c *manifest.Container, init bool) Role {
	switch {
	case !init:
		return RoleApp
	case c.Sidecar():
		return RoleSidecar
	}
	return RoleInit
}

// ShouldRestart is kubelet's decision for a container that exited with
// exitCode. App containers follow the pod's restartPolicy; init containers
// must complete, so a successful one is never restarted and a failed one
// is retried unless the policy is Never (kubelet treats Always as
// OnFailure for them); a sidecar is restarted whatever it exited with and
// whatever the pod's policy (kubelet's computeInitContainerActions).
func ShouldRestart(policy manifest.RestartPolicy, role Role, exitCode int) bool {
	switch role {
	case RoleSidecar:
		return true
	case RoleInit:
		return exitCode != 0 && policy != manifest.RestartPolicyNever
	}
	switch policy {
	case manifest.RestartPolicyNever:
		return false
	case manifest.RestartPolicyOnFailure:
		return exitCode != 0
	default: // Always, and the empty default
		return true
	}
}

// InitProgress is one init container as NextInit sees it.
type InitProgress struct {
	Sidecar bool
	// Ever: it has been started (it runs, waits for a restart, or ran).
	Ever bool
	// Started: it runs and its startup probe, if any, succeeded.
	Started bool
	// Succeeded: its last run exited 0.
	Succeeded bool
}

// NextInit is the order of kubelet's computeInitContainerActions: the
// init container to start now (-1: none) and whether the pod is
// initialized (its app containers may start). Init containers start one
// at a time, in order: the next one once the latest one completed (a
// regular init container) or started, its startup probe passed (a
// sidecar). appsStarted: an app container has run, so the pod was
// initialized before and stays so whatever its sidecars do now.
func NextInit(inits []InitProgress, appsStarted bool) (next int, initialized bool) {
	if appsStarted {
		return -1, true
	}
	last := -1
	for i := len(inits) - 1; i >= 0; i-- {
		if inits[i].Ever {
			last = i
			break
		}
	}
	if last < 0 {
		if len(inits) == 0 {
			return -1, true
		}
		return 0, false
	}
	s := inits[last]
	if (s.Sidecar && !s.Started) || (!s.Sidecar && !s.Succeeded) {
		return -1, false // running, failed or restarting: wait
	}
	if last == len(inits)-1 {
		return -1, true
	}
	return last + 1, false
}

// StopView is one container as SidecarToStop sees it while the pod stops.
type StopView struct {
	Role     Role
	Active   bool // a run exists
	Signaled bool // its stop signal was sent (or is on its way)
}

// SidecarToStop is kubelet's termination order for sidecars: they are
// stopped after every app and init container has exited, one by one, the
// last in the spec first. It returns the sidecar whose turn it is now, or
// -1 (others still run, or the current one has not exited yet).
func SidecarToStop(cs []StopView) int {
	for _, c := range cs {
		if c.Role != RoleSidecar && c.Active {
			return -1
		}
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if c := cs[i]; c.Role == RoleSidecar && c.Active {
			if c.Signaled {
				return -1
			}
			return i
		}
	}
	return -1
}
