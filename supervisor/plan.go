package supervisor

import "github.com/podrun/podrun/pod/manifest"

// CtrView is one container as NextActions sees it: its status and what
// the loop holds of it.
type CtrView struct {
	Role   Role
	Status *manifest.ContainerStatus
	// Active: a run exists. Pending: a restart (or a retried create)
	// waits out its back-off.
	Active, Pending bool
	// PostStartPending: its run's postStart hook runs still (the run does
	// not count as started yet).
	PostStartPending bool
}

// Actions is what the loop does next.
type Actions struct {
	// Complete: the app and regular init containers are done for good
	// while a sidecar is still active: the sidecars are stopped and the
	// pod completes.
	Complete bool
	// Start are the containers to start now (indexes into the views):
	// the next init container, or the app containers never started yet.
	Start []int
}

// NextActions is the pod's plan, kubelet's computePodActions for podrun:
// from the pod's policy and phase and its containers (init containers
// first, in spec order), what to start or whether to complete. It decides
// nothing about a pod being stopped (the loop starts nothing then) nor
// about restarts (ShouldRestart, after an exit).
func NextActions(policy manifest.RestartPolicy, phase manifest.PodPhase, cs []CtrView) Actions {
	var inits, apps []manifest.ContainerStatus
	var sidecars []bool
	sidecarActive := false
	for _, c := range cs {
		if c.Role == RoleApp {
			apps = append(apps, *c.Status)
			continue
		}
		inits = append(inits, *c.Status)
		sidecars = append(sidecars, c.Role == RoleSidecar)
		sidecarActive = sidecarActive || (c.Role == RoleSidecar && (c.Active || c.Pending))
	}
	if sidecarActive && AppsFinished(policy, inits, apps, sidecars) {
		return Actions{Complete: true}
	}
	if Terminal(phase) {
		return Actions{}
	}
	var progress []InitProgress
	appsStarted := false
	for _, c := range cs {
		s := c.Status
		ever := c.Active || c.Pending || s.RestartCount > 0 ||
			s.State.Terminated != nil || s.LastTerminationState.Terminated != nil
		if c.Role == RoleApp {
			appsStarted = appsStarted || ever
			continue
		}
		t := s.State.Terminated
		progress = append(progress, InitProgress{
			Sidecar: c.Role == RoleSidecar,
			Ever:    ever,
			Started: c.Active && !c.PostStartPending && s.State.Running != nil &&
				s.Started != nil && *s.Started,
			Succeeded: t != nil && t.ExitCode == 0,
		})
	}
	next, initialized := NextInit(progress, appsStarted)
	if next >= 0 {
		return Actions{Start: []int{next}} // init containers come first
	}
	if !initialized {
		return Actions{}
	}
	var start []int
	for i, c := range cs {
		s := c.Status
		if c.Role != RoleApp || c.Active || c.Pending {
			continue
		}
		if s.State.Waiting != nil && s.LastTerminationState.Terminated == nil && s.RestartCount == 0 {
			start = append(start, i)
		}
	}
	return Actions{Start: start}
}
