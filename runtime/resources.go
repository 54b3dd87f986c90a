package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/internal/errdefs"
)

// Resources returns the linux.resources the container runs with: those of
// its config, as changed by every Update since.
func (r *Runtime) Resources(id string) (*specs.LinuxResources, error) {
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, err := c.Spec()
	if err != nil || s.Linux == nil {
		return nil, err
	}
	return s.Linux.Resources, nil
}

// Update changes the limits of a created, running or paused container, as
// `runc update`: every field set in u replaces the stored one (unified
// keys are merged one by one); device rules are left alone. The merged
// resources are applied to the cgroup; on failure the previous ones are
// applied again and the state is unchanged. On success the state (the
// stored spec) records them, atomically.
func (r *Runtime) Update(id string, u *specs.LinuxResources) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.require(OpUpdate); err != nil {
		return err
	}
	if u == nil {
		u = &specs.LinuxResources{}
	}
	s, err := c.Spec()
	if err != nil {
		return err
	}
	var old *specs.LinuxResources
	if s.Linux != nil {
		old = s.Linux.Resources
	}
	merged := MergeResources(old, u)
	if err := cgroups.Validate(merged); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Set(withoutDevices(merged)); err != nil {
		if old != nil {
			if err2 := cg.Set(withoutDevices(old)); err2 != nil {
				r.Log.Warnf("restoring the previous limits failed: %v; the cgroup and the state may differ", err2)
			}
		}
		return err
	}
	ns := *s
	l := specs.Linux{}
	if s.Linux != nil {
		l = *s.Linux
	}
	l.Resources = merged
	ns.Linux = &l
	if err := c.setSpec(&ns); err != nil {
		return err
	}
	return c.save()
}

// withoutDevices returns r without its device rules: update leaves the
// device cgroup as create set it (runc does the same).
func withoutDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil || r.Devices == nil {
		return r
	}
	cp := *r
	cp.Devices = nil
	return &cp
}

// MergeResources returns a copy of old with every field that u sets
// replacing old's; unified keys are merged one by one, hugepage and
// rdma limits per page size and device. old and u are not modified.
func MergeResources(old, u *specs.LinuxResources) *specs.LinuxResources {
	m := cloneResources(old)
	if u == nil {
		return m
	}
	if u.Memory != nil {
		if m.Memory == nil {
			m.Memory = &specs.LinuxMemory{}
		}
		mergeMemory(m.Memory, u.Memory)
		// A new limit above the old memory+swap limit, with no swap
		// given: keep the old swap allowance's meaning of "no more swap"
		// rather than a swap limit below the memory limit.
		if mm := m.Memory; u.Memory.Limit != nil && u.Memory.Swap == nil && mm.Swap != nil &&
			*mm.Swap > 0 && (*mm.Limit == -1 || *mm.Limit > *mm.Swap) {
			v := *mm.Limit
			mm.Swap = &v
		}
	}
	if u.CPU != nil {
		if m.CPU == nil {
			m.CPU = &specs.LinuxCPU{}
		}
		mergeCPU(m.CPU, u.CPU)
	}
	if u.Pids != nil && u.Pids.Limit != nil {
		m.Pids = &specs.LinuxPids{}
		set(&m.Pids.Limit, u.Pids.Limit)
	}
	if u.BlockIO != nil {
		if m.BlockIO == nil {
			m.BlockIO = &specs.LinuxBlockIO{}
		}
		b, n := m.BlockIO, u.BlockIO
		set(&b.Weight, n.Weight)
		set(&b.LeafWeight, n.LeafWeight)
		if n.WeightDevice != nil {
			b.WeightDevice = n.WeightDevice
		}
		if n.ThrottleReadBpsDevice != nil {
			b.ThrottleReadBpsDevice = n.ThrottleReadBpsDevice
		}
		if n.ThrottleWriteBpsDevice != nil {
			b.ThrottleWriteBpsDevice = n.ThrottleWriteBpsDevice
		}
		if n.ThrottleReadIOPSDevice != nil {
			b.ThrottleReadIOPSDevice = n.ThrottleReadIOPSDevice
		}
		if n.ThrottleWriteIOPSDevice != nil {
			b.ThrottleWriteIOPSDevice = n.ThrottleWriteIOPSDevice
		}
	}
	for _, h := range u.HugepageLimits {
		replaced := false
		for i := range m.HugepageLimits {
			if m.HugepageLimits[i].Pagesize == h.Pagesize {
				m.HugepageLimits[i] = h
				replaced = true
			}
		}
		if !replaced {
			m.HugepageLimits = append(m.HugepageLimits, h)
		}
	}
	if len(u.Rdma) > 0 {
		if m.Rdma == nil {
			m.Rdma = map[string]specs.LinuxRdma{}
		}
		maps.Copy(m.Rdma, u.Rdma)
	}
	if len(u.Unified) > 0 {
		if m.Unified == nil {
			m.Unified = map[string]string{}
		}
		maps.Copy(m.Unified, u.Unified)
	}
	if u.Network != nil {
		m.Network = u.Network
	}
	if len(m.HugepageLimits) == 0 {
		m.HugepageLimits = nil
	}
	return m
}

// cloneResources returns a deep copy of r (never nil).
func cloneResources(r *specs.LinuxResources) *specs.LinuxResources {
	m := &specs.LinuxResources{}
	if r == nil {
		return m
	}
	b, err := json.Marshal(r)
	if err == nil {
		err = json.Unmarshal(b, m)
	}
	if err != nil {
		panic(fmt.Sprintf("copying linux.resources: %v", err)) // plain data: cannot fail
	}
	return m
}

func set[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

func mergeMemory(m, n *specs.LinuxMemory) {
	set(&m.Limit, n.Limit)
	set(&m.Reservation, n.Reservation)
	set(&m.Swap, n.Swap)
	//nolint:staticcheck // kernel memory is deprecated but still in the spec.
	set(&m.Kernel, n.Kernel)
	set(&m.KernelTCP, n.KernelTCP)
	set(&m.Swappiness, n.Swappiness)
	set(&m.DisableOOMKiller, n.DisableOOMKiller)
	set(&m.UseHierarchy, n.UseHierarchy)
	set(&m.CheckBeforeUpdate, n.CheckBeforeUpdate)
}

func mergeCPU(c, n *specs.LinuxCPU) {
	set(&c.Shares, n.Shares)
	set(&c.Burst, n.Burst)
	set(&c.RealtimeRuntime, n.RealtimeRuntime)
	set(&c.RealtimePeriod, n.RealtimePeriod)
	set(&c.Idle, n.Idle)
	// runc: quota and period set alone leave the other at its old value;
	// a zero (runc's "unset") changes nothing.
	if n.Quota != nil && *n.Quota != 0 {
		set(&c.Quota, n.Quota)
	}
	if n.Period != nil && *n.Period != 0 {
		set(&c.Period, n.Period)
	}
	if n.Cpus != "" {
		c.Cpus = n.Cpus
	}
	if n.Mems != "" {
		c.Mems = n.Mems
	}
}

// Pause freezes every process of a running (or created) container, as
// `runc pause`.
func (r *Runtime) Pause(id string) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.require(OpPause); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Freeze(); err != nil {
		_ = cg.Thaw()
		return err
	}
	if err := c.setStatus(Paused); err != nil {
		_ = cg.Thaw()
		return err
	}
	if err := c.save(); err != nil {
		_ = cg.Thaw()
		return err
	}
	return nil
}

// ErrNotPaused is runc's error for resuming a container that is not paused.
var ErrNotPaused = errdefs.New(errdefs.ErrFailedPrecondition, "container not paused")

// Resume thaws a paused container, as `runc resume`.
func (r *Runtime) Resume(id string) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.require(OpResume); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Thaw(); err != nil {
		return err
	}
	// A container paused before start has its exec fifo still: Status
	// reports it created again.
	if err := c.setStatus(Running); err != nil {
		return err
	}
	return c.save()
}

// OOMKilled reports whether the OOM killer has killed a process of the
// container (its init or any other). The count is read from the cgroup
// while it exists and recorded in the state once the container stopped,
// so the answer holds until delete.
func (r *Runtime) OOMKilled(id string) (bool, error) {
	c, err := r.Load(id)
	if err != nil {
		return false, err
	}
	defer c.Close()
	n, err := c.oomKillCount()
	return n > 0, err
}

// oomKillCount returns the container's OOM kill count, recording it in
// the state when the container has stopped.
func (c *Container) oomKillCount() (uint64, error) {
	if len(c.State.CgroupPaths) == 0 {
		return c.State.OOMKillCount, nil
	}
	cg, err := c.cgroup()
	if err != nil {
		return c.State.OOMKillCount, err
	}
	n, err := cg.OOMKillCount()
	if err != nil {
		// The cgroup may be gone (removed by hand); keep what we recorded.
		return c.State.OOMKillCount, nil
	}
	if n > c.State.OOMKillCount {
		c.State.OOMKillCount = n
		if c.Status() == Stopped {
			if err := c.save(); err != nil {
				return n, err
			}
		}
	}
	return c.State.OOMKillCount, nil
}

// Stats returns the resource usage of the container's cgroup.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.require(OpStats); err != nil {
		return nil, err
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// Event is one line of `events`, in runc's JSON shape.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// EventsOpts are the options of Events.
type EventsOpts struct {
	// Interval between two stats events; 0 means 5 s (runc's default).
	Interval time.Duration
	// StatsOnce sends one stats event and returns (runc's --stats).
	StatsOnce bool
}

// Events sends the container's events to emit: a "stats" event every
// interval and an "oom" event per OOM kill in its cgroup. It returns when
// the container stops or is deleted (after reporting the OOM kills that
// happened up to then), when ctx ends, or at once after one stats event
// with StatsOnce. The container is not kept locked meanwhile.
func (r *Runtime) Events(ctx context.Context, id string, o EventsOpts, emit func(Event) error) error {
	if o.Interval < 0 {
		return errors.New("duration interval must be greater than 0")
	}
	if o.Interval == 0 {
		o.Interval = 5 * time.Second
	}
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	if _, err := c.require(OpStats); err != nil {
		c.Close()
		return err
	}
	pid, pidStart := c.State.Pid, c.State.PidStart
	cg, err := c.cgroup()
	c.Close()
	if err != nil {
		return err
	}
	stats := func() error {
		s, err := cg.Stats()
		if err != nil {
			return err
		}
		return emit(Event{Type: "stats", ID: id, Data: s})
	}
	if o.StatsOnce {
		return stats()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// OOM kills are counted from now on; events before we started are
	// not reported (as with runc's eventfd). Each notification is one
	// kill at least; the counter, while the cgroup exists, says how many
	// (and catches a kill whose notification raced the init's end). The
	// systemd driver's scope, and with it the counter, may be gone right
	// after the kill, so a notification counts even when it cannot be read.
	seen, _ := cg.OOMKillCount()
	oomc, err := cg.NotifyOOM(ctx)
	if err != nil {
		r.Log.Warnf("events: OOM notifications unavailable: %v", err)
		oomc = nil
	}
	emitOOM := func(atLeast uint64) error {
		n, err := cg.OOMKillCount()
		if err != nil || n < atLeast {
			n = atLeast
		}
		for ; seen < n; seen++ {
			if err := emit(Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		return nil
	}
	oom := func() error { return emitOOM(seen) }

	// The init's end (a pidfd turns readable) ends the stream.
	gone := make(chan struct{})
	if pfd, err := unix.PidfdOpen(pid, 0); err == nil && processAlive(pid, pidStart) {
		go func() {
			defer unix.Close(pfd)
			defer close(gone)
			for ctx.Err() == nil {
				fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
				n, err := unix.Poll(fds, 200)
				if err != nil && err != unix.EINTR {
					return
				}
				if n > 0 {
					return
				}
			}
		}()
	} else {
		if err == nil {
			unix.Close(pfd)
		}
		close(gone)
	}

	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-oomc:
			if !ok {
				// The cgroup went away: the container is deleted (or
				// its scope stopped).
				return oom()
			}
			if err := emitOOM(seen + 1); err != nil {
				return err
			}
		case <-tick.C:
			if err := oom(); err != nil {
				return err
			}
			if err := stats(); err != nil {
				if !r.exists(id) {
					return nil
				}
				r.Log.Warnf("events: %v", err)
			}
		case <-gone:
			// Give the kernel's OOM accounting a moment to catch up
			// with the death it caused, then report what happened.
			time.Sleep(50 * time.Millisecond)
			if _, err := cg.OOMKillCount(); err == nil || oomc == nil {
				return oom()
			}
			// The cgroup went with the init (a systemd scope is removed
			// once empty): what the notifier read before that is all
			// there is. It closes its channel when it sees the cgroup gone.
			pending := uint64(0)
			timeout := time.After(2 * time.Second)
			for oomc != nil {
				select {
				case _, ok := <-oomc:
					if !ok {
						oomc = nil
					} else {
						pending++
					}
				case <-timeout:
					oomc = nil
				}
			}
			return emitOOM(seen + pending)
		}
	}
}

// exists reports whether container id still has state.
func (r *Runtime) exists(id string) bool {
	c, err := r.Load(id)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// freezeSignal signals every process of the cgroup with the cgroup frozen,
// so none escapes by forking (runc's signalAllProcesses). A cgroup that
// was already frozen (paused) stays frozen unless sig is SIGKILL, which a
// frozen v1 task would not act on until thawed.
func freezeSignal(cg cgroups.Manager, sig unix.Signal, warn func(string, ...any)) error {
	wasFrozen, ferr := cg.Frozen()
	froze := false
	if ferr == nil && !wasFrozen {
		if err := cg.Freeze(); err != nil {
			warn("freezing the cgroup before signalling: %v", err)
			_ = cg.Thaw()
		} else {
			froze = true
		}
	}
	defer func() {
		if froze || (wasFrozen && sig == unix.SIGKILL) {
			if err := cg.Thaw(); err != nil {
				warn("thawing the cgroup after signalling: %v", err)
			}
		}
	}()
	pids, err := cg.Procs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("signalling pid %d: %w", pid, err)
		}
	}
	return nil
}
