package runtime

import "fmt"

// Status is a container's state in the OCI lifecycle.
type Status string

// The states. Paused is a frozen cgroup (pause/resume).
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// transitions is the container state machine: which status may follow which.
// Stopped is reachable from everywhere because the init can die at any time.
var transitions = map[Status][]Status{
	Creating: {Created, Stopped},
	Created:  {Running, Paused, Stopped}, // runc pauses a created container too
	Running:  {Paused, Stopped},
	Paused:   {Running, Stopped},
	Stopped:  {},
}

// canTransition reports whether from -> to is a legal step.
func canTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// transitionError explains an operation refused in status s, with runc's
// wording where clients match it.
func transitionError(op string, id string, s Status) error {
	switch {
	case op == "start" && s == Stopped:
		return stateErrorf("cannot start a container that has stopped")
	case op == "start" && s == Running:
		return stateErrorf("cannot start an already running container")
	case op == "start":
		return stateErrorf("cannot start a container in the %s state", s)
	case op == "delete":
		return stateErrorf("cannot delete container %s that is not stopped: %s", id, s)
	case op == "exec" && s == Stopped:
		return stateErrorf("cannot exec in a stopped container")
	case op == "exec":
		return stateErrorf("cannot exec in a %s container", s)
	}
	return stateErrorf("cannot %s a container in the %s state", op, s)
}

// stateError is an operation refused in the current state; it matches
// ErrState but reads as runc's message alone.
type stateError struct{ msg string }

func (e *stateError) Error() string        { return e.msg }
func (e *stateError) Is(target error) bool { return target == ErrState }

func stateErrorf(format string, args ...any) error {
	return &stateError{msg: fmt.Sprintf(format, args...)}
}
