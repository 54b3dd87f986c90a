package runccli

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/sigfwd"
)

// With signals blocked for the signalfd, os/signal is asked for every
// other signal exactly once (caughtFirst's first), never for a blocked one
// (a runtime thread would unblock it) nor SIGURG.
func TestNotifySets(t *testing.T) {
	for _, set := range []uint64{0, 1<<(unix.SIGUSR1-1) | 1<<(unix.SIGUSR2-1) | 1<<(unix.SIGPWR-1) | 0xfffffffc00000000} {
		sigfwd.Started(0, set)
		first, rest := notifySets()
		all := append(append([]os.Signal{}, first...), rest...)
		for s := unix.Signal(1); s <= 64; s++ {
			n := 0
			for _, a := range all {
				if a == s {
					n++
				}
			}
			want := 1
			if s == unix.SIGURG || sigfwd.Forwarded(s) {
				want = 0
			}
			if n != want {
				t.Errorf("set %x: signal %d asked for %d times, want %d", set, s, n, want)
			}
		}
		if set == 0 && !slices.Equal(first, caughtFirst) {
			t.Errorf("nothing blocked: first = %v, want caughtFirst", first)
		}
		if set != 0 && slices.Contains(first, os.Signal(unix.SIGUSR1)) {
			t.Errorf("set %x: SIGUSR1 given to os/signal", set)
		}
	}
	sigfwd.Started(0, 0)
}
