package runtime

import (
	"os"

	"github.com/podrun/podrun/namespaces"
)

// Process is a process the runtime started in a container: the init that
// Create made or the process Exec started. It is the caller's child: the
// caller reaps it with Wait, unless it leaves (create, exec --detach) and
// the process is inherited by init or a subreaper. How it was set up (the
// init protocol of namespaces.Child, the C path of Exec) stays inside
// Create and Exec; what is left once they return is only the process.
type Process struct {
	proc *os.Process
}

func newProcess(c *namespaces.Child) *Process { return &Process{proc: c.Cmd.Process} }

// Pid is the process's host pid.
func (p *Process) Pid() int { return p.proc.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.proc.Signal(sig) }

// Kill sends SIGKILL; the caller still reaps the process with Wait.
func (p *Process) Kill() error { return p.proc.Kill() }

// Wait waits for the process to exit and reaps it. The state (exit code,
// signal, rusage) is returned whatever the exit code; the error is only
// for a failed wait (e.g. the process was reaped already). Call it once.
func (p *Process) Wait() (*os.ProcessState, error) {
	return p.proc.Wait()
}
