package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The manifest users hand to pod run -f is read by userfile: refused at
// once if not regular, capped, depth-checked, with one line naming the
// file and the limit.
func TestManifestFileHostileInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.json")
	if err := os.WriteFile(deep, []byte(`{"args":`+strings.Repeat("[", 200000)), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := func(path string, stdin io.Reader) error {
		_, _, _, err := readManifest(path, stdin, nil, nil)
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"-f FIFO", manifest(fifo, nil), "pod run: manifest " + fifo + ": not a regular file (a FIFO)"},
		{"-f - endless", manifest("-", io.LimitReader(zeros{}, 1<<30)), "pod run: manifest -: larger than 4 MiB"},
		{"-f deep", manifest(deep, nil), "manifest nested more than 100 levels deep"},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
}

// zeros is an endless stdin.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
