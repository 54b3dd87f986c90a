package probes

import (
	"context"
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNSDialer returns a DialFunc whose sockets are created in the network
// namespace at nsPath (e.g. /proc/<infra pid>/ns/net or a bind-mounted
// netns), so probes reach a pod's loopback without the pod having an IP.
//
// The thread rule: a network namespace belongs to an OS thread, and Go moves
// goroutines between threads. Each dial therefore runs on a fresh goroutine
// locked to its thread, which setns's into the pod's namespace, dials, and
// then exits *without* unlocking: the Go runtime destroys a thread whose
// locked goroutine exits, so a thread in a foreign namespace can never run
// other goroutines, and no "switch back" can fail half-way. A socket keeps
// the namespace it was created in, so the returned conn is used from any
// thread. The main thread is the exception: Go cannot end it, it would
// park it for ever, still in the pod's namespace (keeping the namespace
// alive after the pod is gone); onThrowawayThread never uses it. Costs one
// thread per dial (tens of microseconds). Needs
// CAP_SYS_ADMIN (setns); host names are resolved by the host's resolver
// (from inside the namespace's network).
func NetNSDialer(nsPath string) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go onThrowawayThread(func() {
			c, err := dialIn(ctx, nsPath, network, addr)
			ch <- result{c, err}
		})
		select {
		case r := <-ch:
			return r.c, r.err
		case <-ctx.Done():
			go func() { // the dial returns soon (same ctx); close its conn
				if r := <-ch; r.c != nil {
					r.c.Close()
				}
			}()
			return nil, ctx.Err()
		}
	}
}

func dialIn(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	err = unix.Setns(fd, unix.CLONE_NEWNET)
	unix.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("entering network namespace %s: %w", nsPath, err)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// onThrowawayThread runs fn on a goroutine locked to a thread that is
// destroyed when fn returns, so fn may change per-thread state (setns)
// without restoring it.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// On the main thread: while this goroutine holds it, a new one
			// cannot be scheduled there.
			onThrowawayThread(fn)
			runtime.UnlockOSThread()
			close(done)
			return
		}
		fn()
		close(done) // exits locked: the runtime destroys the thread
	}()
	<-done
}
