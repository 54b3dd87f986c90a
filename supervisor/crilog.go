package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CRI log format (kubelet's pkg/kubelet/kuberuntime/logs, containerd's
// cio): one line per record,
//
//	2016-10-06T00:17:09.669794202Z stdout F the message
//
// with tag F for a full line and P for a piece of a line longer than the
// line buffer (the rest follows in later records).
const (
	tagFull    = "F"
	tagPartial = "P"
	// maxLogLine is containerd's default max_container_log_line_size.
	maxLogLine = 16 * 1024
)

// LogWriter writes one container run's stdout and stderr into a CRI log
// file, rotating it when it outgrows MaxSize: path -> path.1 -> ... ->
// path.(MaxFiles-1), the oldest dropped, so at most MaxFiles files exist.
type LogWriter struct {
	path     string
	maxSize  int64
	maxFiles int
	now      func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLog opens (appending) the log file at path.
func OpenLog(path string, maxSize int64, maxFiles int, now func() time.Time) (*LogWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if maxFiles < 1 {
		maxFiles = 1
	}
	if now == nil {
		now = time.Now
	}
	return &LogWriter{path: path, maxSize: maxSize, maxFiles: maxFiles, now: now, f: f, size: st.Size()}, nil
}

// Record appends one record of stream ("stdout"/"stderr").
func (w *LogWriter) Record(stream string, partial bool, msg []byte) error {
	tag := tagFull
	if partial {
		tag = tagPartial
	}
	var b bytes.Buffer
	b.Grow(len(msg) + 48)
	b.WriteString(w.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(msg)
	b.WriteByte('\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(b.Len()) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b.Bytes())
	w.size += int64(n)
	return err
}

// rotate shifts path.i to path.i+1 (dropping the last) and starts an empty
// path. Readers holding the old file keep reading it to its end.
func (w *LogWriter) rotate() error {
	if w.maxFiles == 1 {
		// Only one file allowed: start it over.
		if err := w.f.Truncate(0); err != nil {
			return err
		}
		w.size = 0
		return nil
	}
	_ = os.Remove(fmt.Sprintf("%s.%d", w.path, w.maxFiles-1))
	for i := w.maxFiles - 2; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", w.path, i), fmt.Sprintf("%s.%d", w.path, i+1))
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	w.f.Close()
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Copy reads r (a container's stdout or stderr pipe) until EOF and writes
// its lines as records of stream; a line longer than maxLogLine is split
// into partial records.
func (w *LogWriter) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := w.Record(stream, false, line[:len(line)-1]); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.Record(stream, true, line); werr != nil {
				return werr
			}
		default:
			// EOF (or a read error) ends the stream; a last line without
			// newline is still a line.
			if len(line) > 0 {
				if werr := w.Record(stream, false, line); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// LogRecord is one parsed CRI log line.
type LogRecord struct {
	Time    time.Time
	Stream  string
	Partial bool
	Msg     []byte
}

// ErrBadLogLine is a line not in CRI format.
var ErrBadLogLine = errors.New("not a CRI log line")

// ParseLogLine parses one line (without its newline).
func ParseLogLine(line []byte) (LogRecord, error) {
	var r LogRecord
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		return r, ErrBadLogLine
	}
	t, err := time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return r, ErrBadLogLine
	}
	r.Time, r.Stream = t, string(parts[1])
	switch string(parts[2]) {
	case tagFull:
	case tagPartial:
		r.Partial = true
	default:
		return r, ErrBadLogLine
	}
	if len(parts) == 4 {
		r.Msg = parts[3]
	}
	return r, nil
}

// LogFiles returns the files of one run's log, oldest first: the rotated
// path.N ... path.1, then path.
func LogFiles(path string) []string {
	var rotated []int
	dir, base := filepath.Dir(path), filepath.Base(path)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), base+"."); ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				rotated = append(rotated, n)
			}
		}
	}
	// Highest number is oldest.
	for i := 1; i < len(rotated); i++ {
		for j := i; j > 0 && rotated[j] > rotated[j-1]; j-- {
			rotated[j], rotated[j-1] = rotated[j-1], rotated[j]
		}
	}
	out := make([]string, 0, len(rotated)+1)
	for _, n := range rotated {
		out = append(out, fmt.Sprintf("%s.%d", path, n))
	}
	return append(out, path)
}

// WriteMessages copies the message parts of the records in r to out:
// full records end a line, partial ones continue it.
func WriteMessages(out io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			rec, perr := ParseLogLine(line[:len(line)-1])
			if perr == nil {
				if _, werr := out.Write(rec.Msg); werr != nil {
					return werr
				}
				if !rec.Partial {
					if _, werr := out.Write([]byte{'\n'}); werr != nil {
						return werr
					}
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
