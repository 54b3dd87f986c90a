package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/internal/hooks"
	"github.com/podrun/podrun/namespaces"
)

// Start releases the init of a created container to exec its process, then
// runs the poststart hooks. With startContainer hooks (which the init runs
// once released) it returns after the exec, or with their failure.
func (r *Runtime) Start(id string) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.require(OpStart); err != nil {
		return err
	}
	h := c.meta.Hooks
	if err := c.releaseInit(h != nil && len(h.StartContainer) > 0); err != nil {
		return err
	}
	// Nothing is saved: the consumed exec fifo is what makes the status
	// running (Status), so start returns the moment the init runs, as
	// runc's does. containerd's shim arms its OOM watch on the cgroup only
	// when start has returned; every extra millisecond here is one more in
	// which a container that runs out of memory at once is not seen as
	// OOMKilled (critest's "reason OOMKilled" spec).
	if h != nil && len(h.Poststart) > 0 {
		// The spec (1.3): a failing poststart hook is an error and stops
		// the container; delete then finishes the lifecycle.
		if err := hooks.Run(context.Background(), "poststart", h.Poststart, c.specState(Running)); err != nil {
			_ = c.signalInit(unix.SIGKILL)
			waitGone(c.State.Pid, c.State.PidStart, 10*time.Second)
			return err
		}
	}
	return nil
}

// releaseInit opens the exec fifo for reading, which unblocks the init's
// open for writing; the init then writes one byte and execs. The fifo is
// removed, which is how later calls tell created from running. With
// waitExec (the container has startContainer hooks, which the init runs
// after the release) it then reads on until the exec closes the fifo: a
// failure the init wrote there instead is returned, as runc reports a
// failing hook ("error running startContainer hook #0: ...").
func (c *Container) releaseInit(waitExec bool) error {
	path := filepath.Join(c.dir, fifoName)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("waiting for init: %w", err)
		}
		if n > 0 {
			var b [1]byte
			if k, _ := unix.Read(fd, b[:]); k == 1 {
				break
			}
		}
		if !processAlive(c.State.Pid, c.State.PidStart) {
			return &StateError{Op: OpStart, ID: c.State.ID, Status: Stopped}
		}
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	if !waitExec {
		return nil
	}
	msg, err := readUntilEOF(fd, namespaces.MaxStartError, func() bool { return processAlive(c.State.Pid, c.State.PidStart) })
	if err != nil {
		return fmt.Errorf("waiting for the container process: %w", err)
	}
	if len(msg) > 0 {
		return &namespaces.InitError{Msg: string(msg)}
	}
	return nil
}

// readUntilEOF reads the non-blocking fd until EOF, keeping at most max
// bytes. It also ends, after one more read, when alive turns false
// (checked every 100 ms), so a writer that lost its process never hangs
// the reader.
func readUntilEOF(fd, max int, alive func() bool) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		dead := !alive()
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			return out, err
		}
		n, err := unix.Read(fd, buf)
		switch {
		case n > 0:
			if room := max - len(out); room > 0 {
				out = append(out, buf[:min(n, room)]...)
			}
			continue
		case n == 0 && err == nil:
			return out, nil
		case err != nil && err != unix.EAGAIN && err != unix.EINTR:
			return out, err
		}
		if dead {
			return out, nil
		}
	}
}

// Kill sends sig to the init, or with all to every process in the cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	defer c.Close()
	op := OpKill
	if all {
		op = OpKillAll
	}
	status, err := c.require(op)
	if err != nil {
		return err
	}
	if status == Stopped {
		// kill --all after the init died still reaches what is left in the
		// cgroup (containerd does this for shared pid namespaces).
		return c.signalCgroup(sig)
	}
	if all {
		if err := c.signalCgroup(sig); err != nil {
			return err
		}
		// The init was in the cgroup; it may be gone already.
		if err := c.signalInit(sig); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		return nil
	}
	if err := c.signalInit(sig); err != nil {
		return err
	}
	if status == Paused && sig == unix.SIGKILL {
		// A frozen v1 task acts on SIGKILL only once thawed (runc thaws too).
		if cg, err := c.cgroup(); err == nil {
			if err := cg.Thaw(); err != nil {
				c.rt.Log.Warnf("thawing paused container after SIGKILL: %v", err)
			}
		}
	}
	return nil
}

// signalInit signals the init through a pidfd, checked against the recorded
// start time after opening it, so a reused pid is never signalled.
func (c *Container) signalInit(sig unix.Signal) error {
	pfd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pfd)
	if !processAlive(c.State.Pid, c.State.PidStart) {
		return ErrNotRunning
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return fmt.Errorf("signalling init: %w", err)
	}
	return nil
}

// signalCgroup signals every process in the container's cgroup, with the
// cgroup frozen meanwhile where the freezer is available, so that no
// process escapes by forking (see freezeSignal).
func (c *Container) signalCgroup(sig unix.Signal) error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return freezeSignal(cg, sig, c.rt.Log.Warnf)
}

// Delete removes a container. A created one is killed first; a running or
// paused one only with force (SIGKILL to everything, then a bounded wait).
// With force an unknown id succeeds, removing any leftover state.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.Load(id)
	if errors.Is(err, ErrNotExist) {
		if force && validateID(id) == nil {
			// A create killed before its first state write leaves a bare dir.
			if err := os.RemoveAll(r.dir(id)); err != nil {
				return err
			}
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.require(OpDelete); err != nil && !force {
		return err
	}
	return c.destroy(true)
}

// destroy kills whatever is left, removes the cgroup, runs poststop hooks
// (when the container got as far as created) and removes the state dir.
func (c *Container) destroy(poststop bool) error {
	var cg cgroups.Manager
	if len(c.State.CgroupPaths) > 0 {
		var err error
		if cg, err = c.cgroup(); err != nil {
			return err
		}
	}
	if c.State.Pid != 0 && processAlive(c.State.Pid, c.State.PidStart) {
		if cg != nil {
			// Everything at once, frozen, and thawed after (a paused
			// container too), as runc's destroy does.
			_ = freezeSignal(cg, unix.SIGKILL, c.rt.Log.Debugf)
		}
		_ = c.signalInit(unix.SIGKILL)
		waitGone(c.State.Pid, c.State.PidStart, 10*time.Second)
	}
	// An empty cgroup goes at once, frozen or not: when the init had a pid
	// namespace of its own, the kernel killed and reaped every other
	// process of it before the init finished exiting. Only a cgroup that
	// still holds processes is scanned and they killed.
	if cg != nil && !cg.DestroyIfEmpty() {
		// A paused container whose init died meanwhile is still frozen:
		// its last tasks can only exit once thawed.
		if frozen, err := cg.Frozen(); err == nil && frozen {
			_ = cg.Thaw()
		}
		// Without a pid namespace, processes can outlive the init.
		for i := 0; i < 100; i++ {
			pids, err := cg.Procs()
			if err != nil || len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := cg.Destroy(); err != nil {
			return err
		}
	}
	if h := c.meta.Hooks; poststop && c.State.Status != Creating && h != nil {
		if err := hooks.RunAll(context.Background(), "poststop", h.Poststop, c.specState(Stopped)); err != nil {
			c.rt.Log.Warnf("%v", err)
		}
	}
	// The processes are gone, and with them the overlay's mount namespace.
	if err := c.releaseImage(); err != nil {
		return err
	}
	if n := c.State.RootfsMounts; n != nil {
		if err := unmountRootfs(c.State.Rootfs, *n); err != nil {
			return err
		}
	}
	if err := c.destroyIntelRdt(); err != nil {
		return err
	}
	return os.RemoveAll(c.dir)
}

// waitGone waits until the process is gone (or a zombie), up to timeout.
// The init is not our child, so we cannot wait(2) for it: a pidfd polls
// readable once it exited, zombie or not, which ends `delete --force` the
// moment the init is dead rather than at the next tick of a poll loop
// (1, 2, 4... ms). Without pidfds (Linux < 5.3), /proc is polled.
func waitGone(pid int, start uint64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	if gone, ok := waitPidfd(pid, start, deadline); ok {
		return gone
	}
	for d := time.Millisecond; ; d = min(d*2, 50*time.Millisecond) {
		if !processAlive(pid, start) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(d)
	}
}

// waitPidfd is waitGone through a pidfd; ok is false when none could be
// used.
func waitPidfd(pid int, start uint64, deadline time.Time) (gone, ok bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return !processAlive(pid, start), err == unix.ESRCH
	}
	defer unix.Close(fd)
	// The pidfd holds whatever process has the pid now: it must still be
	// the init (start time), else the init is long gone.
	if !processAlive(pid, start) {
		return true, true
	}
	for {
		ms := time.Until(deadline).Milliseconds()
		if ms <= 0 {
			return !processAlive(pid, start), true
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(ms, 1<<30)))
		switch {
		case err == unix.EINTR:
		case err != nil:
			return false, false
		case n > 0:
			return true, true
		}
	}
}

// Ps returns the host pids of every process in the container's cgroup.
func (r *Runtime) Ps(id string) ([]int, error) {
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Procs()
}

// State returns the OCI state of container id. It does not wait for
// another call on the container (see Peek).
func (r *Runtime) State(id string) (OCIState, error) {
	c, err := r.Peek(id)
	if err != nil {
		return OCIState{}, err
	}
	defer c.Close()
	st := c.OCIState()
	if n, _ := c.oomKillCount(); n > 0 {
		st.OOMKilled = true
	}
	return st, nil
}

// List returns the state of every container.
func (r *Runtime) List() ([]OCIState, error) {
	ids, err := r.IDs()
	if err != nil {
		return nil, err
	}
	out := make([]OCIState, 0, len(ids))
	for _, id := range ids {
		st, err := r.State(id)
		if errors.Is(err, ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			// One unreadable container must not hide the others (runc
			// warns and goes on too).
			r.Log.Warnf("loading container %s: %v", id, err)
			continue
		}
		out = append(out, st)
	}
	return out, nil
}
