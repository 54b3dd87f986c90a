package supervisor

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper reaps orphans: as a child subreaper the supervisor inherits the
// processes a container leaves behind when their parent dies (hostPID
// pods; in a pod's own PID namespace its init reaps them). Its own
// children are reaped by their owners (the run watchers, exec.Cmd.Wait),
// so the reaper must never take one of those: every child the supervisor
// spawns is registered (spawning holds the lock shared, so no sweep runs
// between fork and registration), and only unregistered zombies are
// reaped. Sweeps run on SIGCHLD only.
type reaper struct {
	// spawning is held shared while children are started and registered,
	// exclusively by a sweep.
	spawning sync.RWMutex
	mu       sync.Mutex // guards known
	known    map[int]bool
}

func newReaper() *reaper { return &reaper{known: map[int]bool{}} }

// spawn runs f, which starts children and returns their pids, so that
// they are known before any sweep can see them. A nil reaper just runs f.
func (r *reaper) spawn(f func() []int) {
	if r == nil {
		f()
		return
	}
	r.spawning.RLock()
	defer r.spawning.RUnlock()
	r.add(f()...)
}

func (r *reaper) add(pids ...int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range pids {
		if p > 0 {
			r.known[p] = true
		}
	}
}

// forget drops a child its owner has reaped.
func (r *reaper) forget(pid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.known, pid)
}

func (r *reaper) isKnown(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known[pid]
}

// run sweeps on every SIGCHLD until done closes.
func (r *reaper) run(done <-chan struct{}) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	defer signal.Stop(ch)
	for {
		select {
		case <-done:
			return
		case <-ch:
			r.sweep()
		}
	}
}

func (r *reaper) sweep() {
	r.spawning.Lock()
	defer r.spawning.Unlock()
	for _, pid := range children() {
		if r.isKnown(pid) {
			continue
		}
		if _, state, err := procStat(pid); err != nil || state != 'Z' {
			continue
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

// children lists the supervisor's children (of every thread: an orphan is
// re-parented to some thread of the subreaper).
func children() []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
