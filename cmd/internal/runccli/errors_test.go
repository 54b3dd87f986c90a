package runccli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
	"github.com/podrun/podrun/supervisor"
)

// runc's text for every refusal of runtime's operation table (the cells
// runtime's TestOpsTable refuses); containerd's shim and scripts match
// these.
func TestRuncStateTexts(t *testing.T) {
	const (
		creating, created, running = runtime.Creating, runtime.Created, runtime.Running
		paused, stopped            = runtime.Paused, runtime.Stopped
	)
	want := map[runtime.Op]map[runtime.Status]string{
		runtime.OpStart: {creating: "cannot start a container in the creating state",
			running: "cannot start an already running container", paused: "cannot start a container in the paused state",
			stopped: "cannot start a container that has stopped"},
		runtime.OpExec: {creating: "cannot exec in a creating container",
			paused: "cannot exec in a paused container (use --ignore-paused to override)", stopped: "cannot exec in a stopped container"},
		runtime.OpIgnorePause: {creating: "cannot exec in a creating container", stopped: "cannot exec in a stopped container"},
		runtime.OpKill:        {creating: "container not running", stopped: "container not running"},
		runtime.OpKillAll:     {creating: "container not running"},
		runtime.OpDelete: {creating: "cannot delete container c1 that is not stopped: creating",
			running: "cannot delete container c1 that is not stopped: running",
			paused:  "cannot delete container c1 that is not stopped: paused"},
		runtime.OpPause:  {creating: "container not running", paused: "container not running", stopped: "container not running"},
		runtime.OpResume: {creating: "container not paused", created: "container not paused", running: "container not paused", stopped: "container not paused"},
		runtime.OpUpdate: {creating: "container not running", stopped: "container not running"},
		runtime.OpStats:  {stopped: "container with id c1 is not running"},
	}
	for op, states := range want {
		for s, text := range states {
			err := &runtime.StateError{Op: op, ID: "c1", Status: s}
			if got := errorText(err); got != text {
				t.Errorf("%s in %s: %q, want %q", op, s, got, text)
			}
		}
	}
	// What wrapped the refusal stays; only the refusal is reworded.
	wrapped := fmt.Errorf("exec c1: %w", &runtime.StateError{Op: runtime.OpExec, ID: "c1", Status: stopped})
	if got := errorText(wrapped); got != "exec c1: cannot exec in a stopped container" {
		t.Errorf("wrapped: %q", got)
	}
	if got := errorText(fmt.Errorf("%w: c9", runtime.ErrNotExist)); got != "container does not exist: c9" {
		t.Errorf("not a refusal: %q", got)
	}
}

// Every package's sentinel is in its category, so the CLI (and a client of
// the supervisor's socket) can tell them apart without their texts.
func TestSentinelCategories(t *testing.T) {
	for _, c := range []struct {
		sentinel, category error
	}{
		{runtime.ErrNotExist, errdefs.ErrNotFound},
		{runtime.ErrExist, errdefs.ErrAlreadyExists},
		{runtime.ErrNotRunning, errdefs.ErrFailedPrecondition},
		{runtime.ErrState, errdefs.ErrFailedPrecondition},
		{runtime.ErrNotPaused, errdefs.ErrFailedPrecondition},
		{runtime.ErrInvalidID, errdefs.ErrInvalidArgument},
		{pod.ErrNotExist, errdefs.ErrNotFound},
		{pod.ErrExist, errdefs.ErrAlreadyExists},
		{pod.ErrNotRunning, errdefs.ErrFailedPrecondition},
		{pod.ErrNoInfra, errdefs.ErrFailedPrecondition},
		{pod.ErrClaimInUse, errdefs.ErrFailedPrecondition},
		{image.ErrImageNotFound, errdefs.ErrNotFound},
		{image.ErrInUse, errdefs.ErrFailedPrecondition},
		{manifest.ErrInvalid, errdefs.ErrInvalidArgument},
		{supervisor.ErrSupervisorExited, errdefs.ErrUnavailable},
		{supervisor.ErrNoPrevious, errdefs.ErrNotFound},
	} {
		err := fmt.Errorf("x: %w", c.sentinel)
		if !errors.Is(err, c.sentinel) || !errors.Is(err, c.category) {
			t.Errorf("%q: not %v", c.sentinel, c.category)
		}
		if errdefs.Code(err) == "" {
			t.Errorf("%q: no wire code", c.sentinel)
		}
	}
}
