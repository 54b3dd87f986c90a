package supervisor

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubelet's fallback message: the last 80 lines of the log, at most
// 2 KiB, partial records joined into their line.
func TestTailMessages(t *testing.T) {
	p := filepath.Join(t.TempDir(), "0.log")
	w, err := OpenLog(p, 0, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := w.Record("stdout", false, []byte(fmt.Sprintf("line %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	w.Record("stderr", true, []byte("par"))
	w.Record("stderr", false, []byte("tial"))
	w.Close()
	got := TailMessages(p, 80, 2048)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 80 || lines[0] != "line 21" || lines[79] != "partial" {
		t.Errorf("%d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	if got := TailMessages(p, 80, 10); got != "9\npartial\n" {
		t.Errorf("cut to 10 bytes: %q", got)
	}
	if got := TailMessages(filepath.Join(t.TempDir(), "none.log"), 80, 2048); got != "" {
		t.Errorf("no log: %q", got)
	}
}
