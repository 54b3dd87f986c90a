package sigfwd

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInactive(t *testing.T) {
	Started(0, 0)
	if Active() || Forwarded(unix.SIGUSR1) || ChildEnv() != nil {
		t.Errorf("nothing blocked: Active %v, Forwarded(USR1) %v, ChildEnv %q", Active(), Forwarded(unix.SIGUSR1), ChildEnv())
	}
	if exe, args, ok := HookCommand("/h", []string{"h", "a"}); ok || exe != "/h" || !slices.Equal(args, []string{"h", "a"}) {
		t.Errorf("HookCommand = %q %q %v, want the hook itself", exe, args, ok)
	}
	if err := Catch(make(chan os.Signal, 1)); err == nil {
		t.Error("Catch with nothing blocked: no error")
	}
}

func TestActive(t *testing.T) {
	Started(1<<(unix.SIGTERM-1), 1<<(unix.SIGUSR1-1)|1<<63)
	defer Started(0, 0)
	for s, want := range map[unix.Signal]bool{unix.SIGUSR1: true, 64: true, unix.SIGTERM: false, unix.SIGUSR2: false, 0: false, 65: false} {
		if Forwarded(s) != want {
			t.Errorf("Forwarded(%d) = %v", s, !want)
		}
	}
	if got := Signals(); !slices.Equal(got, []os.Signal{unix.SIGUSR1, unix.Signal(64)}) {
		t.Errorf("Signals = %v", got)
	}
	if got := ChildEnv(); !slices.Equal(got, []string{"_PODRUN_SIGMASK=4000"}) {
		t.Errorf("ChildEnv = %q (the caller's mask: SIGTERM)", got)
	}
	exe, args, ok := HookCommand("/h", []string{"h", "a"})
	if !ok || exe != "/proc/self/exe" || !slices.Equal(args, []string{"podrun-hook", "4000", "/h", "h", "a"}) {
		t.Errorf("HookCommand = %q %q %v", exe, args, ok)
	}
}

func TestHookExecError(t *testing.T) {
	for _, tc := range []struct {
		write []byte
		want  error
	}{
		{nil, nil},
		{[]byte{2, 0, 0, 0}, unix.ENOENT},
		{[]byte{13, 0}, nil}, // short: not a report
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(tc.write)
		w.Close()
		if got := HookExecError(r); got != tc.want {
			t.Errorf("%v: HookExecError = %v, want %v", tc.write, got, tc.want)
		}
		r.Close()
	}
}
