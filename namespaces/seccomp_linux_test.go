package namespaces

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// connPair is a connected pair of protocol ends, as between create and
// the init.
func connPair(tb testing.TB) (*conn, *conn) {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	tb.Cleanup(func() { a.Close(); b.Close() })
	return newConn(a), newConn(b)
}

// TestConnPassesFds: an fd sent with a message arrives with it, between
// ordinary messages, and the message stream stays intact.
func TestConnPassesFds(t *testing.T) {
	child, parent := connPair(t)
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := child.send(message{Type: msgCreateRuntime}); err != nil {
		t.Fatal(err)
	}
	if err := child.sendFd(message{Type: msgSeccompFd}, f); err != nil {
		t.Fatal(err)
	}
	if err := child.send(message{Type: msgReady}); err != nil {
		t.Fatal(err)
	}
	if _, err := parent.recv(msgCreateRuntime); err != nil {
		t.Fatal(err)
	}
	if _, err := parent.recv(msgSeccompFd); err != nil {
		t.Fatal(err)
	}
	got, ok := parent.r.takeFd()
	if !ok {
		t.Fatal("no fd with the seccompFd message")
	}
	defer got.Close()
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(got.Fd()), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Error("received fd is another file")
	}
	if fl, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd is not close-on-exec (flags %d, %v)", fl, err)
	}
	if _, err := parent.recv(msgReady); err != nil {
		t.Fatal(err)
	}
}

// TestWaitReadyPassesListenerFd: waitReady hands the fd to SeccompListener
// and answers seccompDone; without a listener it fails.
func TestWaitReadyPassesListenerFd(t *testing.T) {
	for _, withListener := range []bool{true, false} {
		cc, pc := connPair(t)
		child := &Child{conn: pc}
		var passed bool
		if withListener {
			child.SeccompListener = func(f *os.File) error { passed = f != nil; return nil }
		}
		f, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			if err := cc.sendFd(message{Type: msgSeccompFd}, f); err != nil {
				done <- err
				return
			}
			if _, err := cc.recv(msgSeccompDone); err != nil {
				done <- err
				return
			}
			done <- cc.send(message{Type: msgReady})
		}()
		err = child.WaitReady()
		f.Close()
		if withListener {
			if err != nil || !passed {
				t.Fatalf("WaitReady: %v, fd passed %v", err, passed)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		} else if err == nil {
			t.Fatal("WaitReady without a listener succeeded")
		}
	}
}
