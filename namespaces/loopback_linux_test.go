package namespaces

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

// inFreshNetNS runs f on a locked thread moved into a new network
// namespace. The thread is never unlocked, so Go ends it after f.
func inFreshNetNS(tb testing.TB, f func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			tb.Errorf("unshare: %v", err)
			return
		}
		f()
	}()
	<-done
}

func loFlags(tb testing.TB) uint16 {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, _ := unix.NewIfreq("lo")
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		tb.Fatal(err)
	}
	return ifr.Uint16()
}

// TestLoopbackUp: lo of a fresh network namespace is down; loopbackUp
// sets it up, and a second call is a no-op.
func TestLoopbackUp(t *testing.T) {
	testutil.RequiresRoot(t)
	inFreshNetNS(t, func() {
		if loFlags(t)&unix.IFF_UP != 0 {
			t.Error("lo is up in a fresh network namespace")
		}
		for i := 0; i < 2; i++ {
			if err := loopbackUp(); err != nil {
				t.Error(err)
			}
			if loFlags(t)&unix.IFF_UP == 0 {
				t.Errorf("after loopbackUp #%d: lo is down", i+1)
			}
		}
	})
}

// BenchmarkLoopbackUp measures what a create with a new network namespace
// pays for lo: each round sets lo down untimed, then up.
func BenchmarkLoopbackUp(b *testing.B) {
	testutil.RequiresRoot(b)
	inFreshNetNS(b, func() {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			ifr, _ := unix.NewIfreq("lo")
			_ = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
			ifr.SetUint16(ifr.Uint16() &^ unix.IFF_UP)
			_ = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
			unix.Close(fd)
			b.StartTimer()
			if err := loopbackUp(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
