// Package hooks runs OCI runtime-spec POSIX-platform hooks (prestart,
// createRuntime, createContainer, startContainer, poststart, poststop):
// each hook is executed with its args and exactly its env, gets the
// container state JSON on stdin, is killed when its timeout expires, and
// a failure is reported in runc's words.
//
// The package only runs processes; choosing the namespace a hook runs in
// (runtime vs container) and destroying the container after a fatal hook
// failure are the caller's job. Fatal and RunAll encode which failures
// abort the lifecycle.
package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/sigfwd"
)

// Hook kinds, as named in config.json and in runc's error messages.
const (
	Prestart        = "prestart" // deprecated by the spec, still run
	CreateRuntime   = "createRuntime"
	CreateContainer = "createContainer"
	StartContainer  = "startContainer"
	Poststart       = "poststart"
	Poststop        = "poststop"
)

// Kinds lists every hook kind in lifecycle order.
var Kinds = []string{Prestart, CreateRuntime, CreateContainer, StartContainer, Poststart, Poststop}

// MaxOutput bounds how many bytes of a failing hook's stdout and of its
// stderr are quoted in the error (the last MaxOutput bytes of each).
const MaxOutput = 4096

// ErrTimeout is matched (errors.Is) by the error of a hook killed because
// it ran past its timeout.
var ErrTimeout = errors.New("hook timed out")

// ForKind returns the hooks of kind from h (nil h or unknown kind: nil).
func ForKind(h *specs.Hooks, kind string) []specs.Hook {
	if h == nil {
		return nil
	}
	switch kind {
	case Prestart:
		return h.Prestart //nolint:staticcheck // deprecated, but the spec still requires running it
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	case Poststop:
		return h.Poststop
	}
	return nil
}

// Validate checks what the spec requires of every hook in h: an absolute
// path and, when set, a timeout greater than zero. Call it at create time,
// before anything is built, so a bad config fails early.
func Validate(h *specs.Hooks) error {
	for _, kind := range Kinds {
		for i, hk := range ForKind(h, kind) {
			if err := validate(hk); err != nil {
				return fmt.Errorf("invalid %s hook #%d: %w", kind, i, err)
			}
		}
	}
	return nil
}

func validate(h specs.Hook) error {
	if !filepath.IsAbs(h.Path) {
		return fmt.Errorf("path %q is not absolute", h.Path)
	}
	if h.Timeout != nil && *h.Timeout <= 0 {
		return fmt.Errorf("timeout must be greater than zero, got %d", *h.Timeout)
	}
	return nil
}

// Fatal reports whether a failure of a hook of kind must abort the
// lifecycle (runtime-spec runtime.md "Lifecycle", v1.3.0): for prestart,
// createRuntime, createContainer, startContainer and poststart the runtime
// MUST generate an error, stop the container and destroy it; for poststop
// it MUST only log a warning, and the remaining hooks and the lifecycle
// continue as if the hook had succeeded.
//
// Older spec texts (and some runtimes) treated poststart failures as
// warnings too; spec v1.3.0 and runc abort, and so does podrun.
func Fatal(kind string) bool {
	return kind != Poststop
}

// Run runs hooks in order and stops at the first failure, which it returns
// as "error running <kind> hook #<i>: <cause>" (runc's text). The cause is
// "<exit status>, stdout: <out>, stderr: <err>" for a hook that failed,
// "hook ran past specified timeout of <n>.0s" for one that was killed on
// timeout, or the fork/exec error for one that could not start.
//
// Each hook runs Path with argv Args (argv[0] = Path when Args is empty),
// with exactly Env as its environment (empty when Env is), with the state
// JSON on stdin, in its own process group. On timeout or when ctx is done
// the whole group is killed with SIGKILL.
func Run(ctx context.Context, kind string, hooks []specs.Hook, state *specs.State) error {
	return run(ctx, kind, hooks, state, false)
}

// run runs hooks in order. It stops at the first failure, or, with
// keepGoing, runs them all and returns the failures as a *Warning.
func run(ctx context.Context, kind string, hooks []specs.Hook, state *specs.State, keepGoing bool) error {
	if len(hooks) == 0 {
		return nil
	}
	b, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("error running %s hooks: marshal state: %w", kind, err)
	}
	var w Warning
	for i, h := range hooks {
		if err := runOne(ctx, h, b); err != nil {
			err = fmt.Errorf("error running %s hook #%d: %w", kind, i, err)
			if !keepGoing {
				return err
			}
			w.Errs = append(w.Errs, err)
		}
	}
	if len(w.Errs) > 0 {
		return &w
	}
	return nil
}

// Warning is what RunAll returns when hooks of a non-fatal kind failed:
// the caller logs it as a warning and carries on.
type Warning struct {
	Errs []error // one per failed hook, in order
}

func (w *Warning) Error() string {
	msgs := make([]string, len(w.Errs))
	for i, e := range w.Errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the failures, so errors.Is/As see each of them.
func (w *Warning) Unwrap() []error { return w.Errs }

// IsWarning reports whether err came from a non-fatal hook kind and must
// only be logged.
func IsWarning(err error) bool {
	var w *Warning
	return errors.As(err, &w)
}

// RunAll runs hooks of kind applying the spec's abort-vs-warn rule (see
// Fatal). For a fatal kind it is Run: the first failure stops the rest and
// is returned, and the caller must destroy the container. For poststop
// every hook runs even after failures, and the failures come back as one
// *Warning (each "error running poststop hook #<i>: ...") that the caller
// only logs. It returns nil when every hook succeeded.
//
//	if err := hooks.RunAll(ctx, kind, hs, st); err != nil {
//		if hooks.IsWarning(err) {
//			log.Warnf("%v", err)
//		} else {
//			destroy(); return err
//		}
//	}
func RunAll(ctx context.Context, kind string, hooks []specs.Hook, state *specs.State) error {
	return run(ctx, kind, hooks, state, !Fatal(kind))
}

// ExitError is the cause of a hook that ran and failed (non-zero exit or
// killed by a signal). Its text is runc's: "exit status 1, stdout: ...,
// stderr: ...".
type ExitError struct {
	State  *os.ProcessState
	Stdout string // last MaxOutput bytes
	Stderr string // last MaxOutput bytes
}

func (e *ExitError) Error() string {
	return e.State.String() + ", stdout: " + e.Stdout + ", stderr: " + e.Stderr
}

type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("hook ran past specified timeout of %.1fs", e.d.Seconds())
}

func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }

func runOne(ctx context.Context, h specs.Hook, state []byte) error {
	if h.Timeout != nil && *h.Timeout <= 0 {
		return fmt.Errorf("timeout must be greater than zero, got %d", *h.Timeout)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	argv := h.Args
	if len(argv) == 0 {
		argv = []string{h.Path}
	}
	env := h.Env
	if env == nil {
		env = []string{} // nil would make os.StartProcess pass our environment
	}

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdinW.Close()
	stdout, err := captureFile("stdout")
	if err != nil {
		stdinR.Close()
		return err
	}
	defer stdout.Close()
	stderr, err := captureFile("stderr")
	if err != nil {
		stdinR.Close()
		return err
	}
	defer stderr.Close()

	p, err := start(h.Path, argv, env, stdinR, stdout, stderr)
	stdinR.Close()
	if err != nil {
		return err // *os.PathError "fork/exec PATH: ...", as runc reports it
	}
	// The state is small; it normally fits the pipe buffer at once. A hook
	// need not read it: EPIPE is ignored, and closing stdinW on return
	// unblocks a write that a stray reader keeps pending.
	go func() {
		_, _ = stdinW.Write(state)
		_ = stdinW.Close()
	}()

	type result struct {
		ps  *os.ProcessState
		err error
	}
	done := make(chan result, 1)
	go func() {
		ps, err := p.Wait()
		done <- result{ps, err}
	}()

	var timer <-chan time.Time
	var limit time.Duration
	if h.Timeout != nil {
		limit = time.Duration(*h.Timeout) * time.Second
		t := time.NewTimer(limit)
		defer t.Stop()
		timer = t.C
	}

	var r result
	select {
	case r = <-done:
	case <-timer:
		killGroup(p.Pid)
		<-done
		return &timeoutError{limit}
	case <-ctx.Done():
		killGroup(p.Pid)
		<-done
		return ctx.Err()
	}
	if r.err != nil {
		return r.err
	}
	if r.ps.Success() {
		return nil
	}
	return &ExitError{State: r.ps, Stdout: tail(stdout), Stderr: tail(stderr)}
}

// killGroup kills the hook and whatever it started in its process group.
func killGroup(pid int) {
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// start starts the hook at path in its own process group. In a run or exec
// that blocked the signals it forwards (package sigfwd) it goes through
// podrun's trampoline, which gives the hook the signal mask podrun was
// started with; a failed execve is then reported like os.StartProcess's.
func start(path string, argv, env []string, stdin, stdout, stderr *os.File) (*os.Process, error) {
	exe, args, tramp := sigfwd.HookCommand(path, argv)
	files := []*os.File{stdin, stdout, stderr}
	var errR, errW *os.File
	if tramp {
		var err error
		if errR, errW, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer errR.Close()
		files = append(files, errW)
	}
	p, err := os.StartProcess(exe, args, &os.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if errW != nil {
		errW.Close() // the trampoline's copy is the one that counts
	}
	if !tramp || err != nil {
		return p, err
	}
	if err := sigfwd.HookExecError(errR); err != nil {
		_, _ = p.Wait()
		return nil, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	return p, nil
}

// captureFile returns an unlinked file for a hook's output. Unlike a pipe,
// it never makes us wait for a daemon the hook left holding its stdout.
// Where neither memfd_create nor a temp file is available (a hook run
// late inside a locked-down container) the output goes to /dev/null
// rather than failing the hook.
func captureFile(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate("podrun-hook-"+name, unix.MFD_CLOEXEC)
	if err == nil {
		return os.NewFile(uintptr(fd), "memfd:podrun-hook-"+name), nil
	}
	if f, err := os.CreateTemp("", "podrun-hook-"+name+"-*"); err == nil {
		_ = os.Remove(f.Name())
		return f, nil
	}
	return os.OpenFile(os.DevNull, os.O_RDWR, 0)
}

// tail returns the last MaxOutput bytes written to f, with a "..." prefix
// when earlier output was cut.
func tail(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	size := fi.Size()
	off := max(size-MaxOutput, 0)
	buf := make([]byte, size-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return ""
	}
	s := string(buf[:n])
	if off > 0 {
		s = "..." + s
	}
	return s
}
