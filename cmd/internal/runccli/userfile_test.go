package runccli

import (
	"flag"
	"testing"

	"github.com/podrun/podrun/internal/testutil"
	"github.com/urfave/cli/v2"
)

// The files users hand to exec --process (and pod run -f: podrun-pod) are read by
// userfile: refused at once if not regular, capped, depth-checked, with
// one line naming the file and the limit.
func TestUserFilesHostileInput(t *testing.T) {
	fifo, deep := testutil.HostileUserFiles(t)
	process := func(path string) error {
		fs := flag.NewFlagSet("exec", flag.ContinueOnError)
		if err := (&cli.StringFlag{Name: "process"}).Apply(fs); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse([]string{"--process", path}); err != nil {
			t.Fatal(err)
		}
		_, _, err := execProcess(cli.NewContext(cli.NewApp(), fs, nil))
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
