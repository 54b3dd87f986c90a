package supervisor

import (
	"fmt"
	"slices"
	"testing"

	"github.com/podrun/podrun/pod/manifest"
)

func TestNextActions(t *testing.T) {
	tr, fa := true, false
	waiting := func() *manifest.ContainerStatus {
		return &manifest.ContainerStatus{Started: &fa, State: manifest.ContainerState{Waiting: &manifest.ContainerStateWaiting{}}}
	}
	running := func(started bool) *manifest.ContainerStatus {
		return &manifest.ContainerStatus{Started: map[bool]*bool{true: &tr, false: &fa}[started],
			State: manifest.ContainerState{Running: &manifest.ContainerStateRunning{}}}
	}
	exited := func(code int32) *manifest.ContainerStatus {
		return &manifest.ContainerStatus{Started: &fa, State: manifest.ContainerState{Terminated: &manifest.ContainerStateTerminated{ExitCode: code}}}
	}
	backoff := func() *manifest.ContainerStatus { // waiting to be run again
		s := waiting()
		s.LastTerminationState.Terminated = &manifest.ContainerStateTerminated{ExitCode: 1}
		return s
	}
	app := func(s *manifest.ContainerStatus) CtrView { return CtrView{Role: RoleApp, Status: s} }
	init := func(s *manifest.ContainerStatus) CtrView { return CtrView{Role: RoleInit, Status: s} }
	side := func(s *manifest.ContainerStatus) CtrView { return CtrView{Role: RoleSidecar, Status: s} }
	active := func(v CtrView) CtrView { v.Active = true; return v }
	pending := func(v CtrView) CtrView { v.Pending = true; return v }
	hooking := func(v CtrView) CtrView { v.Active, v.PostStartPending = true, true; return v }
	A, N := manifest.RestartPolicyAlways, manifest.RestartPolicyNever
	for i, c := range []struct {
		what   string
		policy manifest.RestartPolicy
		phase  manifest.PodPhase
		cs     []CtrView
		want   Actions
	}{
		{"no init: every app", A, "", []CtrView{app(waiting()), app(waiting())}, Actions{Start: []int{0, 1}}},
		{"the first init", A, "", []CtrView{init(waiting()), init(waiting()), app(waiting())}, Actions{Start: []int{0}}},
		{"an init runs", A, "", []CtrView{active(init(running(true))), init(waiting()), app(waiting())}, Actions{}},
		{"the next init once one succeeded", A, "", []CtrView{init(exited(0)), init(waiting()), app(waiting())}, Actions{Start: []int{1}}},
		{"a failed init waits for its restart", A, "", []CtrView{pending(init(backoff())), init(waiting()), app(waiting())}, Actions{}},
		{"a sidecar not started (startup probe)", A, "", []CtrView{active(side(running(false))), init(waiting())}, Actions{}},
		{"a sidecar in its postStart hook", A, "", []CtrView{hooking(side(running(true))), init(waiting())}, Actions{}},
		{"a started sidecar lets the next init start", A, "", []CtrView{active(side(running(true))), init(waiting()), app(waiting())}, Actions{Start: []int{1}}},
		{"initialized: the apps", A, "", []CtrView{active(side(running(true))), init(exited(0)), app(waiting()), app(waiting())}, Actions{Start: []int{2, 3}}},
		{"an app that ran is not started here", A, "", []CtrView{init(exited(0)), pending(app(backoff())), app(waiting())}, Actions{Start: []int{2}}},
		{"initialized once: a restarting sidecar holds no app", A, "", []CtrView{pending(side(backoff())), active(app(running(true))), app(waiting())}, Actions{Start: []int{2}}},
		{"apps done, a sidecar runs: complete", N, "", []CtrView{active(side(running(true))), app(exited(0))}, Actions{Complete: true}},
		{"apps done, a sidecar in back-off: complete", N, "", []CtrView{pending(side(backoff())), app(exited(1))}, Actions{Complete: true}},
		{"apps restart under Always: no completion", A, "", []CtrView{active(side(running(true))), pending(app(backoff()))}, Actions{}},
		{"a terminal pod starts nothing", N, manifest.PodFailed, []CtrView{init(exited(1)), app(waiting())}, Actions{}},
	} {
		t.Run(fmt.Sprint(i, " ", c.what), func(t *testing.T) {
			got := NextActions(c.policy, c.phase, c.cs)
			if got.Complete != c.want.Complete || !slices.Equal(got.Start, c.want.Start) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
