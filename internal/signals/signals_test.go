package signals

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want unix.Signal
	}{
		{"0", 0},
		{"9", unix.SIGKILL},
		{"15", unix.SIGTERM},
		{"1", unix.SIGHUP},
		{"64", 64},
		{"KILL", unix.SIGKILL},
		{"kill", unix.SIGKILL},
		{"sigkill", unix.SIGKILL},
		{"SIGKILL", unix.SIGKILL},
		{"SigTerm", unix.SIGTERM},
		{"HUP", unix.SIGHUP},
		{"SIGUSR1", unix.SIGUSR1},
		{"usr2", unix.SIGUSR2},
		{"WINCH", unix.SIGWINCH},
		{"CHLD", unix.SIGCHLD},
		{"CLD", unix.SIGCHLD},
		{"ABRT", unix.SIGABRT},
		{"IOT", unix.SIGABRT},
		{"IO", unix.SIGIO},
		{"POLL", unix.SIGIO},
		{"STKFLT", unix.SIGSTKFLT},
		{"PWR", unix.SIGPWR},
		{"SYS", unix.SIGSYS},
		{"RTMIN", 34},
		{"rtmin", 34},
		{"SIGRTMIN", 34},
		{"RTMIN+3", 37},
		{"SIGRTMIN+30", 64},
		{"RTMAX", 64},
		{"SIGRTMAX-2", 62},
		{"sigrtmax-30", 34},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		"", "-1", "65", "999", "SIG", "FOO", "SIGFOO", "KILL9", " KILL",
		"RTMIN-1", "RTMAX+1", "RTMIN+", "RTMIN+31", "RTMAX-31", "RTMIN+-1",
		"RTMIN++1", "RTMIN+x", "RTMINX",
	} {
		sig, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %d, want error", in, sig)
			continue
		}
		want := `unknown signal "` + in + `"`
		if err.Error() != want {
			t.Errorf("Parse(%q) error = %q, want %q", in, err, want)
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		sig  unix.Signal
		want string
	}{
		{unix.SIGKILL, "SIGKILL"},
		{unix.SIGTERM, "SIGTERM"},
		{unix.SIGABRT, "SIGABRT"},
		{unix.SIGCHLD, "SIGCHLD"},
		{34, "SIGRTMIN"},
		{35, "SIGRTMIN+1"},
		{49, "SIGRTMIN+15"},
		{50, "SIGRTMAX-14"},
		{63, "SIGRTMAX-1"},
		{64, "SIGRTMAX"},
		{32, "32"},
		{0, "0"},
	}
	for _, tt := range tests {
		if got := Name(tt.sig); got != tt.want {
			t.Errorf("Name(%d) = %q, want %q", tt.sig, got, tt.want)
		}
	}
}

// Every signal 1..64 must survive Name -> Parse.
func TestRoundTrip(t *testing.T) {
	for s := unix.Signal(1); s <= RTMax; s++ {
		got, err := Parse(Name(s))
		if err != nil || got != s {
			t.Errorf("Parse(Name(%d)=%q) = %d, %v", s, Name(s), got, err)
		}
	}
}
