package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/procstat"
	"github.com/podrun/podrun/internal/sigfwd"
	_ "github.com/podrun/podrun/namespaces/nsenter" // the hook trampoline
)

// The test binary doubles as a hook: with PODRUN_HOOK_HELPER=<file> in its
// environment it writes its argv, env, stdin and signal mask there as JSON
// and exits. With PODRUN_HOOKS_TRAMPOLINE=1 it runs the tests as a run or
// exec CLI that blocked signals would: every hook through the trampoline
// of nsenter's constructor (linked in below), started with trampolineMask.
func TestMain(m *testing.M) {
	if out := os.Getenv("PODRUN_HOOK_HELPER"); out != "" {
		stdin, _ := readAll(os.Stdin)
		b, _ := json.Marshal(map[string]any{"argv": os.Args, "env": os.Environ(), "stdin": string(stdin), "sigblk": sigBlk()})
		if err := os.WriteFile(out, b, 0o644); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	if os.Getenv("PODRUN_HOOKS_TRAMPOLINE") == "1" {
		sigfwd.Started(trampolineMask, 1<<(unix.SIGUSR2-1))
	}
	os.Exit(m.Run())
}

// trampolineMask is the mask the trampoline must give hooks: SIGUSR1 and
// SIGRTMAX blocked, as if podrun's caller had blocked them.
const trampolineMask = 1<<(unix.SIGUSR1-1) | 1<<63

// sigBlk is the SigBlk line of /proc/self/status: the mask this thread
// started with (the Go runtime blocks nothing more on its main thread).
func sigBlk() string {
	b, _ := os.ReadFile("/proc/thread-self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestThroughTrampoline runs every test of this package again with hooks
// started through the trampoline: the same argv, environment, stdin,
// failure texts, timeouts and process groups.
func TestThroughTrampoline(t *testing.T) {
	if sigfwd.Active() {
		t.Skip("this is the run through the trampoline")
	}
	cmd := exec.Command("/proc/self/exe", "-test.count=1")
	cmd.Env = append(os.Environ(), "PODRUN_HOOKS_TRAMPOLINE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests through the trampoline: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

// TestHookSignalMask checks the mask a hook starts with: podrun's own
// (blocked: none here), or through the trampoline the one podrun's caller
// gave it, not the signals podrun blocked for forwarding.
func TestHookSignalMask(t *testing.T) {
	want := "0000000000000000"
	if sigfwd.Active() {
		want = fmt.Sprintf("%016x", uint64(trampolineMask))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.json")
	h := specs.Hook{Path: self, Env: []string{"PODRUN_HOOK_HELPER=" + out}}
	if err := Run(context.Background(), Poststart, []specs.Hook{h}, testState()); err != nil {
		t.Fatal(err)
	}
	var got struct{ Sigblk string }
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if got.Sigblk != want {
		t.Errorf("hook's SigBlk = %s, want %s", got.Sigblk, want)
	}
}

func readAll(f *os.File) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testState() *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          "ctr-1",
		Status:      specs.StateCreating,
		Pid:         4242,
		Bundle:      "/run/bundle",
		Annotations: map[string]string{"a": "b"},
	}
}

func intp(i int) *int { return &i }

func TestStateOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "state.json")
	h := specs.Hook{Path: script(t, dir, "h", `cat > "$1"`), Args: []string{"h", out}}
	st := testState()
	if err := Run(context.Background(), CreateRuntime, []specs.Hook{h}, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got specs.State
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin was not state JSON: %q: %v", b, err)
	}
	if got.ID != st.ID || got.Pid != st.Pid || got.Bundle != st.Bundle || got.Status != st.Status ||
		got.Version != st.Version || got.Annotations["a"] != "b" {
		t.Fatalf("got state %+v, want %+v", got, *st)
	}
}

func TestArgsAndEnv(t *testing.T) {
	t.Setenv("PODRUN_PARENT_ONLY", "leak")
	tests := []struct {
		name     string
		args     []string // after argv[0]; nil: no Args at all
		argv0    string
		env      []string
		wantArgs []string
	}{
		{"args and env", []string{"one", "two words"}, "custom-argv0", []string{"A=1", "B=two words"}, []string{"custom-argv0", "one", "two words"}},
		{"argv0 only, empty env", []string{}, "only0", nil, []string{"only0"}},
		{"no args: argv0 is path", nil, "", []string{"X="}, nil},
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			h := specs.Hook{Path: self, Env: append(append([]string{}, tt.env...), "PODRUN_HOOK_HELPER="+out)}
			if tt.args != nil {
				h.Args = append([]string{tt.argv0}, tt.args...)
			}
			if err := Run(context.Background(), Prestart, []specs.Hook{h}, testState()); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Argv  []string
				Env   []string
				Stdin string
			}
			b, _ := os.ReadFile(out)
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			want := tt.wantArgs
			if want == nil {
				want = []string{self}
			}
			if strings.Join(got.Argv, "|") != strings.Join(want, "|") {
				t.Errorf("argv = %q, want %q", got.Argv, want)
			}
			if strings.Join(got.Env, "|") != strings.Join(h.Env, "|") {
				t.Errorf("env = %q, want exactly %q", got.Env, h.Env)
			}
			if !strings.Contains(got.Stdin, `"id":"ctr-1"`) {
				t.Errorf("stdin = %q", got.Stdin)
			}
		})
	}
}

// argv[0] reaches a shell hook too (seen through /proc/$$/cmdline).
func TestShellArgv0(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cmdline")
	h := specs.Hook{
		Path: "/bin/sh",
		Args: []string{"my-hook", "-c", `tr '\0' ' ' < /proc/$$/cmdline > "$1"; /usr/bin/env >> "$1"`, "sh", out},
		Env:  []string{"ONLY=this"},
	}
	if err := Run(context.Background(), Poststart, []specs.Hook{h}, testState()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], "my-hook -c ") {
		t.Errorf("cmdline = %q", lines[0])
	}
	for _, l := range lines[1:] {
		if l != "ONLY=this" && !strings.HasPrefix(l, "PWD=") { // dash exports PWD
			t.Errorf("unexpected env var %q", l)
		}
	}
}

func TestFailureText(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		kind string
		hook specs.Hook
		want string
	}{
		{
			"non-zero exit", Poststart,
			specs.Hook{Path: script(t, dir, "fail", "echo out; echo err >&2; exit 3")},
			"error running poststart hook #0: exit status 3, stdout: out\n, stderr: err\n",
		},
		{
			"silent exit", CreateContainer,
			specs.Hook{Path: script(t, dir, "false", "exit 1")},
			"error running createContainer hook #0: exit status 1, stdout: , stderr: ",
		},
		{
			"killed by signal", StartContainer,
			specs.Hook{Path: script(t, dir, "sig", "kill -9 $$")},
			"error running startContainer hook #0: signal: killed, stdout: , stderr: ",
		},
		{
			"missing binary", Prestart,
			specs.Hook{Path: filepath.Join(dir, "nope")},
			"error running prestart hook #0: fork/exec " + filepath.Join(dir, "nope") + ": no such file or directory",
		},
		{
			"bad timeout", CreateRuntime,
			specs.Hook{Path: "/bin/true", Timeout: intp(0)},
			"error running createRuntime hook #0: timeout must be greater than zero, got 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.kind, []specs.Hook{tt.hook}, testState())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestOutputBounded(t *testing.T) {
	dir := t.TempDir()
	h := specs.Hook{Path: script(t, dir, "loud", `i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; echo LAST >&2; exit 1`)}
	err := Run(context.Background(), Poststart, []specs.Hook{h}, testState())
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want *ExitError", err)
	}
	if len(ee.Stderr) > MaxOutput+3 || !strings.HasPrefix(ee.Stderr, "...") || !strings.HasSuffix(ee.Stderr, "LAST\n") {
		t.Fatalf("stderr not bounded to its tail: len %d, %.40q...", len(ee.Stderr), ee.Stderr)
	}
	if len(err.Error()) > 2*MaxOutput+200 {
		t.Fatalf("error text is %d bytes", len(err.Error()))
	}
}

func TestTimeoutKills(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	h := specs.Hook{
		Path:    script(t, dir, "slow", `sleep 30 & echo $! > "$1"; wait`),
		Args:    []string{"slow", pidFile},
		Timeout: intp(1),
	}
	start := time.Now()
	err := Run(context.Background(), CreateRuntime, []specs.Hook{h}, testState())
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v", d)
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if want := "error running createRuntime hook #0: hook ran past specified timeout of 1.0s"; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	// The hook's own child (same process group) must be gone too.
	b, _ := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if perr != nil {
		t.Fatalf("pid file %q", b)
	}
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("hook child %d survived the timeout kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, state, err := procstat.Read(pid)
	return err == nil && state != 'Z'
}

func TestContextCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := Run(ctx, Poststop, []specs.Hook{{Path: script(t, dir, "slow", "sleep 30")}}, testState())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// A hook that leaves a background process holding its stdout/stderr must
// not make Run wait for that process.
func TestDaemonizingHookDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "bg.pid")
	h := specs.Hook{Path: script(t, dir, "bg", `sleep 5 & echo $! > "$1"; echo started`), Args: []string{"bg", pidFile}}
	start := time.Now()
	if err := Run(context.Background(), CreateRuntime, []specs.Hook{h}, testState()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run waited %v for the background process", d)
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
}

// orderHooks returns n hooks that append their number to log; those in
// fail exit 1.
func orderHooks(t *testing.T, n int, fail map[int]bool) ([]specs.Hook, string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "order")
	var hs []specs.Hook
	for i := range n {
		code := 0
		if fail[i] {
			code = 1
		}
		p := script(t, dir, "h"+strconv.Itoa(i), `echo `+strconv.Itoa(i)+` >> "$1"; exit `+strconv.Itoa(code))
		hs = append(hs, specs.Hook{Path: p, Args: []string{p, log}})
	}
	return hs, log
}

func readOrder(t *testing.T, log string) string {
	b, _ := os.ReadFile(log)
	return strings.Join(strings.Fields(string(b)), ",")
}

func TestOrderAndFirstFailureStops(t *testing.T) {
	hs, log := orderHooks(t, 4, nil)
	if err := Run(context.Background(), CreateRuntime, hs, testState()); err != nil {
		t.Fatal(err)
	}
	if got := readOrder(t, log); got != "0,1,2,3" {
		t.Fatalf("order %q", got)
	}

	hs, log = orderHooks(t, 4, map[int]bool{1: true})
	err := Run(context.Background(), CreateRuntime, hs, testState())
	if err == nil || !strings.HasPrefix(err.Error(), "error running createRuntime hook #1: exit status 1") {
		t.Fatalf("got %v", err)
	}
	if got := readOrder(t, log); got != "0,1" {
		t.Fatalf("hooks after the failure ran: %q", got)
	}
}

func TestRunAll(t *testing.T) {
	tests := []struct {
		kind      string
		wantOrder string
		warning   bool
		wantErrs  []string // prefixes
	}{
		{Prestart, "0,1", false, []string{"error running prestart hook #1: "}},
		{CreateRuntime, "0,1", false, []string{"error running createRuntime hook #1: "}},
		{CreateContainer, "0,1", false, []string{"error running createContainer hook #1: "}},
		{StartContainer, "0,1", false, []string{"error running startContainer hook #1: "}},
		{Poststart, "0,1", false, []string{"error running poststart hook #1: "}},
		{Poststop, "0,1,2,3", true, []string{"error running poststop hook #1: ", "error running poststop hook #3: "}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			hs, log := orderHooks(t, 4, map[int]bool{1: true, 3: true})
			err := RunAll(context.Background(), tt.kind, hs, testState())
			if err == nil {
				t.Fatal("no error")
			}
			if got := readOrder(t, log); got != tt.wantOrder {
				t.Errorf("ran %q, want %q", got, tt.wantOrder)
			}
			if IsWarning(err) != tt.warning || Fatal(tt.kind) == tt.warning {
				t.Errorf("IsWarning = %v, Fatal = %v", IsWarning(err), Fatal(tt.kind))
			}
			lines := strings.Split(err.Error(), "\n")
			var errs []string
			for _, l := range lines {
				if strings.HasPrefix(l, "error running ") {
					errs = append(errs, l)
				}
			}
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errors %q, want %d", errs, len(tt.wantErrs))
			}
			for i, p := range tt.wantErrs {
				if !strings.HasPrefix(errs[i], p) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i], p)
				}
			}
		})
	}
	hs, _ := orderHooks(t, 2, nil)
	if err := RunAll(context.Background(), Poststop, hs, testState()); err != nil {
		t.Fatalf("all succeeded, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		hooks *specs.Hooks
		want  string
	}{
		{"nil", nil, ""},
		{"ok", &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: intp(5)}}}, ""},
		{"relative", &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}, {Path: "true"}}}, `invalid poststop hook #1: path "true" is not absolute`},
		{"zero timeout", &specs.Hooks{StartContainer: []specs.Hook{{Path: "/x", Timeout: intp(0)}}}, "invalid startContainer hook #0: timeout must be greater than zero, got 0"},
		{"negative timeout", &specs.Hooks{Prestart: []specs.Hook{{Path: "/x", Timeout: intp(-1)}}}, "invalid prestart hook #0: timeout must be greater than zero, got -1"},
	}
	for _, tt := range tests {
		err := Validate(tt.hooks)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestForKind(t *testing.T) {
	h := &specs.Hooks{}
	fields := map[string]*[]specs.Hook{
		Prestart: &h.Prestart, CreateRuntime: &h.CreateRuntime, CreateContainer: &h.CreateContainer,
		StartContainer: &h.StartContainer, Poststart: &h.Poststart, Poststop: &h.Poststop,
	}
	for kind, f := range fields {
		*f = []specs.Hook{{Path: "/" + kind}}
	}
	for _, kind := range Kinds {
		got := ForKind(h, kind)
		if len(got) != 1 || got[0].Path != "/"+kind {
			t.Errorf("ForKind(%s) = %v", kind, got)
		}
	}
	if ForKind(h, "bogus") != nil || ForKind(nil, Poststop) != nil {
		t.Error("want nil")
	}
}

func TestNoHooks(t *testing.T) {
	if err := Run(context.Background(), Poststop, nil, nil); err != nil {
		t.Fatal(err)
	}
}
