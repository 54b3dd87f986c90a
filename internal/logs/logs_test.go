package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var fixed = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func newFixed(t *testing.T, w *bytes.Buffer, format string, debug bool) *Logger {
	t.Helper()
	l, err := New(w, format, debug)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return fixed }
	return l
}

func TestFormats(t *testing.T) {
	tests := []struct {
		format string
		level  Level
		msg    string
		want   string
	}{
		{"json", LevelError, "boom", `{"level":"error","msg":"boom","time":"2024-05-06T07:08:09Z"}` + "\n"},
		{"json", LevelWarn, `say "hi" <&>`, `{"level":"warning","msg":"say \"hi\" \u003c\u0026\u003e","time":"2024-05-06T07:08:09Z"}` + "\n"},
		{"json", LevelInfo, "line\n", `{"level":"info","msg":"line","time":"2024-05-06T07:08:09Z"}` + "\n"},
		{"json", LevelDebug, "a\nb", `{"level":"debug","msg":"a\nb","time":"2024-05-06T07:08:09Z"}` + "\n"},
		{"text", LevelError, "container not running", `time="2024-05-06T07:08:09Z" level=error msg="container not running"` + "\n"},
		{"text", LevelInfo, "simple-word_1.2/x@y^z+", `time="2024-05-06T07:08:09Z" level=info msg=simple-word_1.2/x@y^z+` + "\n"},
		{"text", LevelWarn, `q"t`, `time="2024-05-06T07:08:09Z" level=warning msg="q\"t"` + "\n"},
		{"", LevelError, "", `time="2024-05-06T07:08:09Z" level=error` + "\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := newFixed(t, &buf, tt.format, true)
		if err := l.Log(tt.level, tt.msg); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("%s %v %q:\n got %s\nwant %s", tt.format, tt.level, tt.msg, got, tt.want)
		}
	}
}

func TestJSONKeys(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "json", false)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	l.Errorf("create failed: %s %d", "x", 1)
	var m map[string]string
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", buf.String(), err)
	}
	if len(m) != 3 || m["level"] != "error" || m["msg"] != "create failed: x 1" {
		t.Fatalf("bad object %v", m)
	}
	ts, err := time.Parse(time.RFC3339, m["time"])
	if err != nil {
		t.Fatalf("time %q: %v", m["time"], err)
	}
	if ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Fatalf("time %v is not now", ts)
	}
}

func TestLevelFiltering(t *testing.T) {
	for _, debug := range []bool{false, true} {
		var buf bytes.Buffer
		l := newFixed(t, &buf, "json", debug)
		l.Debugf("d")
		l.Infof("i")
		l.Warnf("w")
		l.Errorf("e")
		var levels []string
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var e Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			levels = append(levels, e.Level+"="+e.Msg)
		}
		want := "info=i warning=w error=e"
		if debug {
			want = "debug=d " + want
		}
		if got := strings.Join(levels, " "); got != want {
			t.Errorf("debug=%v: got %q, want %q", debug, got, want)
		}
		if l.Enabled(LevelDebug) != debug {
			t.Errorf("Enabled(debug) = %v with debug=%v", !debug, debug)
		}
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	var l *Logger
	l.Errorf("nothing %d", 1)
	l.ForwardLine([]byte(`{"level":"error","msg":"x"}`))
	if l.Enabled(LevelError) {
		t.Fatal("nil logger enabled")
	}
	var z Logger
	z.Errorf("nothing")
}

func TestUnknownFormat(t *testing.T) {
	_, err := New(os.Stderr, "xml", false)
	if err == nil || err.Error() != `unknown log-format "xml"` {
		t.Fatalf("got %v", err)
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"error", LevelError, true},
		{"fatal", LevelError, true},
		{"panic", LevelError, true},
		{"warning", LevelWarn, true},
		{"WARN", LevelWarn, true},
		{"info", LevelInfo, true},
		{"debug", LevelDebug, true},
		{"trace", LevelDebug, true},
		{"loud", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// A child logs JSON into a pipe; the parent forwards it to its own log in
// its own format and level filter.
func TestForward(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	child, _ := New(w, "json", true)
	child.Debugf("child debug")
	child.Errorf("exec: %q: no such file", "/bin/nope")
	w.WriteString("plain text from init\n\n")
	w.WriteString(`{"level":"bogus","msg":"m"}` + "\n")
	w.WriteString(`{"level":"fatal","msg":"no newline at EOF"}`)
	w.Close()

	var buf bytes.Buffer
	parent := newFixed(t, &buf, "text", false)
	if err := parent.Forward(r); err != nil {
		t.Fatal(err)
	}
	want := `time="2024-05-06T07:08:09Z" level=error msg="exec: \"/bin/nope\": no such file"
time="2024-05-06T07:08:09Z" level=error msg="plain text from init"
time="2024-05-06T07:08:09Z" level=error msg="{\"level\":\"bogus\",\"msg\":\"m\"}"
time="2024-05-06T07:08:09Z" level=error msg="no newline at EOF"
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	return len(p), nil
}

func TestOneWritePerLine(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var cw countingWriter
		l, _ := New(&cw, format, true)
		l.Errorf("%s", strings.Repeat("x", 10000))
		l.Debugf("short")
		if len(cw.writes) != 2 {
			t.Fatalf("%s: %d writes, want 2", format, len(cw.writes))
		}
		for _, w := range cw.writes {
			if strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") {
				t.Errorf("%s: write is not one line: %.60q", format, w)
			}
		}
	}
}

// Several loggers (as several podrun processes would) append to one file
// opened by OpenFile: every line must come out whole.
func TestSharedAppendFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	const writers, lines = 4, 200
	var wg sync.WaitGroup
	for i := range writers {
		f, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		l, _ := New(f, "json", false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range lines {
				l.Errorf("writer %d line %d %s", i, j, strings.Repeat("y", 300))
			}
		}()
	}
	wg.Wait()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mask := os.FileMode(unix.Umask(0))
	unix.Umask(int(mask))
	if want := FileMode &^ mask; fi.Mode().Perm() != want {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), want)
	}
	data, _ := os.ReadFile(path)
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Level != "error" {
			t.Fatalf("line %d broken: %q", n, sc.Text())
		}
		n++
	}
	if n != writers*lines {
		t.Fatalf("%d lines, want %d", n, writers*lines)
	}
}
