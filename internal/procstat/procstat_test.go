package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestReadSelf(t *testing.T) {
	start, state, err := Read(os.Getpid())
	// The leader thread may be running or sleeping while another thread
	// of ours reads; a live process is never a zombie or dead.
	if err != nil || start == 0 || (state != 'R' && state != 'S') {
		t.Fatalf("Read(self) = %d, %c, %v", start, state, err)
	}
}

// A comm with spaces and parentheses does not shift the fields, and an
// exited, unreaped child reads as a zombie with the same start time.
func TestReadOddCommAndZombie(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), "a) b (c")
	if err := os.WriteFile(odd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	start, _, err := Read(cmd.Process.Pid)
	if err != nil || start == 0 {
		t.Fatalf("Read(child) = %d, %v", start, err)
	}
	self, _, _ := Read(os.Getpid())
	if start < self {
		t.Errorf("child start %d before ours %d: fields misread", start, self)
	}
	// Wait for the exit without reaping: waitid(WNOWAIT) through os is not
	// exposed, so poll the state until it turns Z.
	for {
		s, state, err := Read(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if s != start {
			t.Fatalf("start time changed %d -> %d", start, s)
		}
		if state == 'Z' {
			break
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, in := range []string{"", "1 (x)", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 notanumber 20"} {
		if _, _, ok := parse([]byte(in)); ok {
			t.Errorf("parse(%q) ok, want malformed", in)
		}
	}
	if st, state, ok := parse([]byte("7 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20")); !ok || st != 4242 || state != 'S' {
		t.Errorf("parse = %d, %c, %v; want 4242, S, true", st, state, ok)
	}
}
