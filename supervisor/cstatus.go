package supervisor

import (
	"fmt"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// cstatus is one container's status in the pod's record, and the one
// place it changes: the loop reads its fields, and moves it only through
// the methods below, each a step kubelet's status manager takes. A step
// the container's state does not allow is refused (an error, the status
// unchanged), as gVisor's changeStatus refuses one.
//
//	waiting ──Running──▶ running ──Terminated──▶ terminated
//	   ▲  ▲                                         │
//	   │  └──────────── Waiting (create failed) ◀───┤
//	   └──────────── RestartPending (back-off) ◀────┘
//
// Running also follows terminated directly (a restart without back-off),
// and Terminated follows waiting (a run adopted before its start was
// recorded). lastState holds the previous run's end from RestartPending on,
// through the next run, as kubelet keeps it.
type cstatus manifest.ContainerStatus

// containerState names the member of a ContainerState that is set.
type containerState string

const (
	stateWaiting    containerState = "waiting"
	stateRunning    containerState = "running"
	stateTerminated containerState = "terminated"
)

func (s *cstatus) state() containerState {
	switch {
	case s.State.Running != nil:
		return stateRunning
	case s.State.Terminated != nil:
		return stateTerminated
	}
	return stateWaiting
}

// newCStatus is a container's first status: waiting for reason, not
// started.
func newCStatus(c *manifest.Container, imageID, reason string) manifest.ContainerStatus {
	f := false
	return manifest.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID, Started: &f,
		State: manifest.ContainerState{Waiting: &manifest.ContainerStateWaiting{Reason: reason}}}
}

// statusError is a refused step.
type statusError struct {
	name, step string
	from       containerState
}

func (e *statusError) Error() string {
	return fmt.Sprintf("container %s: status step %s refused in state %s", e.name, e.step, e.from)
}

// allow refuses step unless the container is in one of states.
func (s *cstatus) allow(step string, states ...containerState) error {
	cur := s.state()
	for _, st := range states {
		if st == cur {
			return nil
		}
	}
	return &statusError{name: s.Name, step: step, from: cur}
}

// Waiting: creating the run failed (reason CreateContainerError, ...);
// it is retried.
func (s *cstatus) Waiting(reason, msg string) error {
	if err := s.allow("Waiting", stateWaiting, stateTerminated); err != nil {
		return err
	}
	s.State = manifest.ContainerState{Waiting: &manifest.ContainerStateWaiting{Reason: reason, Message: msg}}
	return nil
}

// Running: run id started at at. started is false while a startup probe
// has not succeeded; ready says it is ready at once (no readiness probe).
func (s *cstatus) Running(id string, at time.Time, started, ready bool) error {
	if err := s.allow("Running", stateWaiting, stateTerminated); err != nil {
		return err
	}
	s.ContainerID = "podrun://" + id
	s.State = manifest.ContainerState{Running: &manifest.ContainerStateRunning{StartedAt: manifest.NewTime(at)}}
	s.Started = &started
	s.Ready = ready
	return nil
}

// StartupDone: the run's startup probe succeeded; ready as for Running.
func (s *cstatus) StartupDone(ready bool) error {
	if err := s.allow("StartupDone", stateRunning); err != nil {
		return err
	}
	if s.Started != nil && *s.Started {
		return &statusError{name: s.Name, step: "StartupDone", from: "running, started"}
	}
	t := true
	s.Started = &t
	s.Ready = ready
	return nil
}

// SetReady is the run's readiness probe's verdict.
func (s *cstatus) SetReady(ready bool) error {
	if err := s.allow("SetReady", stateRunning); err != nil {
		return err
	}
	s.Ready = ready
	return nil
}

// Terminated: the run ended as t. kubelet's prober manager: a completed
// init container (exit 0) is ready; a container not running is neither
// ready nor started.
func (s *cstatus) Terminated(t *manifest.ContainerStateTerminated, init bool) error {
	if err := s.allow("Terminated", stateRunning, stateWaiting); err != nil {
		return err
	}
	s.Ready = init && t.ExitCode == 0
	f := false
	s.Started = &f
	s.State = manifest.ContainerState{Terminated: t}
	return nil
}

// RestartPending: the ended run will be restarted; its end becomes
// lastState, and while the back-off lasts (msg != "") the container waits
// in CrashLoopBackOff.
func (s *cstatus) RestartPending(backoffMsg string) error {
	if err := s.allow("RestartPending", stateTerminated); err != nil {
		return err
	}
	s.LastTerminationState = s.State
	if backoffMsg != "" {
		s.State = manifest.ContainerState{Waiting: &manifest.ContainerStateWaiting{
			Reason: manifest.ReasonCrashLoopBackOff, Message: backoffMsg}}
	}
	return nil
}

// Restarting: the next run of an ended one is started (restartCount).
func (s *cstatus) Restarting() error {
	if err := s.allow("Restarting", stateWaiting, stateTerminated); err != nil {
		return err
	}
	if s.LastTerminationState.Terminated == nil {
		return &statusError{name: s.Name, step: "Restarting", from: s.state() + " without a lastState"}
	}
	s.RestartCount++
	return nil
}

// RestartCancelled: the pod stops while the container waits for its
// restart; a container that waited in back-off shows its last end again.
func (s *cstatus) RestartCancelled() error {
	if err := s.allow("RestartCancelled", stateWaiting, stateTerminated); err != nil {
		return err
	}
	if t := s.LastTerminationState.Terminated; t != nil && s.State.Waiting != nil {
		s.State = manifest.ContainerState{Terminated: t}
	}
	return nil
}
