package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/exeseal"
	"github.com/podrun/podrun/lsm"
	"github.com/podrun/podrun/namespaces/nsenter"
)

// ErrNotLight: the container needs the full exec path (runtime.Exec) for
// this, e.g. a seccomp filter with SCMP_ACT_NOTIFY.
var ErrNotLight = errors.New("light exec not possible for this container")

// LightExec runs short commands (exec probes, exec hooks) in a running
// container at the cost of about one fork+exec: the long-lived caller forks
// in C (namespaces/nsenter), the child joins the container's cgroups and
// namespaces and execs the command as the container's process would run:
// its environment, cwd, user, groups, umask, capabilities, rlimits,
// oom_score_adj, scheduling attributes, personality, AppArmor/SELinux
// exec label, no_new_privs and seccomp filter (what runtime.Exec applies,
// from the same execSpec), without a terminal or the exec CPU affinity.
// Prepare once per container instance; Run is safe for concurrent use.
// The commands are children of the caller, which must not reap them
// itself (wait4(-1)): see Spawn and Reaped.
type LightExec struct {
	// Spawn, if set, wraps the start of each command (a fork whose helper
	// Run reaps at once, and the command it leaves): a caller whose reaper
	// sweeps unknown children holds it off there (e.g. a read lock its
	// sweeps take exclusively) and records the pid start returns.
	Spawn func(start func() (pid int, err error)) (int, error)
	// Reaped, if set, is told each command pid Run has reaped.
	Reaped func(pid int)

	id      string
	pid     int
	pidfd   int
	nss     []specs.LinuxNamespace
	cgroups []string
	spec    nsenter.ExecSpec // the container process's, without args and fds
	once    sync.Once
}

// PrepareExecLight resolves what Run needs from the container's state.
func (r *Runtime) PrepareExecLight(id string) (*LightExec, error) {
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.require(OpExec); err != nil {
		return nil, err
	}
	// In namespaces.Types order, as runtime.Exec joins them: the user
	// namespace first (it owns the others), the mount namespace last
	// (paths are resolved on the host before).
	nss, err := c.joinNamespaces()
	if err != nil {
		return nil, err
	}
	l := &LightExec{id: id, pid: c.State.Pid, nss: nss}
	for _, d := range cgroupDirs(c.State.CgroupPaths) {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			l.cgroups = append(l.cgroups, d)
		}
	}
	base, linux, err := c.baseProcess()
	if err != nil {
		return nil, err
	}
	proc := *base
	host := lsm.Host{}
	if !host.AppArmorEnabled() {
		proc.ApparmorProfile = ""
	}
	if !host.SELinuxEnabled() {
		proc.SelinuxLabel = ""
	}
	// Not a terminal, nor the CPU affinity of a one-off exec.
	proc.Terminal, proc.ExecCPUAffinity = false, nil
	f, err := compileSeccomp(linux)
	if err != nil {
		return nil, err
	}
	if f != nil && f.Notify {
		return nil, fmt.Errorf("%w: seccomp notify", ErrNotLight)
	}
	spec, err := c.execSpec(&proc, linux, f)
	if err != nil {
		return nil, err
	}
	l.spec = *spec
	// The helper execs a read-only view of podrun (see
	// namespaces/nsenter), made once.
	if l.spec.Dmz, _, err = exeseal.Open(r.selfExe()); err != nil {
		return nil, err
	}
	// The pidfd pins the init's identity: namespace files opened while it
	// is alive are the container's, not those of a reused pid.
	if l.pidfd, err = unix.PidfdOpen(l.pid, 0); err != nil {
		l.spec.Dmz.Close()
		return nil, fmt.Errorf("container %s: init %d: %w", id, l.pid, err)
	}
	return l, nil
}

// Close releases the pidfd and the sealed binary.
func (l *LightExec) Close() {
	l.once.Do(func() {
		unix.Close(l.pidfd)
		l.spec.Dmz.Close()
	})
}

// maxLightOutput bounds the output kept, as kubelet keeps 10 KiB of probes'.
const maxLightOutput = 10 << 10

// Run runs argv (looked up in the container's PATH) with the container
// process's environment and cwd, stdin /dev/null, stdout and stderr
// combined, and returns its exit code (128+signal when killed) and output.
// When ctx ends first the command is killed with SIGKILL and ctx.Err() is
// returned with what output there was.
func (l *LightExec) Run(ctx context.Context, argv []string) (int, []byte, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(p string, flag int) (*os.File, error) {
		f, err := os.OpenFile(p, flag|unix.O_CLOEXEC, 0)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	spec := l.spec
	spec.Args = argv
	if err := unix.PidfdSendSignal(l.pidfd, 0, nil, 0); err != nil {
		return -1, nil, fmt.Errorf("container %s is not running: %w", l.id, err)
	}
	joined, err := execFiles(&spec, l.nss, l.cgroups, true)
	files = append(files, joined...)
	if err != nil {
		return -1, nil, fmt.Errorf("container %s: %w", l.id, err)
	}
	null, err := open(os.DevNull, os.O_RDONLY)
	if err != nil {
		return -1, nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return -1, nil, err
	}
	files = append(files, outR)
	spec.Stdio = [3]*os.File{null, outW, outW}
	if err := ctx.Err(); err != nil {
		outW.Close()
		return -1, nil, err
	}
	start := func() (int, error) { return nsenter.Start(&spec) }
	var pid int
	if l.Spawn != nil {
		pid, err = l.Spawn(start)
	} else {
		pid, err = start()
	}
	outW.Close()
	if err != nil {
		return -1, nil, fmt.Errorf("container %s: %w", l.id, err)
	}

	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		io.Copy(&out, io.LimitReader(outR, maxLightOutput))
		io.Copy(io.Discard, outR) // never block the command on a full pipe
	}()
	type exit struct {
		ws  unix.WaitStatus
		err error
	}
	waited := make(chan exit, 1)
	go func() {
		var e exit
		for {
			if _, e.err = unix.Wait4(pid, &e.ws, 0, nil); e.err != unix.EINTR {
				break
			}
		}
		if e.err == nil && l.Reaped != nil {
			l.Reaped(pid)
		}
		waited <- e
	}()
	var e exit
	var ctxErr error
	select {
	case e = <-waited:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		// The command is our unreaped child: its pid cannot be reused yet.
		unix.Kill(pid, unix.SIGKILL)
		e = <-waited
	}
	ws := e.ws
	// A background child of the command may hold the pipe open: take what
	// is there, briefly, rather than wait for it.
	outR.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	<-readDone
	if e.err != nil {
		// Someone else reaped it (ECHILD): the exit code is unknown.
		return -1, out.Bytes(), fmt.Errorf("container %s: waiting for %q: %w", l.id, argv[0], e.err)
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if ctxErr != nil {
		return code, out.Bytes(), ctxErr
	}
	return code, out.Bytes(), nil
}
