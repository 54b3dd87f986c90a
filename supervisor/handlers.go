package supervisor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/probes"
	"github.com/podrun/podrun/runtime"
)

// ProbeHandlers builds probe and hook handlers with package probes:
// httpGet and tcpSocket dial from inside the pod's network namespace
// (probes.NetNSDialer; so they work without a pod IP), exec runs the
// command in the container's namespaces and cgroup with runtime.LightExec
// (one fork+exec from C, ~2 ms of CPU), or runtime.Exec (a podrun init
// child) for containers LightExec cannot serve; the probe's timeout kills
// it.
type ProbeHandlers struct {
	Runtime *runtime.Runtime

	reaper *reaper // registers exec children (set by Supervise)
	mu     sync.Mutex
	light  map[string]*runtime.LightExec // by container id; nil: use Exec
}

// Release drops what was prepared for container id (its run ended).
func (b *ProbeHandlers) Release(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.light[id]; l != nil {
		l.Close()
	}
	delete(b.light, id)
}

// lightExec returns the container's LightExec, prepared once; nil when the
// container needs runtime.Exec.
func (b *ProbeHandlers) lightExec(id string) *runtime.LightExec {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.light[id]; ok {
		return l
	}
	if b.light == nil {
		b.light = map[string]*runtime.LightExec{}
	}
	l, err := b.Runtime.PrepareExecLight(id)
	if err != nil {
		// ErrNotLight, or not running yet: runtime.Exec says why.
		if !errors.Is(err, runtime.ErrNotLight) {
			return nil
		}
		b.light[id] = nil
		return nil
	}
	if r := b.reaper; r != nil {
		// Its commands are registered with the orphan reaper like every
		// other child of the supervisor.
		l.Spawn = func(start func() (int, error)) (int, error) {
			var pid int
			var err error
			r.spawn(func() []int {
				pid, err = start()
				return []int{pid}
			})
			return pid, err
		}
		l.Reaped = r.forget
	}
	b.light[id] = l
	return l
}

// Handler implements Handlers.
func (b *ProbeHandlers) Handler(t Target, h *manifest.ProbeHandler) (Handler, error) {
	pt := probes.Target{PodIP: t.Sandbox.IP, Ports: t.Container.Ports, Exec: b.execFunc(t.ID)}
	if ns := t.Sandbox.NetNS; ns != "" {
		pt.Dial = probes.NetNSDialer(ns)
	}
	ph, err := probes.NewHandler(h, pt)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (bool, string) {
		r, out, err := ph.Probe(ctx)
		if err != nil {
			if out != "" {
				return false, err.Error() + ": " + out
			}
			return false, err.Error()
		}
		return r == probes.Success, out
	}, nil
}

// execFunc runs argv in container id: a podrun init child joins the
// container (runtime.Exec) and execs argv; output is kept up to 10 KiB.
func (b *ProbeHandlers) execFunc(id string) probes.ExecFunc {
	return func(ctx context.Context, argv []string) (int, []byte, error) {
		if len(argv) == 0 {
			return -1, nil, errors.New("exec: empty command")
		}
		if l := b.lightExec(id); l != nil {
			return l.Run(ctx, argv)
		}
		proc, err := b.Runtime.ExecProcess(id, runtime.ExecOverrides{Args: argv})
		if err != nil {
			return -1, nil, err
		}
		proc.Terminal = false
		r, w, err := os.Pipe()
		if err != nil {
			return -1, nil, err
		}
		defer r.Close()
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			w.Close()
			return -1, nil, err
		}
		defer devnull.Close()
		var child *runtime.Process
		b.reaper.spawn(func() []int {
			child, err = b.Runtime.Exec(id, runtime.ExecOpts{Process: proc, Stdio: [3]*os.File{devnull, w, w}})
			if err != nil {
				return nil
			}
			return []int{child.Pid()}
		})
		w.Close()
		if err != nil {
			return -1, nil, err
		}
		defer b.reaper.forget(child.Pid())
		out := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(io.LimitReader(r, 10<<10))
			io.Copy(io.Discard, r)
			out <- b
		}()
		done := make(chan *os.ProcessState, 1)
		go func() { st, _ := child.Wait(); done <- st }()
		var st *os.ProcessState
		select {
		case st = <-done:
		case <-ctx.Done():
			child.Kill()
			<-done
			return -1, nil, ctx.Err()
		}
		o := bytes.TrimSpace(<-out)
		return st.ExitCode(), o, nil
	}
}
