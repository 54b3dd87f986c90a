package runtime

import (
	"fmt"
	"slices"
)

// Op is an operation on an existing container, named as the CLI names it.
type Op string

// The operations whose allowed states the table below holds.
const (
	OpStart       Op = "start"
	OpExec        Op = "exec"
	OpKill        Op = "kill"
	OpKillAll     Op = "kill --all" // also reaches what is left after the init died
	OpDelete      Op = "delete"     // without --force, which deletes in any state
	OpPause       Op = "pause"
	OpResume      Op = "resume"
	OpUpdate      Op = "update"
	OpStats       Op = "events" // events, events --stats
	OpIgnorePause Op = "exec --ignore-paused"
)

// opRule is where an operation may run and what it says elsewhere.
type opRule struct {
	in     []Status
	refuse func(id string, s Status) error
}

func notRunning(string, Status) error { return ErrNotRunning }

// ops is the one table of which operation may run in which state, with
// runc's refusal otherwise (clients match these texts; see
// transitionError). Every operation asks it through require.
var ops = map[Op]opRule{
	OpStart: {[]Status{Created}, func(id string, s Status) error { return transitionError("start", id, s) }},
	OpExec: {[]Status{Created, Running}, func(id string, s Status) error {
		if s == Paused {
			return stateErrorf("cannot exec in a paused container (use --ignore-paused to override)")
		}
		return transitionError("exec", id, s)
	}},
	OpIgnorePause: {[]Status{Created, Running, Paused}, func(id string, s Status) error { return transitionError("exec", id, s) }},
	OpKill:        {[]Status{Created, Running, Paused}, notRunning},
	OpKillAll:     {[]Status{Created, Running, Paused, Stopped}, notRunning},
	OpDelete:      {[]Status{Created, Stopped}, func(id string, s Status) error { return transitionError("delete", id, s) }},
	// runc: only a running or created container can be paused; anything
	// else (paused already, stopped) is "container not running".
	OpPause:  {[]Status{Created, Running}, notRunning},
	OpResume: {[]Status{Paused}, func(string, Status) error { return ErrNotPaused }},
	OpUpdate: {[]Status{Created, Running, Paused}, notRunning},
	OpStats: {[]Status{Creating, Created, Running, Paused}, func(id string, _ Status) error {
		return fmt.Errorf("container with id %s is not running", id)
	}},
}

// checkOp is the table's answer for op in status s.
func checkOp(op Op, id string, s Status) error {
	r, ok := ops[op]
	if !ok {
		return fmt.Errorf("runtime: unknown operation %q", op)
	}
	if slices.Contains(r.in, s) {
		return nil
	}
	return r.refuse(id, s)
}

// require returns the container's observed status if op may run in it.
func (c *Container) require(op Op) (Status, error) {
	s := c.Status()
	return s, checkOp(op, c.State.ID, s)
}

// setStatus records a new status, refusing a step the state machine
// (transitions) does not have from the observed one.
func (c *Container) setStatus(to Status) error {
	if from := c.Status(); from != to && !canTransition(from, to) {
		return fmt.Errorf("runtime: container %s: illegal transition %s -> %s", c.State.ID, from, to)
	}
	c.State.Status = to
	return nil
}
