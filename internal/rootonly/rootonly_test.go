package rootonly

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// A new dir and its missing parents are 0700; an existing 0711 or 0755
// dir (an older podrun's) is fixed up to 0700.
func TestDirMakesAndFixesUp(t *testing.T) {
	base := t.TempDir()
	d := filepath.Join(base, "a", "b")
	if err := Dir(d); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(d), d} {
		if m := mode(t, p); m != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", p, m)
		}
	}
	for _, old := range []os.FileMode{0o711, 0o755, 0o777} {
		if err := os.Chmod(d, old); err != nil {
			t.Fatal(err)
		}
		if err := Dir(d); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%04o dir: mode %04o after Dir, want 0700", old, m)
		}
	}
	f := filepath.Join(base, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Dir(f); err == nil {
		t.Error("Dir of a regular file succeeded")
	}
}

// A dir owned by another user is refused and left alone: its owner could
// open it up again.
func TestDirRefusesOtherOwner(t *testing.T) {
	testutil.RequiresRoot(t)
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, testutil.Nobody, testutil.Nobody); err != nil {
		t.Fatal(err)
	}
	err := Dir(d)
	if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("Dir of a dir owned by nobody: %v", err)
	}
	if m := mode(t, d); m != 0o755 {
		t.Errorf("mode changed to %04o", m)
	}
}

// accepted listens on a socket any user may connect to, runs dial, and
// returns the connection it accepted.
func accepted(t *testing.T, dial func(path string) error) *net.UnixConn {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := dial(path); err != nil {
		t.Fatal(err)
	}
	c, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialFd(path string, fds *[]int) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	*fds = append(*fds, s)
	return unix.Connect(s, &unix.SockaddrUnix{Name: path})
}

func TestPeer(t *testing.T) {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	self := accepted(t, func(p string) error { return dialFd(p, &fds) })
	if err := Peer(self); err != nil {
		t.Errorf("a peer of our own uid: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	other := accepted(t, func(p string) error {
		return testutil.AsUser(testutil.Nobody, testutil.Nobody, func() error { return dialFd(p, &fds) })
	})
	if err := Peer(other); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("a peer running as nobody: %v, want refused", err)
	}
}

// FixUp leaves a missing dir missing.
func TestFixUpMissing(t *testing.T) {
	d := filepath.Join(t.TempDir(), "none")
	if err := FixUp(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Errorf("FixUp created %s: %v", d, err)
	}
}
