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

// maxEventsFile bounds events.jsonl: past it the file becomes
// events.jsonl.1 (replacing the older one), so a probe failing every
// second for months keeps at most twice this on disk.
const maxEventsFile = 1 << 20

// eventLog appends events; each is one write of one line (O_APPEND).
type eventLog struct {
	path string
	f    *os.File
	size int64
}

func openEventLog(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &eventLog{path: path, f: f}
	if st, err := f.Stat(); err == nil {
		l.size = st.Size()
	}
	return l, nil
}

func (l *eventLog) add(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	if l.size+int64(len(b)) > maxEventsFile {
		if err := os.Rename(l.path, l.path+".1"); err == nil {
			if f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
				l.f.Close()
				l.f, l.size = f, 0
			}
		}
	}
	n, _ := l.f.Write(append(b, '\n'))
	l.size += int64(n)
}

// ReadEvents returns the events recorded at path (and its rotated
// predecessor), oldest first; none when there are none.
func ReadEvents(path string) ([]Event, error) {
	var out []Event
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				out = append(out, e)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
