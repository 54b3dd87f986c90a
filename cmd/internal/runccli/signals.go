package runccli

import (
	"os"
	"os/signal"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/sigfwd"
)

// caughtFirst are the signals a foreground run or exec is commonly sent (by
// a shell, kill(1), a shim) and the two its wait loop needs: they are
// caught before the container process exists.
var caughtFirst = []os.Signal{
	unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGCHLD, unix.SIGWINCH,
}

// catchSignals makes c receive every signal, for forwarding. Go enables
// each signal with a round trip to its signal-mask thread (two thread
// wake-ups each way), so the signals podrun's constructor blocked come from a
// signalfd instead (package sigfwd), caughtFirst's others are caught here
// and the rest in the background while create works; the returned wait
// blocks until they are caught too. Nothing undoes this: podrun exits
// after the wait (signal.Reset would cost the round trips again).
func catchSignals(c chan os.Signal) (wait func()) {
	first, rest := notifySets()
	signal.Notify(c, first...)
	if sigfwd.Active() && sigfwd.Catch(c) != nil {
		// No signalfd: os/signal takes the blocked ones too (a thread
		// of its own unblocks them), as without the constructor.
		rest = append(rest, sigfwd.Signals()...)
	}
	done := make(chan struct{})
	go func() {
		signal.Notify(c, rest...)
		close(done)
	}()
	return func() { <-done }
}

// notifySets splits the signals os/signal must catch: caughtFirst, then
// every other one, leaving out those the signalfd delivers and SIGURG
// (the runtime's preemption signal, never forwarded).
func notifySets() (first, rest []os.Signal) {
	for _, s := range caughtFirst {
		if !sigfwd.Forwarded(s.(unix.Signal)) {
			first = append(first, s)
		}
	}
	for s := unix.Signal(1); s <= 64; s++ {
		if s == unix.SIGURG || sigfwd.Forwarded(s) || slices.Contains(caughtFirst, os.Signal(s)) {
			continue
		}
		rest = append(rest, s)
	}
	return first, rest
}
