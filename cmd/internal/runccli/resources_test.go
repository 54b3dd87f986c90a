package runccli

import (
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"-1": -1, "0": 0, "1024": 1024, "100M": 100 << 20, "100m": 100 << 20, "100MB": 100 << 20,
		"100MiB": 100 << 20, "1g": 1 << 30, "1.5G": 3 << 29, "512k": 512 << 10, "2 KiB": 2048, "1t": 1 << 40,
	} {
		got, err := ramInBytes(in)
		if err != nil || got != want {
			t.Errorf("ramInBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-2", "1x", "M", "1.2.3.q"} {
		if _, err := ramInBytes(in); err == nil {
			t.Errorf("ramInBytes(%q): no error", in)
		}
	}
}

func parseUpdate(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	for _, f := range updateFlags() {
		if err := f.Apply(fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(cli.NewApp(), fs, nil)
}

func TestUpdateFlags(t *testing.T) {
	r, err := updateResources(parseUpdate(t, "--memory", "100M", "--memory-swap=-1", "--cpu-quota", "50000",
		"--cpu-period", "100000", "--pids-limit", "10", "--cpuset-cpus", "0", "--blkio-weight", "500", "--cpu-share", "512"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if *r.Memory.Limit != 100<<20 || *r.Memory.Swap != -1 || r.Memory.Reservation != nil {
		t.Errorf("memory %+v", r.Memory)
	}
	if *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0" || r.CPU.Burst != nil {
		t.Errorf("cpu %+v", r.CPU)
	}
	if *r.Pids.Limit != 10 || *r.BlockIO.Weight != 500 {
		t.Errorf("pids %+v blkio %+v", r.Pids, r.BlockIO)
	}
	r, err = updateResources(parseUpdate(t, "--pids-limit", "5"), nil)
	if err != nil || r.Memory != nil || r.CPU != nil || *r.Pids.Limit != 5 {
		t.Errorf("pids only: %+v, %v", r, err)
	}
	for _, args := range [][]string{{"--memory", "lots"}, {"--cpu-quota", "x"}, {"--blkio-weight", "70000"}, {"--l3-cache-schema", "L3:0=f"}} {
		if _, err := updateResources(parseUpdate(t, args...), nil); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line", args, err)
		}
	}
}

func TestUpdateResourcesJSON(t *testing.T) {
	in := strings.NewReader(`{"memory":{"limit":1048576},"unified":{"pids.max":"7"},"pids":{"limit":3}}`)
	r, err := updateResources(parseUpdate(t, "--resources", "-", "--memory", "5M"), in)
	if err != nil {
		t.Fatal(err)
	}
	// As runc: with --resources, the other flags are ignored.
	if *r.Memory.Limit != 1<<20 || r.Unified["pids.max"] != "7" || *r.Pids.Limit != 3 {
		t.Errorf("got %+v", r)
	}
	if _, err := updateResources(parseUpdate(t, "--resources=-"), strings.NewReader("{")); err == nil {
		t.Error("malformed JSON accepted")
	}
}

// --resources is read as every user file is (userfile): a FIFO or a device
// is refused without blocking, stdin is capped, deep nesting is refused.
func TestUpdateResourcesHostileInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 200000)
	for _, c := range []struct {
		arg   string
		stdin io.Reader
		want  string
	}{
		{"--resources=/dev/zero", nil, "--resources /dev/zero: not a regular file (a character device)"},
		{"--resources=" + fifo, nil, "not a regular file (a FIFO)"},
		{"--resources=-", io.LimitReader(zeros{}, 1<<30), "--resources -: larger than 4 MiB"},
		{"--resources=-", strings.NewReader(`{"memory":` + deep), "--resources -: nested more than 100 levels deep"},
	} {
		_, err := updateResources(parseUpdate(t, c.arg), c.stdin)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", c.arg, err, c.want)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
