package supervisor

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/procstat"
)

// As a subreaper the supervisor reaps orphans it inherits, and never a
// registered child whose owner waits for it.
func TestReaperReapsOrphansOnly(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skip("no subreaper:", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	r := newReaper()
	done := make(chan struct{})
	defer close(done)
	go r.run(done)

	// A registered child that is a zombie stays for its owner.
	own := exec.Command("true")
	r.spawn(func() []int {
		if err := own.Start(); err != nil {
			t.Fatal(err)
		}
		return []int{own.Process.Pid}
	})
	for {
		if _, st, err := procstat.Read(own.Process.Pid); err != nil || st == 'Z' {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.sweep()
	r.sweep()
	if err := own.Wait(); err != nil {
		t.Fatalf("the owner's Wait after a sweep: %v", err)
	}
	r.forget(own.Process.Pid)

	// An unregistered child whose owner waits is the owner's.
	other := exec.Command("true")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("unregistered owner's Wait: %v", err)
	}

	// An orphan (its parent exited) is re-parented to us and reaped.
	parent := exec.Command("sh", "-c", "sleep 0.2 & echo $!")
	var out []byte
	r.spawn(func() []int {
		var err error
		out, err = parent.Output()
		if err != nil {
			t.Fatal(err)
		}
		return nil
	})
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	// The orphan is ours now (else the test proves nothing).
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if f[1] != strconv.Itoa(os.Getpid()) {
			t.Fatalf("orphan %d has parent %s, not us (%d)", pid, f[1], os.Getpid())
		}
	} else {
		t.Fatalf("orphan %d gone before the check: %v", pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := procstat.Read(pid)
		if err != nil {
			break // reaped: gone from /proc
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d never reaped", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
