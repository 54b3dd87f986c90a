package runccli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/podrun/podrun/runtime"
)

// errorText is the one line printed for a failed command. The libraries
// return typed errors; runc's wording, which containerd's shim and scripts
// match, is produced here and only here.
func errorText(err error) string {
	text := err.Error()
	var se *runtime.StateError
	if errors.As(err, &se) {
		// Keep what wrapped the refusal; reword the refusal itself.
		return strings.Replace(text, se.Error(), runcStateText(se), 1)
	}
	return text
}

// runcStateText is runc's message for an operation refused in a state
// (libcontainer's and runc's own texts, as of runc 1.1).
func runcStateText(e *runtime.StateError) string {
	op, s := e.Op, e.Status
	switch {
	case op == runtime.OpStart && s == runtime.Stopped:
		return "cannot start a container that has stopped"
	case op == runtime.OpStart && s == runtime.Running:
		return "cannot start an already running container"
	case op == runtime.OpStart:
		return fmt.Sprintf("cannot start a container in the %s state", s)
	case op == runtime.OpExec && s == runtime.Paused:
		return "cannot exec in a paused container (use --ignore-paused to override)"
	case (op == runtime.OpExec || op == runtime.OpIgnorePause) && s == runtime.Stopped:
		return "cannot exec in a stopped container"
	case op == runtime.OpExec || op == runtime.OpIgnorePause:
		return fmt.Sprintf("cannot exec in a %s container", s)
	case op == runtime.OpDelete:
		return fmt.Sprintf("cannot delete container %s that is not stopped: %s", e.ID, s)
	case op == runtime.OpResume:
		return "container not paused"
	case op == runtime.OpStats:
		return fmt.Sprintf("container with id %s is not running", e.ID)
	case op == runtime.OpKill, op == runtime.OpKillAll, op == runtime.OpPause, op == runtime.OpUpdate:
		return "container not running"
	}
	return fmt.Sprintf("cannot %s a container in the %s state", op, s)
}
