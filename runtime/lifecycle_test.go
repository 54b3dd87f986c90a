package runtime

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadUntilEOF: what the init writes to the exec fifo after the
// release comes back whole (capped at max) once the writer closes; an
// exec (close without a word) is an empty message; a writer that stays
// open while its process is gone ends the wait too.
func TestReadUntilEOF(t *testing.T) {
	pipe := func() (r, w int) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[0]) })
		return p[0], p[1]
	}
	alive := func() bool { return true }

	r, w := pipe()
	msg := "error running startContainer hook #0: " + strings.Repeat("x", 9000)
	if _, err := unix.Write(w, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	unix.Close(w)
	if got, err := readUntilEOF(r, 100, alive); err != nil || string(got) != msg[:100] {
		t.Errorf("message: %q, %v; want the first 100 bytes", got, err)
	}

	r, w = pipe()
	unix.Close(w)
	if got, err := readUntilEOF(r, 100, alive); err != nil || len(got) != 0 {
		t.Errorf("exec: %q, %v; want nothing", got, err)
	}

	r, w = pipe()
	defer unix.Close(w)
	if _, err := unix.Write(w, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if got, err := readUntilEOF(r, 100, func() bool { return false }); err != nil || string(got) != "last words" {
		t.Errorf("writer's process gone: %q, %v; want what it wrote", got, err)
	}
}
