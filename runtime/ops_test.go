package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/podrun/podrun/internal/errdefs"
)

// Every operation in every state, from the one table: allowed where runc
// allows it, refused elsewhere with a *StateError of the operation's kind
// (cmd/internal/runccli's TestRuncStateTexts holds runc's texts for these).
func TestOpsTable(t *testing.T) {
	all := []Status{Creating, Created, Running, Paused, Stopped}
	ok, st, nr, np := error(nil), ErrState, ErrNotRunning, ErrNotPaused
	want := map[Op]map[Status]error{
		OpStart:       {Creating: st, Created: ok, Running: st, Paused: st, Stopped: st},
		OpExec:        {Creating: st, Created: ok, Running: ok, Paused: st, Stopped: st},
		OpIgnorePause: {Creating: st, Created: ok, Running: ok, Paused: ok, Stopped: st},
		OpKill:        {Creating: nr, Created: ok, Running: ok, Paused: ok, Stopped: nr},
		OpKillAll:     {Creating: nr, Created: ok, Running: ok, Paused: ok, Stopped: ok},
		OpDelete:      {Creating: st, Created: ok, Running: st, Paused: st, Stopped: ok},
		OpPause:       {Creating: nr, Created: ok, Running: ok, Paused: nr, Stopped: nr},
		OpResume:      {Creating: np, Created: np, Running: np, Paused: ok, Stopped: np},
		OpUpdate:      {Creating: nr, Created: ok, Running: ok, Paused: ok, Stopped: nr},
		OpStats:       {Creating: ok, Created: ok, Running: ok, Paused: ok, Stopped: nr},
	}
	if len(want) != len(ops) {
		t.Fatalf("the test covers %d operations, the table has %d", len(want), len(ops))
	}
	for op, states := range want {
		for _, s := range all {
			err := checkOp(op, "c1", s)
			kind := states[s]
			if kind == nil {
				if err != nil {
					t.Errorf("%s in %s: refused: %v", op, s, err)
				}
				continue
			}
			var se *StateError
			if !errors.As(err, &se) || *se != (StateError{Op: op, ID: "c1", Status: s}) {
				t.Errorf("%s in %s: %#v, want a StateError", op, s, err)
				continue
			}
			if !errors.Is(err, kind) || !errors.Is(err, ErrState) || !errdefs.IsFailedPrecondition(err) {
				t.Errorf("%s in %s: %v is not %v, ErrState and FailedPrecondition", op, s, err, kind)
			}
			for _, other := range []error{nr, np} {
				if other != kind && errors.Is(err, other) {
					t.Errorf("%s in %s: also matches %v", op, s, other)
				}
			}
			if !strings.Contains(err.Error(), "c1 is "+string(s)) {
				t.Errorf("%s in %s: %q names neither id nor status", op, s, err)
			}
		}
	}
	// The state machine refuses a step it lacks.
	for _, c := range []struct {
		from, to Status
		ok       bool
	}{{Creating, Created, true}, {Created, Running, true}, {Running, Paused, true}, {Paused, Running, true},
		{Stopped, Running, false}, {Running, Created, false}, {Stopped, Paused, false}} {
		if canTransition(c.from, c.to) != c.ok {
			t.Errorf("%s -> %s: allowed %v", c.from, c.to, !c.ok)
		}
	}
}
