// Package logs writes podrun's log lines in the formats runc (logrus) uses
// for --log FILE --log-format text|json --debug, so that containerd's shim
// and conmon can read them, and forwards the log lines that another podrun
// process (the container init) sends to its parent.
//
// A Logger is a plain value that is constructed once and passed around;
// there is no package-level logger. Each line is emitted with exactly one
// Write call, so several podrun processes can share one O_APPEND file
// without interleaving.
package logs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Level is the severity of a log line. Lower is more severe.
type Level int

// Levels, with the names logrus writes in its "level" field.
const (
	LevelError Level = iota // "error"
	LevelWarn               // "warning"
	LevelInfo               // "info"
	LevelDebug              // "debug"
)

// String returns the name logrus uses for l.
func (l Level) String() string {
	switch l {
	case LevelError:
		return "error"
	case LevelWarn:
		return "warning"
	case LevelInfo:
		return "info"
	case LevelDebug:
		return "debug"
	}
	return "unknown"
}

// ParseLevel accepts the level names logrus accepts (case-insensitive).
// logrus's panic and fatal map to LevelError and trace to LevelDebug, so
// a forwarded fatal line is still found by readers that look for
// "level":"error".
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "panic", "fatal", "error":
		return LevelError, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "info":
		return LevelInfo, nil
	case "debug", "trace":
		return LevelDebug, nil
	}
	return LevelError, fmt.Errorf("not a valid log level: %q", s)
}

// Formats accepted by New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// FileFlags and FileMode are how OpenFile opens a --log file (os.OpenFile
// adds O_CLOEXEC, so the file does not leak into the container).
const (
	FileFlags             = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	FileMode  os.FileMode = 0o644
)

// OpenFile opens (creating it if needed) the --log file for appending.
func OpenFile(path string) (*os.File, error) {
	return os.OpenFile(path, FileFlags, FileMode)
}

// Logger writes formatted log lines to one writer. The zero value and a
// nil *Logger discard everything. A Logger is safe for concurrent use.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	max  Level
	now  func() time.Time
}

// New returns a Logger writing to w in format ("text", "json"; "" means
// text). Debug lines are written only when debug is true; info, warning
// and error lines always are, as with runc. An unknown format is an error
// with runc's text: unknown log-format "X".
func New(w io.Writer, format string, debug bool) (*Logger, error) {
	l := &Logger{w: w, max: LevelInfo, now: time.Now}
	switch format {
	case "", FormatText:
	case FormatJSON:
		l.json = true
	default:
		return nil, fmt.Errorf("unknown log-format %q", format)
	}
	if debug {
		l.max = LevelDebug
	}
	return l, nil
}

// Enabled reports whether lines at level would be written. Use it to skip
// expensive formatting of debug output.
func (l *Logger) Enabled(level Level) bool {
	return l != nil && l.w != nil && level <= l.max
}

// Debugf logs at debug level (only with --debug).
func (l *Logger) Debugf(format string, args ...any) { l.logf(LevelDebug, format, args) }

// Infof logs at info level.
func (l *Logger) Infof(format string, args ...any) { l.logf(LevelInfo, format, args) }

// Warnf logs at warning level.
func (l *Logger) Warnf(format string, args ...any) { l.logf(LevelWarn, format, args) }

// Errorf logs at error level. containerd's shim reports the msg of the
// last error line of a failed create as "OCI runtime create failed: msg".
func (l *Logger) Errorf(format string, args ...any) { l.logf(LevelError, format, args) }

func (l *Logger) logf(level Level, format string, args []any) {
	if !l.Enabled(level) {
		return
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	_ = l.Log(level, msg)
}

// Log writes msg at level as one line with a single Write call. A single
// trailing newline in msg is dropped. It returns the write error, if any.
func (l *Logger) Log(level Level, msg string) error {
	if !l.Enabled(level) {
		return nil
	}
	msg = strings.TrimSuffix(msg, "\n")
	t := l.now()
	var line []byte
	if l.json {
		line = appendJSON(nil, level, msg, t)
	} else {
		line = appendText(nil, level, msg, t)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(line)
	return err
}

// appendJSON formats a line like logrus's JSONFormatter: the keys sorted
// (level, msg, time), RFC 3339 time, a trailing newline.
func appendJSON(b []byte, level Level, msg string, t time.Time) []byte {
	b = append(b, `{"level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":`...)
	m, _ := json.Marshal(msg) // a string always marshals
	b = append(b, m...)
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339)
	b = append(b, "\"}\n"...)
	return b
}

// appendText formats a line like logrus's TextFormatter writing to a file:
// time="..." level=... msg=..., values quoted only when logrus would.
func appendText(b []byte, level Level, msg string, t time.Time) []byte {
	b = append(b, "time="...)
	b = appendTextValue(b, t.Format(time.RFC3339))
	b = append(b, " level="...)
	b = append(b, level.String()...)
	if msg != "" {
		b = append(b, " msg="...)
		b = appendTextValue(b, msg)
	}
	return append(b, '\n')
}

func appendTextValue(b []byte, s string) []byte {
	if !needsQuoting(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// needsQuoting is logrus's rule: anything but [A-Za-z0-9-._/@^+] quotes.
func needsQuoting(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '/', c == '@', c == '^', c == '+':
		default:
			return true
		}
	}
	return false
}

// Entry is one line a child process sends to its parent: the shape of a
// JSON log line, of which only level and msg are used.
type Entry struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// ForwardLine re-logs one line produced by another process. A JSON line
// {"level":...,"msg":...} (what a Logger made with format "json" writes)
// is logged at its level with its msg and a fresh time; any other
// non-blank line is logged verbatim at error level, so that an init's
// plain error text still reaches the log file.
func (l *Logger) ForwardLine(line []byte) {
	text := strings.TrimRight(string(line), "\r\n")
	if strings.TrimSpace(text) == "" {
		return
	}
	var e Entry
	if text[0] == '{' && json.Unmarshal([]byte(text), &e) == nil {
		if lvl, err := ParseLevel(e.Level); err == nil {
			_ = l.Log(lvl, e.Msg)
			return
		}
	}
	_ = l.Log(LevelError, text)
}

// Forward reads lines from r (the read end of a child's log pipe) until
// EOF and passes each to ForwardLine. It returns nil at EOF or the read
// error. Run it in a goroutine while the child runs.
func (l *Logger) Forward(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			l.ForwardLine(line)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}
