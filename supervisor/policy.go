package supervisor

import "github.com/podrun/podrun/pod/manifest"

// ShouldRestart is kubelet's decision for a container that exited with
// exitCode. App containers follow the pod's restartPolicy; init containers
// must complete, so a successful one is never restarted and a failed one
// is retried unless the policy is Never (kubelet treats Always as
// OnFailure for them).
func ShouldRestart(policy manifest.RestartPolicy, init bool, exitCode int) bool {
	if init {
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
