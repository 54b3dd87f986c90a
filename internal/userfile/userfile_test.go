package userfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func write(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadRegularFileAndStdin(t *testing.T) {
	b, err := Read(write(t, `{"a":1}`), nil)
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("Read = %q, %v", b, err)
	}
	b, err = Read("-", strings.NewReader("from stdin"))
	if err != nil || string(b) != "from stdin" {
		t.Fatalf("Read(-) = %q, %v", b, err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadSizeCap(t *testing.T) {
	exact := write(t, strings.Repeat(" ", MaxSize))
	if b, err := Read(exact, nil); err != nil || len(b) != MaxSize {
		t.Fatalf("a file of exactly MaxSize: %d bytes, %v", len(b), err)
	}
	big := write(t, strings.Repeat(" ", MaxSize+1))
	_, err := Read(big, nil)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "larger than 4 MiB" {
		t.Fatalf("a file over MaxSize: %v", err)
	}
	if _, err := Read("-", strings.NewReader(strings.Repeat(" ", MaxSize+1))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("stdin over MaxSize: %v", err)
	}
}

// endless is stdin that never ends, counting what is read from it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadEndlessStdinStopsAtTheCap(t *testing.T) {
	e := &endless{}
	if _, err := Read("-", e); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless stdin: %v", err)
	}
	if e.n > MaxSize+1 {
		t.Errorf("read %d bytes from stdin, more than the cap", e.n)
	}
}

func TestReadRefusesDevicesAndDirectories(t *testing.T) {
	for _, p := range []string{"/dev/zero", "/dev/null", t.TempDir()} {
		_, err := Read(p, nil)
		if !errors.Is(err, ErrNotRegular) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Read(%s) = %v, want one line wrapping ErrNotRegular", p, err)
		}
	}
	if _, err := Read("/dev/zero", nil); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("/dev/zero: %v, want it named a character device", err)
	}
}

// A FIFO with no writer blocks a plain open forever; Read must refuse it
// at once. The timeout only keeps a regression from hanging the test run.
func TestReadRefusesFIFOWithoutBlocking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Read(p, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "FIFO") {
			t.Fatalf("Read(fifo) = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read blocked on a FIFO")
	}
}

func TestCheckDepth(t *testing.T) {
	for _, ok := range []string{
		``, `{}`, `[1,2,{"a":[{}]}]`,
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		// brackets inside strings, also after escaped quotes, do not count
		`{"a":"` + strings.Repeat("[{", 1000) + `"}`,
		`["\"` + strings.Repeat("[", 1000) + `\\"]`,
		// unbalanced closers are the decoder's to report
		strings.Repeat("]", 1000) + strings.Repeat("[", MaxDepth),
	} {
		if err := CheckDepth([]byte(ok)); err != nil {
			t.Errorf("CheckDepth(%.40q) = %v", ok, err)
		}
	}
	for _, deep := range []string{
		strings.Repeat("[", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth+1),
		`{"s":"\\"}` + strings.Repeat("[", MaxDepth+1), // the string ended at \\"
	} {
		err := CheckDepth([]byte(deep))
		if !errors.Is(err, ErrTooDeep) || err.Error() != "nested more than 100 levels deep" {
			t.Errorf("CheckDepth(%.40q) = %v, want ErrTooDeep", deep, err)
		}
	}
}

// The check of a maximal hostile input allocates nothing: its memory is
// bounded whatever the input.
func TestCheckDepthAllocatesNothing(t *testing.T) {
	deep := []byte(strings.Repeat("[", MaxSize))
	flat := []byte(strings.Repeat(`"[",`, MaxSize/4))
	if n := testing.AllocsPerRun(3, func() {
		if CheckDepth(deep) == nil || CheckDepth(flat) != nil {
			t.Fatal("wrong verdict")
		}
	}); n != 0 {
		t.Errorf("CheckDepth allocated %v times", n)
	}
}
