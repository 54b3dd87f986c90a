package runtime

import (
	"errors"
	"testing"
)

// Every operation in every state, from the one table: allowed where runc
// allows it, refused elsewhere with runc's text (which shims match).
func TestOpsTable(t *testing.T) {
	all := []Status{Creating, Created, Running, Paused, Stopped}
	want := map[Op]map[Status]string{
		OpStart: {Creating: "cannot start a container in the creating state", Created: "",
			Running: "cannot start an already running container", Paused: "cannot start a container in the paused state",
			Stopped: "cannot start a container that has stopped"},
		OpExec: {Creating: "cannot exec in a creating container", Created: "", Running: "",
			Paused: "cannot exec in a paused container (use --ignore-paused to override)", Stopped: "cannot exec in a stopped container"},
		OpIgnorePause: {Creating: "cannot exec in a creating container", Created: "", Running: "", Paused: "",
			Stopped: "cannot exec in a stopped container"},
		OpKill:    {Creating: "container not running", Created: "", Running: "", Paused: "", Stopped: "container not running"},
		OpKillAll: {Creating: "container not running", Created: "", Running: "", Paused: "", Stopped: ""},
		OpDelete: {Creating: "cannot delete container c1 that is not stopped: creating", Created: "",
			Running: "cannot delete container c1 that is not stopped: running",
			Paused:  "cannot delete container c1 that is not stopped: paused", Stopped: ""},
		OpPause:  {Creating: "container not running", Created: "", Running: "", Paused: "container not running", Stopped: "container not running"},
		OpResume: {Creating: "container not paused", Created: "container not paused", Running: "container not paused", Paused: "", Stopped: "container not paused"},
		OpUpdate: {Creating: "container not running", Created: "", Running: "", Paused: "", Stopped: "container not running"},
		OpStats:  {Creating: "", Created: "", Running: "", Paused: "", Stopped: "container with id c1 is not running"},
	}
	if len(want) != len(ops) {
		t.Fatalf("the test covers %d operations, the table has %d", len(want), len(ops))
	}
	for op, states := range want {
		for _, s := range all {
			err := checkOp(op, "c1", s)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != states[s] {
				t.Errorf("%s in %s: %q, want %q", op, s, got, states[s])
			}
		}
	}
	// Refusals keep their kind for callers.
	if !errors.Is(checkOp(OpStart, "c1", Stopped), ErrState) || !errors.Is(checkOp(OpKill, "c1", Stopped), ErrNotRunning) {
		t.Error("refusals lost their sentinel")
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
