package sysmon

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestThread(t *testing.T) {
	for _, c := range []struct {
		pid  int
		tids []int
		want int
		ok   bool
	}{
		{100, []int{100, 101, 102, 105}, 101, true},
		{100, []int{105, 100, 103, 101}, 101, true},
		{100, []int{100, 140, 120}, 120, true},
		{100, []int{100}, 0, false},         // no other thread
		{100, []int{100, 101, 7}, 0, false}, // ids wrapped around
		{100, nil, 0, false},
	} {
		got, ok := Thread(c.pid, c.tids)
		if got != c.want || ok != c.ok {
			t.Errorf("Thread(%d, %v) = %d, %v; want %d, %v", c.pid, c.tids, got, ok, c.want, c.ok)
		}
	}
}

// Relax changes the first thread's slack and no other's (root only: it
// takes CAP_SYS_NICE).
func TestRelax(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE)")
	}
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	Relax()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		tids = append(tids, tid)
	}
	first, ok := Thread(os.Getpid(), tids)
	if !ok {
		t.Skip("thread ids wrapped around")
	}
	for _, tid := range tids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
		if err != nil {
			t.Fatal(err)
		}
		got, want := strings.TrimSpace(string(b)), strconv.Itoa(own)
		if tid == first {
			want = strconv.Itoa(Slack)
		}
		if got != want {
			t.Errorf("thread %d (first %d): timer slack %s, want %s", tid, first, got, want)
		}
	}
	// And that thread is sysmon: with a goroutine busy (else sysmon
	// sleeps on a futex), it is mostly in nanosleep, which no other
	// runtime thread sleeps in for long.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for i := 0; ; i++ {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(first) + "/syscall")
		if err != nil {
			t.Fatal(err)
		}
		if nr, _, _ := strings.Cut(string(b), " "); nr == strconv.Itoa(unix.SYS_NANOSLEEP) {
			break
		}
		if i == 2000 {
			t.Fatalf("thread %d never seen in nanosleep: not sysmon? last: %q", first, b)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
