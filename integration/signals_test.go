package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

// Tests of the signals a foreground `podrun run` or `podrun exec` forwards
// to its container process, and of the signal mask and ignored set the
// processes podrun starts begin with. Helpers start with "sig".

// sigAsync are the signals a foreground run or exec forwards, as runc
// does: every catchable one but SIGCHLD, SIGWINCH (the console proxy's),
// SIGURG (the Go runtime's), SIGPROF (the Go runtime keeps it for its
// profiler: neither podrun nor runc nor the checker can catch it) and 32
// to 34 (libc's, which a Go program cannot catch), less the fault
// signals of sigFaults. SIGTERM is sent last, separately.
var sigAsync = func() []syscall.Signal {
	s := []syscall.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGPIPE, unix.SIGALRM, unix.SIGABRT, unix.SIGSTKFLT,
		unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGIO, unix.SIGPWR,
	}
	// The realtime ones: 37 is SIGRTMIN+3, how systemd is told to halt.
	for n := syscall.Signal(35); n <= 64; n++ {
		s = append(s, n)
	}
	return s
}()

// sigFaults are the signals the kernel raises on a fault; sent with
// kill(2) they are ordinary signals, which runc forwards too. They are
// tested apart: a process cannot usefully block them, so a runtime that
// receives its signals blocked must treat them on their own.
var sigFaults = []syscall.Signal{
	unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS,
}

// sigName is how `checker sleep --all` names sig.
func sigName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return strconv.Itoa(int(sig))
}

// sigStartSleeper starts cmd, a foreground podrun run or exec of
// `checker sleep --all`, with its output in a new file, and waits until
// the checker's handlers are in place. It kills cmd when the test ends
// early.
func sigStartSleeper(t *testing.T, cmd *exec.Cmd) (out string) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lcWaitFile(t, out, "ready\n")
	return out
}

// sigCheckForwarding sends sigs one by one to the podrun process of cmd
// (started by sigStartSleeper with output in out), waiting for the
// container's checker to report each before sending the next; it sends
// SIGWINCH first, which must not be forwarded, and SIGTERM last, which
// must end the checker and with it cmd, with status 128+15.
func sigCheckForwarding(t *testing.T, cmd *exec.Cmd, out string, sigs []syscall.Signal) {
	t.Helper()
	send := func(sig syscall.Signal) {
		t.Helper()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatalf("sending %s to podrun: %v", sigName(sig), err)
		}
	}
	// Were SIGWINCH forwarded, its line would be in the output by the
	// time SIGTERM ends the checker: every signal after it is waited for.
	send(unix.SIGWINCH)
	for _, sig := range sigs {
		send(sig)
		// A whole line, never a prefix of another signal's.
		lcWaitFile(t, out, "\nsignal: "+sigName(sig)+"\n")
	}
	send(unix.SIGTERM)
	code, err := lcWait(cmd, lcTimeout)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if code != 128+int(unix.SIGTERM) {
		t.Errorf("%v exited %d after SIGTERM, want %d; output:\n%s", cmd.Args, code, 128+int(unix.SIGTERM), b)
	}
	if !strings.Contains(string(b), "\nsignal: SIGTERM\n") {
		t.Errorf("the container did not report SIGTERM; output:\n%s", b)
	}
	if strings.Contains(string(b), "signal: SIGWINCH") {
		t.Errorf("SIGWINCH was forwarded to the container (runc does not: the console proxy resizes); output:\n%s", b)
	}
}

// sigGroups are the signal sets TestRunForwardsSignals and
// TestExecForwardsSignals check, each with its own container and podrun
// started by its caller. podrun, as runc, forwards even the signals its
// caller blocked: they stay blocked in the process podrun starts (see
// TestChildrenSignalMask), which the checker unblocks to catch them, and
// the signals it ignored.
var sigGroups = []struct {
	name   string
	caller sigCaller
	sigs   []syscall.Signal
}{
	{"async", sigCaller{}, sigAsync},
	{"faults", sigCaller{}, sigFaults},
	{"blocking-caller", sigCallerBlocking, []syscall.Signal{unix.SIGUSR1, 37, unix.SIGHUP, unix.SIGUSR2}},
}

// TestRunForwardsSignals sends signals to a foreground `podrun run` and
// checks that its container process receives each, as with runc: what
// kill(1), a shell, a shim or systemd send to the runtime is meant for
// the container.
func TestRunForwardsSignals(t *testing.T) {
	for _, g := range sigGroups {
		t.Run(g.name, func(t *testing.T) {
			h := New(t)
			cmd := g.caller.cmd(t, h, "run", "--bundle", h.Bundle(testimage.CheckerInRootfs, "sleep", "--all"), h.ID())
			out := sigStartSleeper(t, cmd)
			sigCheckForwarding(t, cmd, out, g.sigs)
		})
	}
}

// TestExecForwardsSignals is TestRunForwardsSignals for a foreground
// `podrun exec` into a running container: the exec'd process receives
// the signals sent to podrun exec.
func TestExecForwardsSignals(t *testing.T) {
	for _, g := range sigGroups {
		t.Run(g.name, func(t *testing.T) {
			h := New(t)
			id := h.ID()
			h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
			cmd := g.caller.cmd(t, h, "exec", id, "checker", "sleep", "--all")
			out := sigStartSleeper(t, cmd)
			sigCheckForwarding(t, cmd, out, g.sigs)
			if st := h.Status(id); st != "running" {
				t.Errorf("container %s is %s after its exec ended, want running", id, st)
			}
		})
	}
}

// sigMasks parses the SigBlk and SigIgn lines of a /proc/PID/status.
func sigMasks(t *testing.T, what, status string) (blk, ign uint64) {
	t.Helper()
	var haveBlk, haveIgn bool
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		switch k {
		case "SigBlk":
			blk, haveBlk = n, err == nil
		case "SigIgn":
			ign, haveIgn = n, err == nil
		}
	}
	if !haveBlk || !haveIgn {
		t.Fatalf("%s: no SigBlk and SigIgn in %q", what, status)
	}
	return blk, ign
}

// sigBit is sig's bit in a SigBlk or SigIgn mask.
func sigBit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }

// sigMaskArgs prints the SigBlk and SigIgn of the process itself (grep
// is the process: no shell in between, busybox sh ignores SIGQUIT).
var sigMaskArgs = []string{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}

// sigCaller is who starts podrun: the test itself (the zero value), or
// checker sigexec with signals blocked and ignored.
type sigCaller struct {
	name             string
	blocked, ignored []syscall.Signal
}

// sigCallerBlocking blocks and ignores signals podrun catches itself.
// (It blocks none a Go program unblocks, such as SIGHUP or SIGTERM: runc,
// like podrun, starts the container process without those blocked.)
var sigCallerBlocking = sigCaller{
	name:    "blocking",
	blocked: []syscall.Signal{unix.SIGUSR1, 37},
	ignored: []syscall.Signal{unix.SIGHUP, unix.SIGUSR2},
}

// cmd returns the podrun command args started by this caller.
func (c sigCaller) cmd(t *testing.T, h *H, args ...string) *exec.Cmd {
	cmd := h.Cmd(args...)
	if len(c.blocked)+len(c.ignored) == 0 {
		return cmd
	}
	wrap := []string{testimage.CheckerPath(t), "sigexec"}
	for _, s := range c.blocked {
		wrap = append(wrap, "--block", strconv.Itoa(int(s)))
	}
	for _, s := range c.ignored {
		wrap = append(wrap, "--ignore", strconv.Itoa(int(s)))
	}
	cmd.Path, cmd.Args = wrap[0], append(wrap, cmd.Args...)
	return cmd
}

// TestChildrenSignalMask checks the signal mask and ignored set of every
// process podrun starts: the container process of run and run -d, the
// processes of exec and exec -d, and createRuntime, poststart and
// poststop hooks. What podrun blocks or ignores for itself, to catch and
// forward signals, must never leak into them (a container whose init
// starts with SIGTERM blocked cannot be stopped), whether podrun's caller
// blocked and ignored nothing or some signals.
//
// With sigCallerBlocking as the caller, runc 1.1.5 on the same host
// starts the container process of run and run -d with the caller's mask
// exactly, which is checked too; its hooks start with an empty mask, its
// exec and exec -d processes with the caller's (podrun's with an empty
// one), and no child of runc ignores anything (Go resets the signals it
// handles to the default in its children): for those only the no-leak
// rule is checked.
func TestChildrenSignalMask(t *testing.T) {
	testutil.RequiresRoot(t)
	// The baseline: what a plain child of the test starts with.
	base, err := exec.Command(sigMaskArgs[0], sigMaskArgs[1:]...).Output()
	if err != nil {
		t.Fatal(err)
	}
	baseBlk, baseIgn := sigMasks(t, "the test's own child", string(base))
	callers := []sigCaller{
		{name: "plain"},
		sigCallerBlocking,
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			callerBlk, callerIgn := baseBlk, baseIgn
			for _, s := range c.blocked {
				callerBlk |= sigBit(s)
			}
			for _, s := range c.ignored {
				callerIgn |= sigBit(s)
			}
			// check checks one child's status lines; keepsMask: its
			// mask must be the caller's, not just within it.
			check := func(what, status string, keepsMask bool) {
				t.Helper()
				blk, ign := sigMasks(t, what, status)
				if extra := blk &^ callerBlk; extra != 0 {
					t.Errorf("%s: SigBlk %016x blocks %016x, which the caller (SigBlk %016x) did not", what, blk, extra, callerBlk)
				} else if keepsMask && blk != callerBlk {
					t.Errorf("%s: SigBlk %016x, want the caller's %016x", what, blk, callerBlk)
				}
				if extra := ign &^ callerIgn; extra != 0 {
					t.Errorf("%s: SigIgn %016x ignores %016x, which the caller (SigIgn %016x) did not", what, ign, extra, callerIgn)
				}
			}
			sigCheckForeground(t, c, check)
			sigCheckDetached(t, c, check)
		})
	}
}

// sigCheckForeground checks, through check, the container process of a
// foreground podrun run and its createRuntime, poststart and poststop
// hooks, all started by caller c.
func sigCheckForeground(t *testing.T, c sigCaller, check func(what, status string, keepsMask bool)) {
	h := New(t)
	dir := t.TempDir()
	// The hook reads its state (podrun writes it to stdin) and becomes
	// grep, writing its own status lines to the file $1.
	hookScript := lcScript(t, filepath.Join(dir, "mask.sh"), `cat >/dev/null
exec grep -E '^Sig(Blk|Ign)' /proc/self/status > "$1"`)
	hook := func(kind string) []specs.Hook {
		return []specs.Hook{{Path: hookScript, Args: []string{"mask.sh", filepath.Join(dir, kind)}}}
	}
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime: hook("createRuntime"),
			Poststart:     hook("poststart"),
			Poststop:      hook("poststop"),
		}
	}, sigMaskArgs...)
	r, err := lcRunCmdIO(c.cmd(t, h, "run", "--bundle", bundle, h.ID()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 {
		t.Fatalf("podrun run: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	check("run's container process", r.Stdout, true)
	for _, kind := range []string{"createRuntime", "poststart", "poststop"} {
		b, err := os.ReadFile(filepath.Join(dir, kind))
		if err != nil {
			t.Errorf("%s hook: %v", kind, err)
			continue
		}
		check(kind+" hook", string(b), false)
	}
}

// sigCheckDetached checks, through check, the container process of
// podrun run -d, a foreground podrun exec and a podrun exec -d, all
// started by caller c.
func sigCheckDetached(t *testing.T, c sigCaller, check func(what, status string, keepsMask bool)) {
	h := New(t)
	dir := t.TempDir()
	newOut := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	mustRun := func(what string, stdout *os.File, args ...string) Result {
		t.Helper()
		r, err := lcRunCmdIO(c.cmd(t, h, args...), nil, stdout)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
		}
		return r
	}

	// run -d of a container whose process prints its masks and exits.
	runOut := newOut("run-d")
	mustRun("podrun run -d", runOut, "run", "-d", "--bundle", h.Bundle(sigMaskArgs...), h.ID())
	check("run -d's container process", lcWaitFile(t, runOut.Name(), "SigIgn"), true)

	// exec and exec -d into a running container.
	id := h.ID()
	mustRun("podrun run -d", nil, "run", "-d", "--bundle", h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	r := mustRun("podrun exec", nil, append([]string{"exec", id}, sigMaskArgs...)...)
	check("exec'd process", r.Stdout, true)
	execOut := newOut("exec-d")
	mustRun("podrun exec -d", execOut, append([]string{"exec", "-d", id}, sigMaskArgs...)...)
	check("exec -d's process", lcWaitFile(t, execOut.Name(), "SigIgn"), true)
}
