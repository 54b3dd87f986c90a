package supervisor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// Phase is kubelet's getPhase (pkg/kubelet/kubelet_pods.go): init
// containers first (a failed one with Never fails the pod, an unfinished
// one keeps it Pending), then the app containers' states. sidecars[i]
// says inits[i] is a sidecar (nil: none): one not yet started keeps the
// pod Pending, a running one counts as running, an exited one counts for
// nothing (the pod's verdict is its app containers'). final says no
// container will be started again (the pod is being stopped), which
// turns "restarting" into a verdict.
func Phase(policy manifest.RestartPolicy, inits, apps []manifest.ContainerStatus, sidecars []bool, final bool) manifest.PodPhase {
	pendingInit, failedInit := false, false
	var running, waiting, stopped, succeeded, unknown int
	for i, s := range inits {
		if i < len(sidecars) && sidecars[i] {
			switch {
			case s.State.Running != nil:
				if s.Started == nil || !*s.Started {
					pendingInit = pendingInit || !final
				}
				running++
			case s.State.Terminated != nil, s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			case s.State.Waiting != nil:
				pendingInit = pendingInit || !final
				waiting++
			default:
				pendingInit = pendingInit || !final
				unknown++
			}
			continue
		}
		switch {
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
		case s.State.Terminated != nil:
			if policy == manifest.RestartPolicyNever || final {
				failedInit = true
			} else {
				pendingInit = true
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil &&
			s.LastTerminationState.Terminated.ExitCode != 0 && final:
			failedInit = true
		default:
			pendingInit = true
		}
	}
	if failedInit {
		return manifest.PodFailed
	}
	if pendingInit {
		return manifest.PodPending
	}
	for _, s := range apps {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			// Restarting (e.g. in CrashLoopBackOff): counted stopped, as
			// kubelet does, with its last exit.
			stopped++
			if s.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	switch {
	case waiting > 0 && final:
		// Stopped before every container ran: it did not complete.
		return manifest.PodFailed
	case waiting > 0:
		return manifest.PodPending
	case running > 0 && unknown == 0:
		return manifest.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if !final && policy != manifest.RestartPolicyNever && (policy != manifest.RestartPolicyOnFailure || stopped != succeeded) {
			// Always, or OnFailure with a failure: restarting.
			return manifest.PodRunning
		}
		if stopped == succeeded {
			return manifest.PodSucceeded
		}
		return manifest.PodFailed
	}
	return manifest.PodPending
}

// AppsFinished says the pod's app and regular init containers are done
// for good (the phase they alone give is terminal): its sidecars are then
// stopped and the pod completes (kubelet's computePodActions kills a pod
// whose containers will not run again, not restarting its sidecars).
func AppsFinished(policy manifest.RestartPolicy, inits, apps []manifest.ContainerStatus, sidecars []bool) bool {
	var regular []manifest.ContainerStatus
	for i, s := range inits {
		if i >= len(sidecars) || !sidecars[i] {
			regular = append(regular, s)
		}
	}
	return Terminal(Phase(policy, regular, apps, nil, false))
}

// Terminal says phase never changes again.
func Terminal(p manifest.PodPhase) bool {
	return p == manifest.PodSucceeded || p == manifest.PodFailed
}

// NextPhase keeps a terminal phase terminal (kubelet never moves a pod
// back from Succeeded or Failed).
func NextPhase(old, computed manifest.PodPhase) manifest.PodPhase {
	if Terminal(old) {
		return old
	}
	return computed
}

// ConditionInput is what the pod conditions are computed from.
type ConditionInput struct {
	SandboxReady bool
	Phase        manifest.PodPhase
	Inits, Apps  []manifest.ContainerStatus
	Sidecars     []bool // Sidecars[i]: Inits[i] is a sidecar (nil: none)
}

// Conditions returns the pod's five conditions, keeping each one's
// lastTransitionTime from old unless its status changed (kubelet's
// status manager does the same), and setting now for changed ones.
func Conditions(old []manifest.PodCondition, in ConditionInput, now time.Time) []manifest.PodCondition {
	completed := in.Phase == manifest.PodSucceeded
	failed := in.Phase == manifest.PodFailed
	var conds []manifest.PodCondition
	add := func(t manifest.PodConditionType, ok bool, reason, msg string) {
		st := manifest.ConditionFalse
		if ok {
			st = manifest.ConditionTrue
			// A true condition has no reason, but for a completed pod's
			// Initialized (kubelet's GeneratePodInitializedCondition).
			if reason != "PodCompleted" {
				reason = ""
			}
			msg = ""
		}
		conds = append(conds, manifest.PodCondition{Type: t, Status: st, Reason: reason, Message: msg})
	}
	add(manifest.PodScheduled, true, "", "")
	add(manifest.PodReadyToStartContainers, in.SandboxReady, "", "")

	// Initialized (kubelet's GeneratePodInitializedCondition): every
	// regular init container completed and every sidecar started, or an
	// app container ran already (the pod was initialized; a sidecar
	// restarting now does not undo that).
	var incomplete []string
	appStarted := false
	for _, s := range in.Apps {
		appStarted = appStarted || s.State.Running != nil || s.State.Terminated != nil
	}
	for i, s := range in.Inits {
		if appStarted {
			break
		}
		if in.sidecar(i) {
			if s.Started == nil || !*s.Started {
				incomplete = append(incomplete, s.Name)
			}
			continue
		}
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			incomplete = append(incomplete, s.Name)
		}
	}
	if completed {
		add(manifest.PodInitialized, true, "PodCompleted", "")
	} else {
		add(manifest.PodInitialized, len(incomplete) == 0, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")))
	}

	// ContainersReady counts the sidecars (first, as kubelet lists them)
	// and the app containers.
	var unready []string
	for i, s := range in.Inits {
		if in.sidecar(i) && !s.Ready {
			unready = append(unready, s.Name)
		}
	}
	for _, s := range in.Apps {
		if !s.Ready {
			unready = append(unready, s.Name)
		}
	}
	ready := len(unready) == 0 && len(incomplete) == 0 && in.Phase == manifest.PodRunning
	reason, msg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	// A terminal pod's readiness is false with the phase as the reason,
	// whatever its containers last reported (kubelet's
	// generateContainersReadyConditionForTerminalPhase): a failed pod's
	// containers may still be terminating.
	if completed {
		ready, reason, msg = false, "PodCompleted", ""
	} else if failed {
		ready, reason, msg = false, "PodFailed", ""
	} else if len(incomplete) > 0 {
		reason, msg = "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))
	}
	add(manifest.ContainersReady, ready, reason, msg)
	add(manifest.PodReady, ready, reason, msg)

	for i := range conds {
		c := &conds[i]
		c.LastTransitionTime = manifest.NewTime(now)
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status && o.LastTransitionTime != nil {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return conds
}

func (in *ConditionInput) sidecar(i int) bool { return i < len(in.Sidecars) && in.Sidecars[i] }

// Condition returns the condition t of s, or nil.
func Condition(s *manifest.PodStatus, t manifest.PodConditionType) *manifest.PodCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// ExitReason is the terminated reason kubelet reports.
func ExitReason(exitCode int, oomKilled bool) string {
	switch {
	case oomKilled:
		return manifest.ReasonOOMKilled
	case exitCode == 0:
		return manifest.ReasonCompleted
	default:
		return manifest.ReasonError
	}
}

// BackOffMessage is kubelet's CrashLoopBackOff waiting message.
func BackOffMessage(delay time.Duration, ctr string, p *manifest.Pod) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
		delay, ctr, p.Metadata.Name, p.Metadata.Namespace, p.Metadata.UID)
}

// Sidecars says which of p's init containers are sidecars (the []bool
// Phase, Conditions and the display functions take).
func Sidecars(p *manifest.Pod) []bool {
	out := make([]bool, len(p.Spec.InitContainers))
	for i := range p.Spec.InitContainers {
		out[i] = p.Spec.InitContainers[i].Sidecar()
	}
	return out
}

func isSidecar(sidecars []bool, i int) bool { return i < len(sidecars) && sidecars[i] }

// ReadyCount returns ready and total containers (pod ls's READY, kubectl's
// printPod): the app containers and the sidecars; a sidecar counts ready
// once started and ready, an app container once running and ready.
func ReadyCount(s *manifest.PodStatus, sidecars []bool) (ready, total int) {
	for i, c := range s.InitContainerStatuses {
		if isSidecar(sidecars, i) {
			total++
			if c.Ready && c.Started != nil && *c.Started {
				ready++
			}
		}
	}
	for _, c := range s.ContainerStatuses {
		if c.Ready && c.State.Running != nil {
			ready++
		}
	}
	return ready, total + len(s.ContainerStatuses)
}

// Restarts returns the total restart count and the time of the last
// restart (zero when none), as kubectl's RESTARTS column: once the pod is
// initialized, the app containers' and sidecars' only.
func Restarts(s *manifest.PodStatus, sidecars []bool) (int, time.Time) {
	initialized := showsApps(s, sidecars)
	n, last := 0, time.Time{}
	count := func(c manifest.ContainerStatus) {
		n += int(c.RestartCount)
		if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt != nil && t.FinishedAt.After(last) {
			last = t.FinishedAt.Time
		}
	}
	for i, c := range s.InitContainerStatuses {
		if !initialized || isSidecar(sidecars, i) {
			count(c)
		}
	}
	for _, c := range s.ContainerStatuses {
		count(c)
	}
	return n, last
}

// initReason is kubectl's STATUS of a pod still initializing: the reason
// of the first init container neither completed nor a started sidecar;
// ok false when there is none.
func initReason(s *manifest.PodStatus, sidecars []bool) (reason string, ok bool) {
	for i, c := range s.InitContainerStatuses {
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case isSidecar(sidecars, i) && c.Started != nil && *c.Started:
			continue
		case c.State.Terminated != nil:
			if c.State.Terminated.Reason != "" {
				return "Init:" + c.State.Terminated.Reason, true
			} else if c.State.Terminated.Signal != 0 {
				return fmt.Sprintf("Init:Signal:%d", c.State.Terminated.Signal), true
			}
			return fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode), true
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != manifest.ReasonPodInitializing:
			return "Init:" + c.State.Waiting.Reason, true
		default:
			return fmt.Sprintf("Init:%d/%d", i, len(s.InitContainerStatuses)), true
		}
	}
	return "", false
}

// showsApps says kubectl's columns come from the app containers: nothing
// initializes, or the pod was initialized (a sidecar restarting later).
func showsApps(s *manifest.PodStatus, sidecars []bool) bool {
	if _, initializing := initReason(s, sidecars); !initializing {
		return true
	}
	c := Condition(s, manifest.PodInitialized)
	return c != nil && c.Status == manifest.ConditionTrue
}

// DisplayStatus is kubectl's STATUS column (printers.go printPod): the
// phase, or the reason of the most telling container state. A started
// sidecar does not hold the pod in Init.
func DisplayStatus(s *manifest.PodStatus, sidecars []bool, stopping bool) string {
	reason := string(s.Phase)
	if s.Reason != "" {
		reason = s.Reason
	}
	if r, ok := initReason(s, sidecars); ok {
		reason = r
	}
	if showsApps(s, sidecars) {
		hasRunning := false
		for i := len(s.ContainerStatuses) - 1; i >= 0; i-- {
			c := s.ContainerStatuses[i]
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				reason = c.State.Terminated.Reason
			case c.State.Terminated != nil && c.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", c.State.Terminated.Signal)
			case c.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
			case c.State.Running != nil && c.Ready:
				hasRunning = true
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			if r, t := ReadyCount(s, sidecars); r == t {
				reason = string(manifest.PodRunning)
			}
		}
	}
	if stopping && !Terminal(s.Phase) {
		reason = "Terminating"
	}
	if s.Phase == manifest.PodUnknown {
		// The container states are the last known, not the present
		// (kubectl shows Unknown for a pod of an unreachable node).
		reason = string(manifest.PodUnknown)
	}
	return reason
}

// sortedNames returns m's keys sorted.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
