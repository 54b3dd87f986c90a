package runtime

import (
	"fmt"
	"slices"
	"strings"
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

// opRule is where an operation may run, and which sentinel besides
// ErrState its refusal matches (ErrNotRunning, ErrNotPaused), if any.
type opRule struct {
	in   []Status
	also error
}

// ops is the one table of which operation may run in which state; a
// refusal is a *StateError, which the CLI turns into runc's text (clients
// match those). Every operation asks it through require.
var ops = map[Op]opRule{
	OpStart:       {[]Status{Created}, nil},
	OpExec:        {[]Status{Created, Running}, nil},
	OpIgnorePause: {[]Status{Created, Running, Paused}, nil},
	OpKill:        {[]Status{Created, Running, Paused}, ErrNotRunning},
	OpKillAll:     {[]Status{Created, Running, Paused, Stopped}, ErrNotRunning},
	OpDelete:      {[]Status{Created, Stopped}, nil},
	// runc: only a running or created container can be paused; anything
	// else (paused already, stopped) is "container not running".
	OpPause:  {[]Status{Created, Running}, ErrNotRunning},
	OpResume: {[]Status{Paused}, ErrNotPaused},
	OpUpdate: {[]Status{Created, Running, Paused}, ErrNotRunning},
	OpStats:  {[]Status{Creating, Created, Running, Paused}, ErrNotRunning},
}

// StateError is an operation refused in the container's status. It
// matches ErrState (so errdefs.ErrFailedPrecondition) and the rule's own
// sentinel; cmd/internal/runccli words it as runc does.
type StateError struct {
	Op     Op
	ID     string
	Status Status
}

func (e *StateError) Error() string {
	var in []string
	for _, s := range ops[e.Op].in {
		in = append(in, string(s))
	}
	return fmt.Sprintf("container %s is %s; %s needs it %s", e.ID, e.Status, e.Op, strings.Join(in, " or "))
}

func (e *StateError) Is(target error) bool {
	also := ops[e.Op].also
	return also != nil && target == also
}

// Unwrap gives ErrState's category to errors.Is.
func (e *StateError) Unwrap() error { return ErrState }

// checkOp is the table's answer for op in status s.
func checkOp(op Op, id string, s Status) error {
	r, ok := ops[op]
	if !ok {
		return fmt.Errorf("runtime: unknown operation %q", op)
	}
	if slices.Contains(r.in, s) {
		return nil
	}
	return &StateError{Op: op, ID: id, Status: s}
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
