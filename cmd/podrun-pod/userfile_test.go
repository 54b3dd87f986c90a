package main

import (
	"io"
	"testing"

	"github.com/podrun/podrun/internal/testutil"
)

// The manifest users hand to pod run -f is read by userfile: refused at
// once if not regular, capped, depth-checked, with one line naming the
// file and the limit.
func TestManifestFileHostileInput(t *testing.T) {
	fifo, deep := testutil.HostileUserFiles(t)
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
