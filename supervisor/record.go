package supervisor

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/pod/manifest"
)

// File names in the pod's state dir.
const (
	statusFile = "status.json"
	eventsFile = "events.jsonl"
	lockFile   = "supervisor.lock"
	sockFile   = "supervisor.sock"
	logFile    = "supervisor.log"
)

// Record is status.json: the pod's status as shown to users, plus what a
// recovered supervisor needs to carry on (live runs, back-off, config).
// It is rewritten atomically on every change.
type Record struct {
	Status manifest.PodStatus `json:"status"`
	// SupervisorPid is the supervisor that wrote the record.
	SupervisorPid int `json:"supervisorPid"`
	// Stopping: a stop was requested; nothing is (re)started any more.
	Stopping bool `json:"stopping,omitempty"`
	// Final: the supervisor is done (the pod is Succeeded or Failed and
	// its infra stopped); the status no longer changes.
	Final  bool   `json:"final,omitempty"`
	Config Config `json:"config"`
	// Runs are the container runs alive when the record was written.
	Runs map[string]RunRecord `json:"runs,omitempty"`
	// RestartAt is when a container waiting in back-off restarts.
	RestartAt map[string]PendingRestart `json:"restartAt,omitempty"`
	Backoff   map[string]BackoffEntry   `json:"backoff,omitempty"`
}

// RunRecord identifies one running container run.
type RunRecord struct {
	ID       string    `json:"id"`
	Attempt  int       `json:"attempt"`
	Pid      int       `json:"pid"`
	PidStart uint64    `json:"pidStart"`
	Started  time.Time `json:"started"`
}

// PendingRestart is a restart waiting out its back-off; Count says it is
// a restart of an exited run (restartCount grows), not a retried create.
type PendingRestart struct {
	At    time.Time `json:"at"`
	Count bool      `json:"count"`
}

// StatusPath returns the status.json of the pod whose state dir is dir.
func StatusPath(dir string) string { return filepath.Join(dir, statusFile) }

// EventsPath returns the events.jsonl of the pod whose state dir is dir.
func EventsPath(dir string) string { return filepath.Join(dir, eventsFile) }

// LoadRecord reads status.json from the pod's state dir.
func LoadRecord(dir string) (*Record, error) {
	data, err := os.ReadFile(StatusPath(dir))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, errors.New("status.json: " + err.Error())
	}
	return &r, nil
}

func (r *Record) save(dir string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(StatusPath(dir), data, 0o600)
}
