package runccli

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// caughtFirst are the signals a foreground run or exec is commonly sent (by
// a shell, kill(1), a shim) and the two its wait loop needs: they are
// caught before the container process exists.
var caughtFirst = []os.Signal{
	unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGCHLD, unix.SIGWINCH,
}

// catchSignals makes c receive every signal, for forwarding. Go enables
// each signal with a round trip to its signal-mask thread, about 1 ms for
// all 64 on these machines, so only caughtFirst is caught here; the rest
// are in the background while create works, and the returned wait blocks
// until they are caught too. Nothing undoes this: podrun exits after the
// wait (signal.Reset would cost that millisecond again).
func catchSignals(c chan os.Signal) (wait func()) {
	signal.Notify(c, caughtFirst...)
	done := make(chan struct{})
	go func() {
		signal.Notify(c)
		close(done)
	}()
	return func() { <-done }
}
