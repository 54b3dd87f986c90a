package runtime

import (
	"os"
	"os/exec"

	"github.com/podrun/podrun/namespaces"
)

// Process is a process the runtime started in a container: the init that
// Create made or the process Exec started. It is the caller's child: the
// caller reaps it with Wait, unless it leaves (create, exec --detach) and
// the process is inherited by init or a subreaper. The init protocol that
// set it up stays inside Create and Exec (namespaces.Child); what is left
// once they return is only the process.
type Process struct {
	cmd *exec.Cmd
}

func newProcess(c *namespaces.Child) *Process { return &Process{cmd: c.Cmd} }

// Pid is the process's host pid.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL; the caller still reaps the process with Wait.
func (p *Process) Kill() error { return p.cmd.Process.Kill() }

// Wait waits for the process to exit and reaps it. The state (exit code,
// signal, rusage) is returned whatever the exit code; the error is only
// for a failed wait (e.g. the process was reaped already). Call it once.
func (p *Process) Wait() (*os.ProcessState, error) {
	err := p.cmd.Wait()
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState, nil
	}
	return nil, err
}
