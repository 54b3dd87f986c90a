package runccli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// The files users hand to exec --process (and pod run -f: podrun-pod) are read by
// userfile: refused at once if not regular, capped, depth-checked, with
// one line naming the file and the limit.
func TestUserFilesHostileInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.json")
	if err := os.WriteFile(deep, []byte(`{"args":`+strings.Repeat("[", 200000)), 0o600); err != nil {
		t.Fatal(err)
	}
	process := func(path string) error {
		fs := flag.NewFlagSet("exec", flag.ContinueOnError)
		if err := (&cli.StringFlag{Name: "process"}).Apply(fs); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse([]string{"--process", path}); err != nil {
			t.Fatal(err)
		}
		_, err := execProcess(cli.NewContext(cli.NewApp(), fs, nil), nil, "id")
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"--process FIFO", process(fifo), "--process " + fifo + ": not a regular file (a FIFO)"},
		{"--process /dev/zero", process("/dev/zero"), "--process /dev/zero: not a regular file (a character device)"},
		{"--process deep", process(deep), "--process " + deep + ": nested more than 100 levels deep"},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
}
