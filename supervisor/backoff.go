package supervisor

import (
	"sync"
	"time"
)

// Backoff is kubelet's CrashLoopBackOff (flowcontrol.Backoff as used by
// kuberuntime's doBackOff): the first restart of a container is immediate,
// then each restart waits the current delay, which starts at Initial and
// doubles up to Max. An exit more than Reset after the previous one (the
// container ran that long) starts over. Times are the exits' finishedAt,
// so the answer does not depend on when it is asked.
type Backoff struct {
	Initial, Max, Reset time.Duration

	mu      sync.Mutex
	entries map[string]*BackoffEntry
}

// BackoffEntry is one container's back-off, persisted in status.json so a
// recovered supervisor keeps the crash loop's pace.
type BackoffEntry struct {
	Delay      time.Duration `json:"delay"`
	LastUpdate time.Time     `json:"lastUpdate"`
}

// OnExit records an exit of container key at finishedAt and returns how
// long after finishedAt the restart must wait (0: restart now).
func (b *Backoff) OnExit(key string, finishedAt time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = map[string]*BackoffEntry{}
	}
	e, ok := b.entries[key]
	if !ok || finishedAt.Sub(e.LastUpdate) > b.Reset {
		b.entries[key] = &BackoffEntry{Delay: b.Initial, LastUpdate: finishedAt}
		return 0
	}
	wait := e.Delay
	e.Delay = min(2*e.Delay, b.Max)
	e.LastUpdate = finishedAt
	return wait
}

// Snapshot returns a copy of every entry (for status.json).
func (b *Backoff) Snapshot() map[string]BackoffEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]BackoffEntry, len(b.entries))
	for k, e := range b.entries {
		m[k] = *e
	}
	return m
}

// Restore replaces the entries with m (a recovered supervisor's).
func (b *Backoff) Restore(m map[string]BackoffEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = make(map[string]*BackoffEntry, len(m))
	for k, e := range m {
		e := e
		b.entries[k] = &e
	}
}
