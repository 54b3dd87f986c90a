package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/procstat"
)

// proc is one watched process: a pidfd (so signals and the exit wait can
// never hit a later process that reused the pid) polled by Go's netpoller,
// so waiting costs no thread and no timer.
type proc struct {
	pid   int
	start uint64
	child bool // our child: wait4 gives its status; else only its end is seen
	fd    *os.File
}

// exitInfo is how a process ended. Known is false when the process was
// not our child (adopted after a supervisor restart): Linux gives its
// status only to its parent.
type exitInfo struct {
	Known    bool
	ExitCode int
	Signal   int
	Rusage   unix.Rusage
	// Message is the run's termination message (read off the loop).
	Message string
}

// errGone is openProc's answer for a process that is no longer the one
// recorded.
var errGone = errors.New("process is gone")

// openProc opens pid, checking it is still the process that started at
// start (0: do not check).
func openProc(pid int, start uint64, child bool) (*proc, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, errGone
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// Checked after the pidfd exists: the pidfd pins this process.
	st, state, err := procstat.Read(pid)
	if err != nil || (start != 0 && st != start) || (!child && (state == 'Z' || state == 'X')) {
		unix.Close(fd)
		return nil, errGone
	}
	return &proc{pid: pid, start: st, child: child, fd: os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid))}, nil
}

// signal sends sig to the process (a no-op once it is gone).
func (p *proc) signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(int(p.fd.Fd()), sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// wait blocks (in the netpoller) until the process ended and returns how.
// A child is reaped here.
func (p *proc) wait() (exitInfo, error) {
	rc, err := p.fd.SyscallConn()
	if err != nil {
		return exitInfo{}, err
	}
	var info exitInfo
	var werr error
	err = rc.Read(func(fd uintptr) bool {
		if p.child {
			var ws unix.WaitStatus
			var ru unix.Rusage
			for {
				wpid, err := unix.Wait4(p.pid, &ws, unix.WNOHANG, &ru)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				if wpid == 0 {
					return false // still running: wait for the pidfd
				}
				break
			}
			info = exitInfo{Known: true, Rusage: ru}
			switch {
			case ws.Exited():
				info.ExitCode = ws.ExitStatus()
			case ws.Signaled():
				info.Signal = int(ws.Signal())
				info.ExitCode = 128 + info.Signal
			}
			return true
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0
	})
	if err == nil {
		err = werr
	}
	return info, err
}

func (p *proc) close() { p.fd.Close() }

// signalName is the name kubelet-style messages use.
func signalName(sig int) string { return unix.SignalName(syscall.Signal(sig)) }

func (p *proc) ident() (int, uint64, bool) { return p.pid, p.start, p.child }
