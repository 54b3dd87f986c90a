// adopt.go: a recovered supervisor takes over the runs its predecessor
// left: live ones watched again with their I/O, lost ones reported,
// back-offs resumed.

package supervisor

import (
	"fmt"
	"os"
	"strings"

	"github.com/podrun/podrun/runtime"
)

// adopt takes over the runs a previous supervisor left: live ones are
// watched through pidfds (not our children), gone ones are reported
// lost, back-offs resume where they were.
func (d *daemon) adopt() {
	var held map[string]*os.File
	if d.holder != nil {
		held, _ = d.holder.getAll()
	}
	for _, c := range d.ctrs {
		rr, ok := d.rec.Runs[c.name]
		if pr, pending := d.rec.RestartAt[c.name]; pending && !ok {
			d.armRestart(c, pr.At, pr.Count)
			continue
		}
		if !ok {
			continue
		}
		if rr.Pid == 0 {
			// The previous supervisor died creating this run: adopt it
			// if it got started, else remove it and start it again.
			st, err := d.ctl.state(rr.ID)
			if err != nil || st.Status != runtime.Running || st.Pid <= 0 {
				_ = d.ctl.remove(d.sb, rr.ID)
				delete(d.rec.Runs, c.name)
				d.armRestart(c, d.now(), false)
				continue
			}
			rr.Pid, rr.Started = st.Pid, d.now()
			d.rec.Runs[c.name] = rr
		}
		r := &run{id: rr.ID, attempt: rr.Attempt, startedAt: rr.Started, exited: make(chan struct{})}
		c.run = r
		p, err := d.ctl.adopt(rr.Pid, rr.PidStart)
		if err != nil {
			d.event(Warning, "ContainerLost", c.object(), "Container "+c.name+" exited while the pod had no supervisor")
			c, r := c, r
			go d.post(func() { d.onExit(c, r, exitInfo{}) })
			continue
		}
		r.p = p
		d.reattachIO(c, r, rr, held)
		d.watch(c, r)
		d.startProbesAndHooks(c, r, false)
	}
	for _, f := range held {
		f.Close()
	}
}

// reattachIO gives an adopted run its stdin, output and log again: the
// fds the holder kept (taken out of held), else, for pipes, the
// process's own fds reopened through /proc.
func (d *daemon) reattachIO(c *ctr, r *run, rr RunRecord, held map[string]*os.File) {
	lw, err := OpenLog(d.logPath(c.name, rr.Attempt), d.cfg.LogMaxSize, d.cfg.LogMaxFiles, nil)
	if in := held[fdKey(c.name, rr.Attempt, streamStdin)]; in != nil {
		r.stdin = in // kept open again: the container's stdin stays without EOF
		delete(held, fdKey(c.name, rr.Attempt, streamStdin))
	}
	if err == nil && c.spec.TTY {
		// The pty master only the holder can give back (a master
		// cannot be reopened); without it the output is lost.
		if m := held[fdKey(c.name, rr.Attempt, streamTTY)]; m != nil {
			delete(held, fdKey(c.name, rr.Attempt, streamTTY))
			r.logs, r.master = lw, m
			d.copyTTY(r, m)
		} else {
			lw.Close()
		}
	} else if err == nil {
		r.logs = lw
		outF := held[fdKey(c.name, rr.Attempt, "stdout")]
		errF := held[fdKey(c.name, rr.Attempt, "stderr")]
		if outF == nil {
			outF = reopenPipe(rr.Pid, 1)
		}
		if errF == nil {
			errF = reopenPipe(rr.Pid, 2)
		}
		if outF != nil && errF != nil {
			delete(held, fdKey(c.name, rr.Attempt, "stdout"))
			delete(held, fdKey(c.name, rr.Attempt, "stderr"))
			d.copyLogs(r, outF, errF)
		} else {
			lw.Close()
		}
	}
}

// reopenPipe opens the read end of the pipe that is fd n of pid, when it
// is a pipe: opening /proc/PID/fd/N of a pipe opens that pipe again.
func reopenPipe(pid, n int) *os.File {
	p := fmt.Sprintf("/proc/%d/fd/%d", pid, n)
	if l, err := os.Readlink(p); err != nil || !strings.HasPrefix(l, "pipe:") {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	return f
}
