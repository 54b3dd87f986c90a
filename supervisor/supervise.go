// Package supervisor is the per-pod daemon, podrun's kubelet for one pod:
// it creates the sandbox, runs init and app containers, restarts them per
// restartPolicy with CrashLoopBackOff, runs probes and lifecycle hooks,
// captures container output as CRI logs, and records the pod's status
// (phase, conditions, container states) and events; a new supervisor can
// adopt a pod whose supervisor died. The pure kubelet logic (phase,
// conditions, restart decisions, back-off) lives in status.go, policy.go
// and backoff.go.
package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
)

// launchMsg is what Launch sends the new supervisor on fd 3.
type launchMsg struct {
	Pod     *manifest.Pod     `json:"pod,omitempty"`
	Options pod.CreateOptions `json:"options"`
	Config  Config            `json:"config"`
	Recover bool              `json:"recover,omitempty"`
}

// launchReply is the supervisor's answer on fd 4.
type launchReply struct {
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"` // Error's errdefs category
}

// Fds of a launched supervisor.
const (
	launchFd = 3
	replyFd  = 4
	// exeFd is the sealed, read-only view of the podrun binary the
	// supervisor was exec'd from (see Launch); closed at once.
	exeFd = 5
)

// Supervise is the supervisor process (`podrun pod supervise NAME`): it
// creates the sandbox (or adopts a running pod when recovering), reports
// back to Launch, then runs the pod until it is finished or stopped.
func Supervise(deps Deps, name string) error {
	// Orphans of the pod re-parent to us, not to init.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	for _, fd := range []int{launchFd, replyFd} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return errors.New("pod supervise is started by podrun itself (pod run, pod recover)")
		}
	}
	unix.Close(exeFd)
	in := os.NewFile(launchFd, "launch")
	out := os.NewFile(replyFd, "reply")
	var msg launchMsg
	err := json.NewDecoder(in).Decode(&msg)
	in.Close()
	reply := func(err error) {
		if out == nil {
			return
		}
		r := launchReply{Error: errText(err), Code: errdefs.Code(err)}
		json.NewEncoder(out).Encode(r)
		out.Close()
		out = nil
	}
	if err != nil {
		reply(fmt.Errorf("reading the launch message: %w", err))
		return err
	}
	d, err := setup(deps, name, &msg)
	if err != nil {
		if errors.Is(err, errAlreadySupervised) {
			reply(nil)
			return nil
		}
		reply(err)
		return err
	}
	if d == nil { // recovering a finished pod: nothing to run
		reply(nil)
		return nil
	}
	// Answered once the first containers are started, as when they were
	// started before setup returned: pod run -d returns with them running.
	d.whenStarted(func() { reply(nil) })
	d.loopRun()
	return nil
}

var errAlreadySupervised = errors.New("the pod already has a supervisor")

// setup makes the daemon: the sandbox, the lock, the log, the holder, the
// infra watcher, the control socket, and the first starts (or adoption).
func setup(deps Deps, name string, msg *launchMsg) (*daemon, error) {
	sb, rec, cfg, lock, err := openPod(deps.Manager, name, msg)
	if err != nil || sb == nil {
		return nil, err
	}
	d, err := newDaemon(deps, sb, cfg, rec)
	if err != nil {
		return nil, err
	}
	d.lock = lock // held (open) for the process's life
	d.reaper = newReaper()
	if !msg.Recover {
		d.reaper.add(sb.InfraPid)
	}
	if ph, ok := deps.Handlers.(*ProbeHandlers); ok {
		ph.reaper = d.reaper
	}
	go d.reaper.run(d.done)
	d.watchInfra(!msg.Recover)
	holderLf := d.connectHolder(msg.Recover)
	if err := d.listen(); err != nil {
		if holderLf != nil {
			holderLf.Close()
		}
		return nil, err
	}
	if msg.Recover && rec != nil {
		d.event(Normal, "Recovered", "pod", fmt.Sprintf("Supervisor %d adopted the pod", os.Getpid()))
		d.adopt()
	} else {
		d.event(Normal, "Scheduled", "pod", "Sandbox ready; supervisor pid "+fmt.Sprint(os.Getpid()))
	}
	if d.infra == nil && !d.stopping {
		d.event(Warning, "SandboxChanged", "pod", "The pod's infra container is gone; stopping the pod")
		d.stop(d.grace(), nil)
	}
	d.advance()
	d.save()
	d.armDeadline()
	if holderLf != nil {
		// The holder starts once the first containers do, off the pod's
		// start path (on 2 CPUs its exec and start-up slowed the
		// creations): what the daemon put meanwhile queued on the socket
		// it listens on. Should it fail, closing the socket resets the
		// connection and later puts fail harmlessly (no protection, as
		// without a holder).
		d.whenStarted(func() {
			go func() {
				defer holderLf.Close()
				var err error
				d.reaper.spawn(func() []int {
					var pid int
					pid, err = startHolder(deps.Exe, deps.HolderArgs, holderLf, sb.InfraPid)
					return []int{pid}
				})
				if err != nil {
					fmt.Fprintf(os.Stderr, "supervisor: fd holder: %v\n", err)
				}
			}()
		})
	}
	return d, nil
}

// openPod creates the pod's sandbox (or, recovering, finds it), takes its
// supervisor lock, sends stderr to its log and loads the recovered record
// and config. A nil sandbox without error: a recovered pod is finished.
func openPod(mgr *pod.Manager, name string, msg *launchMsg) (sb *pod.Sandbox, rec *Record, cfg Config, lock *os.File, err error) {
	if msg.Recover {
		if sb, err = mgr.Get(name); err != nil {
			return nil, nil, cfg, nil, err
		}
	} else {
		if msg.Pod == nil {
			return nil, nil, cfg, nil, errors.New("launch message without a pod")
		}
		if sb, err = mgr.Create(msg.Pod, msg.Options); err != nil {
			return nil, nil, cfg, nil, err
		}
	}
	if lock, err = lockSupervisor(sb.StateDir); err != nil {
		return nil, nil, cfg, nil, err
	}
	redirectStderr(filepath.Join(sb.StateDir, logFile))
	cfg = msg.Config
	if msg.Recover {
		if rec, err = LoadRecord(sb.StateDir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, cfg, nil, err
		}
		if rec != nil && rec.Final {
			return nil, nil, cfg, nil, nil
		}
		if rec != nil {
			cfg = rec.Config
		}
	}
	if cfg.BackoffInitial == 0 {
		cfg = DefaultConfig()
	}
	return sb, rec, cfg, lock, nil
}

// watchInfra opens the infra process (child: it is ours, a new pod) and
// posts onInfraExit when it ends; infraDone is closed then (at once when
// it is gone already).
func (d *daemon) watchInfra(child bool) {
	infraDone := make(chan struct{})
	if p, err := openProc(d.sb.InfraPid, 0, child); err == nil {
		d.infra = p
		go func() {
			p.wait()
			close(infraDone)
			d.post(func() { d.onInfraExit() })
		}()
	} else {
		close(infraDone)
	}
	d.infraDone = infraDone
}

// connectHolder connects to the pod's fd holder: the running one when
// recovering, else a new socket (returned: the holder process listens on
// it once started); nil when there is none.
func (d *daemon) connectHolder(recovering bool) *os.File {
	sock := filepath.Join(d.sb.StateDir, holderSock)
	if recovering {
		d.holder, _ = dialHolder(sock)
	}
	if d.holder != nil || d.infra == nil || d.HolderArgs == nil {
		return nil
	}
	lf, err := listenHolder(sock)
	if err == nil {
		if d.holder, err = dialHolder(sock); err != nil {
			lf.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: fd holder: %v\n", err)
		return nil
	}
	return lf
}

// lockSupervisor takes the pod's supervisor lock: one supervisor per pod,
// and a lock that dies with its process is the liveness signal.
func lockSupervisor(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errAlreadySupervised
		}
		return nil, err
	}
	return f, nil
}

// Alive reports whether a supervisor holds the pod's lock.
func Alive(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

func redirectStderr(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	unix.Dup3(int(f.Fd()), 1, 0)
	unix.Dup3(int(f.Fd()), 2, 0)
	f.Close()
}

// onInfraExit: the sandbox is gone; nothing can run in it any more.
func (d *daemon) onInfraExit() {
	if d.finishing {
		return // finishPod stopped it; finished closes it
	}
	if d.infra != nil {
		d.infra.close()
		d.infra = nil
	}
	if !d.stopping {
		d.event(Warning, "SandboxChanged", "pod", "The pod's infra container exited; stopping the pod")
		d.stop(d.grace(), nil)
	}
}
