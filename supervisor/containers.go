package supervisor

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/runtime"
)

// containers is what the loop asks of the pod's containers: the pod
// manager in production (managerContainers), a fake in the unit tests.
type containers interface {
	// create creates a run's container (not started) with its I/O.
	create(sb *pod.Sandbox, name string, attempt int, cio pod.ContainerIO) (id string, child createdProc, err error)
	// watch opens a created run's process, our child, to signal it and
	// wait for its end.
	watch(pid int) (watched, error)
	// adopt opens a run a previous supervisor started (not our child),
	// checking it is still the process that started at start.
	adopt(pid int, start uint64) (watched, error)
	start(id string) error
	remove(sb *pod.Sandbox, id string) error
	oomKilled(id string) (bool, error)
	state(id string) (runtime.OCIState, error)
}

// createdProc is the process create returns (*runtime.Process).
type createdProc interface {
	Pid() int
	Kill() error
	Wait() (*os.ProcessState, error)
}

// watched is a run's process as the loop watches it (*proc).
type watched interface {
	signal(sig unix.Signal) error
	wait() (exitInfo, error)
	close()
	// ident is the pid, its start time and whether it is our child.
	ident() (pid int, start uint64, child bool)
}

// managerContainers is containers over the pod manager.
type managerContainers struct{ m *pod.Manager }

func (mc managerContainers) create(sb *pod.Sandbox, name string, attempt int, cio pod.ContainerIO) (string, createdProc, error) {
	id, child, err := mc.m.CreateContainerIO(sb, name, attempt, cio)
	if child == nil {
		return id, nil, err // no typed nil in the interface
	}
	return id, child, err
}

func (mc managerContainers) watch(pid int) (watched, error) {
	p, err := openProc(pid, 0, true)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (mc managerContainers) adopt(pid int, start uint64) (watched, error) {
	p, err := openProc(pid, start, false)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (mc managerContainers) start(id string) error { return mc.m.Runtime.Start(id) }

func (mc managerContainers) remove(sb *pod.Sandbox, id string) error {
	return mc.m.RemoveContainer(sb, id)
}

func (mc managerContainers) oomKilled(id string) (bool, error) { return mc.m.Runtime.OOMKilled(id) }

func (mc managerContainers) state(id string) (runtime.OCIState, error) { return mc.m.Runtime.State(id) }
