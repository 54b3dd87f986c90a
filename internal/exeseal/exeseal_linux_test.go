package exeseal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// check asserts that h shows our binary, runs, and cannot be written: no
// open for writing succeeds or, for a memfd (which can be reopened for
// writing), no write does.
func check(t *testing.T, h *os.File) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before := sum(t, self)
	p := fmt.Sprintf("/proc/self/fd/%d", h.Fd())
	if got := sum(t, p); got != before {
		t.Fatalf("sealed copy differs from the binary")
	}
	for _, flags := range []int{os.O_WRONLY | os.O_TRUNC, os.O_RDWR, os.O_WRONLY | os.O_APPEND} {
		f, err := os.OpenFile(p, flags, 0)
		if err != nil {
			continue
		}
		if flags&os.O_TRUNC != 0 {
			t.Errorf("open(%s, %#x) succeeded", p, flags)
		}
		if _, err := f.Write([]byte("#!/bin/sh\n")); err == nil {
			t.Errorf("write through open(%s, %#x) succeeded", p, flags)
		}
		f.Close()
	}
	// The handle runs: this test binary, listing no tests.
	cmd := exec.Command(p, "-test.run=^$")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("exec through the handle: %v\n%s", err, out)
	}
	if sum(t, self) != before {
		t.Errorf("the binary changed")
	}
}

func TestOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	h, err := overlayHandle("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	check(t, h)
	// Writes are refused by the filesystem itself, not by permissions.
	if _, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), os.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("open for writing: %v, want EROFS", err)
	}
	// Nothing is mounted anywhere.
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mi, []byte("lowerdir="+filepath.Dir(self))) {
		t.Errorf("sealed overlay visible in mountinfo:\n%s", mi)
	}
}

// TestOverlayDevSecondLayer drives the layers used where overlayfs takes
// no detached mount (before Linux 6.15): the binary's directory over /dev.
func TestOverlayDevSecondLayer(t *testing.T) {
	testutil.RequiresRoot(t)
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	dir, name := filepath.Split(self)
	mnt, err := lowerOnly(dir, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := os.NewFile(uintptr(fd), name)
	defer h.Close()
	if err := sameFile("/proc/self/exe", h); err != nil {
		t.Fatal(err)
	}
	check(t, h)
	if _, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), os.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("open for writing: %v, want EROFS", err)
	}
}

// TestOverlayUnderDev drives the empty tmpfs second layer: a binary in a
// directory of /dev's own filesystem, which /dev as second layer would
// overlap. Overlayfs takes a detached tmpfs as a layer from Linux 6.15.
func TestOverlayUnderDev(t *testing.T) {
	testutil.RequiresRoot(t)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		t.Fatal(err)
	}
	if major < 6 || major == 6 && minor < 15 {
		t.Skipf("overlayfs of Linux %d.%d takes no detached mount as a layer", major, minor)
	}
	dir, err := os.MkdirTemp("/dev", "exeseal-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if mnt, err := lowerOnly(dir, "/dev"); err == nil {
		unix.Close(mnt)
		t.Fatalf("/dev as second layer of %s: no error, want overlapping layers", dir)
	}
	data := []byte("#!/bin/sh\nexit 0\n")
	bin := filepath.Join(dir, "podrun")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := overlayHandle(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p := fmt.Sprintf("/proc/self/fd/%d", h.Fd())
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sealed view reads %q, %v; want %q", got, err, data)
	}
	if _, err := os.OpenFile(p, os.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("open for writing: %v, want EROFS", err)
	}
}

func TestMemfd(t *testing.T) {
	h, err := memfdHandle("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	check(t, h)
	seals, err := unix.FcntlInt(h.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&memfdSeals != memfdSeals {
		t.Errorf("seals = %#x, %v; want %#x", seals, err, memfdSeals)
	}
	if _, err := unix.Write(int(h.Fd()), []byte("x")); err == nil {
		t.Errorf("write to the memfd succeeded")
	}
}

func TestOpenPrefersOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	h, m, err := Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if m != Overlay {
		t.Errorf("method = %s, want %s as root", m, Overlay)
	}
}

// TestPrepare: Open takes the handle Prepare made, once; an Open for
// another binary path leaves it pending.
func TestPrepare(t *testing.T) {
	testutil.RequiresRoot(t)
	Prepare("/proc/self/exe")
	if p := takePrepared("/proc/self/exe/other"); p != nil {
		t.Fatal("a handle prepared for /proc/self/exe was taken for another path")
	}
	preparedMu.Lock()
	p := prepared
	preparedMu.Unlock()
	if p == nil {
		t.Fatal("nothing pending after Prepare")
	}
	h, m, err := Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h != p.f || m != Overlay {
		t.Errorf("Open returned %v (%s), want the prepared %v (overlay)", h, m, p.f)
	}
	check(t, h)
	// Taken: the next Open makes a handle of its own.
	h2, _, err := Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2 == h {
		t.Error("the prepared handle was handed out twice")
	}
	check(t, h2)
}

func benchmark(b *testing.B, open func(string) (*os.File, error)) {
	for b.Loop() {
		h, err := open("/proc/self/exe")
		if err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}

func BenchmarkOverlay(b *testing.B) { benchmark(b, overlayHandle) }
func BenchmarkMemfd(b *testing.B)   { benchmark(b, memfdHandle) }
