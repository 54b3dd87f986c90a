package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"time"
)

// Event is one line of <StateDir>/<name>/events.jsonl, shaped like a
// Kubernetes event (type Normal/Warning, reason, object, message).
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Object  string    `json:"object"`
	Message string    `json:"message"`
}

// Event types.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// eventLog appends events; each is one write of one line (O_APPEND).
type eventLog struct{ f *os.File }

func openEventLog(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &eventLog{f: f}, nil
}

func (l *eventLog) add(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_, _ = l.f.Write(append(b, '\n'))
}

// ReadEvents returns the events recorded at path (none when it is missing).
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
