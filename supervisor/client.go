package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/exeseal"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
)

// LaunchOptions start a supervisor.
type LaunchOptions struct {
	// Exe and Args run `podrun <global flags> pod supervise NAME`: Args
	// are everything before NAME.
	Exe  string
	Args []string
	// Pod (defaulted, valid) and Options create the sandbox; both unused
	// when Recover is set.
	Pod     *manifest.Pod
	Options pod.CreateOptions
	Name    string
	Recover bool
	Config  Config
}

// ErrSupervisorExited: the supervisor ended before it answered.
var ErrSupervisorExited = errdefs.New(errdefs.ErrUnavailable, "pod supervisor exited before the sandbox was ready")

// Launch starts the pod's supervisor detached (own session, stdio on
// /dev/null, then its log file) and returns once it reported the sandbox
// ready (or adopted the pod), or with its error.
func Launch(o LaunchOptions) error {
	msg := launchMsg{Pod: o.Pod, Options: o.Options, Config: o.Config, Recover: o.Recover}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	defer outR.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	// The supervisor forks exec probes and hooks into its containers
	// (runtime.LightExec): until they exec, /proc/<pid>/exe of those
	// children is the supervisor's binary. Running it from a sealed,
	// read-only view keeps that from being a write path to the host's
	// podrun (CVE-2019-5736), as for the container init.
	exe, _, err := exeseal.Open(o.Exe)
	if err != nil {
		return err
	}
	defer exe.Close()
	cmd := exec.Command(o.Exe, append(append([]string{}, o.Args...), o.Name)...)
	cmd.Path = fmt.Sprintf("/proc/self/fd/%d", exeFd)
	// Not the caller's cwd: the daemon would keep that mount busy.
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{inR, outW, exe} // launchFd, replyFd, exeFd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = supervisorEnv(os.Environ())
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		return fmt.Errorf("starting the pod supervisor: %w", err)
	}
	go func() { inW.Write(data); inW.Close() }()
	var rep launchReply
	derr := json.NewDecoder(outR).Decode(&rep)
	if derr != nil {
		// No answer: it died; collect its status for the message.
		werr := cmd.Wait()
		return fmt.Errorf("%w (%v)", ErrSupervisorExited, werr)
	}
	// The supervisor outlives us; it is not waited for.
	cmd.Process.Release()
	return errdefs.FromCode(rep.Code, rep.Error)
}

// supervisorEnv keeps the supervisor's heap small: it holds little, and
// its memory is what a pod costs on top of its containers. Measured with
// make bench-supervisor (10 containers, probes every second): GOGC=50
// keeps the private memory near 5 MiB at ~2 % CPU, while a GOMEMLIMIT
// close to that (6-8 MiB) makes the GC run constantly (15 % CPU).
func supervisorEnv(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "GOGC=") {
			return env
		}
	}
	return append(env, "GOGC=50")
}

// Status returns the pod's status and whether a supervisor runs it. With
// no supervisor and an unfinished pod the phase is Unknown (the last
// recorded container states are kept).
func Status(sb *pod.Sandbox) (manifest.PodStatus, bool, error) {
	alive := Alive(sb.StateDir)
	rec, err := LoadRecord(sb.StateDir)
	if errors.Is(err, os.ErrNotExist) {
		s := manifest.PodStatus{Phase: manifest.PodPending}
		if !alive {
			s.Phase = manifest.PodUnknown
		}
		return s, alive, nil
	}
	if err != nil {
		return manifest.PodStatus{Phase: manifest.PodUnknown}, alive, err
	}
	s := rec.Status
	if !alive && !rec.Final {
		// As for a pod of a lost node: nothing about it is known now.
		s.Phase = manifest.PodUnknown
		s.Conditions = append([]manifest.PodCondition(nil), s.Conditions...)
		for i := range s.Conditions {
			if t := s.Conditions[i].Type; t == manifest.PodReady || t == manifest.ContainersReady {
				s.Conditions[i].Status, s.Conditions[i].Reason = manifest.ConditionUnknown, "SupervisorLost"
			}
		}
		s.ContainerStatuses = append([]manifest.ContainerStatus(nil), s.ContainerStatuses...)
		for i := range s.ContainerStatuses {
			s.ContainerStatuses[i].Ready = false
		}
		s.Message = fmt.Sprintf("the pod's supervisor (pid %d) is not running; `podrun pod recover %s` adopts the pod", rec.SupervisorPid, sb.Name)
	}
	return s, alive, nil
}

// Stopping reports whether a stop of the pod is under way.
func Stopping(sb *pod.Sandbox) bool {
	rec, err := LoadRecord(sb.StateDir)
	return err == nil && rec.Stopping && !rec.Final
}

// Final reports whether the pod's supervisor finished (the pod ended or was
// stopped).
func Final(sb *pod.Sandbox) bool {
	rec, err := LoadRecord(sb.StateDir)
	return err == nil && rec.Final
}

// call sends one control request.
func call(sb *pod.Sandbox, req request) (*response, error) {
	c, err := net.Dial("unix", filepath.Join(sb.StateDir, sockFile))
	if err != nil {
		return nil, errdefs.Wrap(errdefs.ErrUnavailable, err)
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, err
	}
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		if errors.Is(err, io.EOF) {
			// The supervisor finished while answering: done.
			return &resp, nil
		}
		return nil, err
	}
	return &resp, resp.err()
}

// Stop stops the pod through its supervisor (preStop hooks, SIGTERM, SIGKILL
// after grace, infra last) and returns when it is done. grace < 0 uses the
// pod's terminationGracePeriodSeconds. A pod without a live supervisor is
// recovered first (recoverOpts), so its hooks and grace still apply.
func Stop(sb *pod.Sandbox, grace time.Duration, recoverOpts *LaunchOptions) error {
	if Final(sb) {
		return nil
	}
	if !Alive(sb.StateDir) {
		if recoverOpts == nil {
			return errdefs.Newf(errdefs.ErrUnavailable, "pod %s has no supervisor", sb.Name)
		}
		if err := Recover(sb, *recoverOpts); err != nil {
			return err
		}
		if Final(sb) {
			return nil
		}
	}
	req := request{Op: "stop"}
	if grace >= 0 {
		g := grace.Seconds()
		req.Grace = &g
	}
	_, err := call(sb, req)
	if err != nil && !Alive(sb.StateDir) && Final(sb) {
		return nil
	}
	return err
}

// Recover starts a supervisor that adopts the pod's running containers,
// unless one is alive or the pod is finished.
func Recover(sb *pod.Sandbox, o LaunchOptions) error {
	if Alive(sb.StateDir) || Final(sb) {
		return nil
	}
	o.Recover, o.Name, o.Pod = true, sb.Name, nil
	return Launch(o)
}

// LogPath returns the log of run attempt of container ctr.
func LogPath(sb *pod.Sandbox, ctr string, attempt int) string {
	return filepath.Join(sb.DataDir, "logs", ctr, strconv.Itoa(attempt)+".log")
}

// Attempts lists the run numbers with a log for container ctr, ascending.
func Attempts(sb *pod.Sandbox, ctr string) []int {
	ents, _ := os.ReadDir(filepath.Join(sb.DataDir, "logs", ctr))
	var out []int
	for _, e := range ents {
		if s, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ErrNoPrevious: --previous for a container that has not restarted.
var ErrNoPrevious = errdefs.New(errdefs.ErrNotFound, "previous terminated container not found")

// PrintLogs writes the messages of container ctr's current run (or of the
// previous run) to out.
func PrintLogs(out io.Writer, sb *pod.Sandbox, ctr string, previous bool) error {
	runs := Attempts(sb, ctr)
	if previous {
		if len(runs) < 2 {
			return fmt.Errorf("%w for container %q in pod %q", ErrNoPrevious, ctr, sb.Name)
		}
		runs = runs[len(runs)-2:]
	}
	if len(runs) == 0 {
		return nil
	}
	for _, f := range LogFiles(LogPath(sb, ctr, runs[len(runs)-1-boolInt(previous)])) {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		err = WriteMessages(out, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FollowLogs calls fn with every log line of the pod's app containers
// (each container's newest run, following restarts) from the start until
// ctx is done or the pod's supervisor has finished and the logs are read.
// only limits it to one container ("" for all).
func FollowLogs(ctx context.Context, sb *pod.Sandbox, only string, fn func(ctr, stream string, line []byte)) error {
	type cursor struct {
		attempt int
		f       *os.File
		r       *bufio.Reader
		partial []byte
	}
	curs := map[string]*cursor{}
	defer func() {
		for _, c := range curs {
			if c.f != nil {
				c.f.Close()
			}
		}
	}()
	var names []string
	for _, c := range sb.Pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range sb.Pod.Spec.Containers {
		names = append(names, c.Name)
	}
	if only != "" {
		names = []string{only}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		final := Final(sb) // read before draining: nothing is written after
		progressed := false
		for _, n := range names {
			c := curs[n]
			if c == nil {
				c = &cursor{attempt: -1}
				curs[n] = c
			}
			runs := Attempts(sb, n)
			for {
				if c.f == nil {
					next := -1
					for _, a := range runs {
						if a > c.attempt {
							next = a
							break
						}
					}
					if next < 0 {
						break
					}
					f, err := os.Open(LogPath(sb, n, next))
					if err != nil {
						break
					}
					c.attempt, c.f, c.r = next, f, bufio.NewReader(f)
				}
				for {
					line, err := c.r.ReadBytes('\n')
					if err != nil {
						c.partial = append(c.partial, line...)
						break
					}
					progressed = true
					if len(c.partial) > 0 {
						line = append(c.partial, line...)
						c.partial = nil
					}
					if rec, perr := ParseLogLine(line[:len(line)-1]); perr == nil {
						fn(n, rec.Stream, rec.Msg)
					}
				}
				// Rotated: the path is a new file; this one is complete.
				if fi, err := c.f.Stat(); err == nil {
					if pi, err := os.Stat(LogPath(sb, n, c.attempt)); err == nil && !os.SameFile(fi, pi) {
						f, err := os.Open(LogPath(sb, n, c.attempt))
						if err == nil {
							c.f.Close()
							c.f, c.r, c.partial = f, bufio.NewReader(f), nil
							continue
						}
					}
				}
				// A newer run exists: this one is complete.
				if runs[len(runs)-1] > c.attempt {
					c.f.Close()
					c.f = nil
					continue
				}
				break
			}
		}
		if final && !progressed {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
