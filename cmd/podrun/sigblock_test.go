package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/sigfwd"
)

// TestMain lets TestBlockForwarded run this test binary as a podrun
// command line: dispatch.c's constructor sees that argv before the Go
// runtime starts, as it sees podrun's. It prints what the constructor did
// and the thread's mask as the kernel has it.
func TestMain(m *testing.M) {
	switch os.Getenv("PODRUN_TEST_SIGBLOCK") {
	case "catch":
		catchMain()
	case "1":
		orig, set := blockedSignals()
		var cur unix.Sigset_t
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Printf("%x %x %x\n", orig, set, cur.Val[0])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// catchMain is a `podrun run` that catches signals sent to it as
// runccli does: the blocked ones through sigfwd.Catch, the others through
// os/signal. It prints the signals in the order received.
func catchMain() {
	sigfwd.Started(blockedSignals())
	c := make(chan os.Signal, 16)
	if err := sigfwd.Catch(c); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	signal.Notify(c, unix.SIGTERM)
	for _, s := range []unix.Signal{unix.SIGUSR1, 40, 64, unix.SIGPWR, unix.SIGTERM} {
		if err := unix.Kill(os.Getpid(), s); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(int((<-c).(unix.Signal)))
	}
	os.Exit(0)
}

// TestCatch sends a process that blocked the forwarded signals in its
// constructor some of them and SIGTERM: each arrives once, in order.
func TestCatch(t *testing.T) {
	cmd := exec.Command("/proc/self/exe", "run", "ctr")
	cmd.Env = append(os.Environ(), "PODRUN_TEST_SIGBLOCK=catch")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := strings.Fields(string(out)), []string{"10", "40", "64", "30", "15"}; !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
}

// TestBlockForwarded checks dispatch.c's block_forwarded on real command
// lines: run and exec, however the global flags come, block the forwarded
// signals on top of the caller's mask and record both; anything else
// blocks nothing.
func TestBlockForwarded(t *testing.T) {
	const want = 0xfffffffc33802a00 // USR1 USR2 ALRM XCPU XFSZ VTALRM IO PWR, 35-64
	for _, tc := range []struct {
		line    string
		blocked bool
	}{
		{"run ctr", true},
		{"run -d --bundle b ctr", true},
		{"exec ctr /bin/true", true},
		{"--root /r --debug exec ctr sh", true},
		{"--log=x --log-format json run ctr", true},
		{"--root run delete ctr", false}, // "run" is --root's value
		{"create ctr", false},
		{"state run", false},
		{"init", false},
		{"pod run x", false},
		{"--bogus run ctr", false},
		{"", false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			orig, set, cur := sigblockRun(t, tc.line)
			if orig != 0 {
				t.Errorf("orig = %x, want 0 (the test's mask)", orig)
			}
			if !tc.blocked {
				if set != 0 || cur != 0 {
					t.Errorf("set %x, mask %x: want nothing blocked", set, cur)
				}
				return
			}
			if set != want || cur != want {
				t.Errorf("set %x, mask %x: want %x", set, cur, uint64(want))
			}
		})
	}
}

// sigblockRun runs this test binary with the podrun command line line and
// returns what TestMain printed.
func sigblockRun(t *testing.T, line string) (orig, set, cur uint64) {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", strings.Fields(line)...)
	cmd.Env = append(os.Environ(), "PODRUN_TEST_SIGBLOCK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q: %v %s", line, err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		t.Fatalf("%q: output %q", line, out)
	}
	v := make([]uint64, 3)
	for i := range f {
		if v[i], err = strconv.ParseUint(f[i], 16, 64); err != nil {
			t.Fatalf("%q: output %q", line, out)
		}
	}
	return v[0], v[1], v[2]
}
