package supervisor

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/procstat"
)

// reaper reaps orphans: as a child subreaper the supervisor inherits the
// processes a container leaves behind when their parent dies (hostPID
// pods; in a pod's own PID namespace its init reaps them). Its own
// children are reaped by their owners (the run watchers, exec.Cmd.Wait,
// runtime.LightExec), so the reaper must never take one of those. Two
// rules: children the supervisor spawns through spawn are registered
// (spawning holds the lock shared, so no sweep runs between fork and
// registration) and never reaped; any other zombie is reaped only when a
// later sweep (one second on) still finds the same zombie, as a child
// whose owner waits for it is reaped by the owner within microseconds.
// Sweeps run on SIGCHLD, and once more when there are candidates: no
// polling otherwise.
type reaper struct {
	// spawning is held shared while children are started and registered,
	// exclusively by a sweep.
	spawning sync.RWMutex
	mu       sync.Mutex // guards known
	known    map[int]bool
	// candidates are the unknown zombies seen so far: when each was first
	// seen, by pid and start time; only the sweep touches it.
	candidates map[candidate]time.Time
	again      chan struct{}
}

func newReaper() *reaper {
	return &reaper{known: map[int]bool{}, candidates: map[candidate]time.Time{}, again: make(chan struct{}, 1)}
}

type candidate struct {
	pid   int
	start uint64
}

// orphanAge is how long an unknown zombie must stay one to be reaped.
const orphanAge = time.Second

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

// run sweeps on every SIGCHLD, and a second later while there are
// candidates, until done closes.
func (r *reaper) run(done <-chan struct{}) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	defer signal.Stop(ch)
	for {
		select {
		case <-done:
			return
		case <-ch:
		case <-r.again:
		}
		if r.sweep() {
			time.AfterFunc(orphanAge, func() {
				select {
				case r.again <- struct{}{}:
				default:
				}
			})
		}
	}
}

// sweep reaps the unknown zombies that have been zombies for orphanAge and
// reports whether younger candidates wait for a later sweep.
func (r *reaper) sweep() bool {
	r.spawning.Lock()
	defer r.spawning.Unlock()
	if !zombieChild() {
		// The usual case: the child that sent SIGCHLD is already reaped
		// by its owner. One syscall instead of a /proc scan per thread.
		r.candidates = map[candidate]time.Time{}
		return false
	}
	now := time.Now()
	next := map[candidate]time.Time{}
	for _, pid := range children() {
		if r.isKnown(pid) {
			continue
		}
		start, state, err := procstat.Read(pid)
		if err != nil || state != 'Z' {
			continue
		}
		c := candidate{pid, start}
		seen, ok := r.candidates[c]
		if !ok {
			seen = now
		}
		if now.Sub(seen) >= orphanAge {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			continue
		}
		next[c] = seen
	}
	r.candidates = next
	return len(next) > 0
}

// zombieChild reports whether some child is a zombie (waitid with
// WNOWAIT: nothing is reaped).
func zombieChild() bool {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return false
	}
	// si_pid follows si_signo, si_errno, si_code and padding: offset 16
	// on 64-bit Linux; 0 when no child has exited.
	return *(*int32)(unsafe.Add(unsafe.Pointer(&info), 16)) != 0
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
