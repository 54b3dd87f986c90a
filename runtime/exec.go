package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/cgroups/systemd"
	"github.com/podrun/podrun/internal/exeseal"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/namespaces/nsenter"
)

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	// Process to run; when nil, the container's own with Overrides
	// applied (runc exec without --process; ExecProcess builds the same).
	Process       *specs.Process
	Overrides     *ExecOverrides
	PidFile       string
	ConsoleSocket string
	PreserveFds   int
	Stdio         [3]*os.File
	// IgnorePaused allows an exec into a paused container (the process
	// starts frozen; Exec returns once the container is resumed).
	IgnorePaused bool
	// SubCgroups are `exec --cgroup` arguments: existing sub-cgroups of
	// the container's to run the process in (see cgroups.SubPaths).
	SubCgroups []string
}

// Exec starts an additional process in every namespace and the cgroup of a
// created or running container. It returns once the process is exec'd;
// the caller waits on the Process unless it detaches. The C helper of
// namespaces/nsenter starts it (no second Go runtime); its failures come
// back worded as runc and podrun's init word them (execError).
func (r *Runtime) Exec(id string, o ExecOpts) (_ *Process, retErr error) {
	// The sealed binary is made while the state is read and the process
	// prepared (see exeseal.Prepare; Create does the same).
	exeseal.Prepare(r.selfExe())
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	op := OpExec
	if o.IgnorePaused {
		op = OpIgnorePause
	}
	s, err := c.require(op)
	if err != nil {
		return nil, err
	}
	p := o.Process
	if p == nil {
		if o.Overrides == nil {
			return nil, errors.New("exec: no process and no overrides")
		}
		if p, err = c.execProcess(*o.Overrides); err != nil {
			return nil, err
		}
	}
	if err := r.validateProcess(p, "process"); err != nil {
		return nil, err
	}
	if p.Terminal && o.ConsoleSocket == "" {
		return nil, errors.New("cannot allocate tty without setting console socket")
	}
	nss, err := c.joinNamespaces()
	if err != nil {
		return nil, err
	}
	cg, err := c.execCgroup(o.SubCgroups)
	if err != nil {
		return nil, err
	}
	var consoleConn *os.File
	if p.Terminal {
		if consoleConn, err = dialConsole(o.ConsoleSocket); err != nil {
			return nil, err
		}
		defer consoleConn.Close()
	}
	preserve, err := preservedFiles(p, o.PreserveFds)
	if err != nil {
		return nil, err
	}
	_, linux, err := c.execBase()
	if err != nil {
		return nil, err
	}
	// The container's seccomp filter applies to exec'd processes too.
	filter, err := compileSeccomp(linux)
	if err != nil {
		return nil, err
	}
	spec, err := c.execSpec(p, linux, filter)
	if err != nil {
		return nil, err
	}
	// The helper execs a read-only view of podrun before it enters the
	// container, never the host's binary (CVE-2019-5736; see
	// namespaces/nsenter).
	dmz, _, err := exeseal.Open(r.selfExe())
	if err != nil {
		return nil, err
	}
	defer dmz.Close()
	spec.Dmz = dmz
	spec.Stdio = stdio(o.Stdio)
	spec.Preserve = len(preserve)
	if p.Terminal {
		spec.Console, spec.ConsoleUID = consoleConn, p.User.UID
		if sz := p.ConsoleSize; sz != nil {
			spec.ConsoleSize = &[2]uint16{uint16(sz.Height), uint16(sz.Width)}
		}
	}
	initPid := c.State.Pid
	if filter != nil && filter.Notify {
		sp, st := linux.Seccomp, c.specState(c.Status())
		spec.SeccompListener = func(fd *os.File, pid int) error { return seccompListener(sp, pid, st)(fd) }
	}
	// On cgroup v2 the process is born in the cgroup (CLONE_INTO_CGROUP):
	// a migration would wait an RCU grace period; on v1 the single-threaded
	// helper writes itself to `tasks` (cgroups.ThreadEnterer's trick). Not
	// with an initial CPU affinity (set before it joins), nor into a frozen
	// cgroup (--ignore-paused), where the helper must not freeze at birth.
	into := spec.InitialCPUs == nil && s != Paused
	files, err := execFiles(spec, nss, cgroupDirs(cg.Paths()), into)
	defer closeAll(files)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	if s == Paused {
		// The process is frozen until a resume, which needs the lock.
		c.Close()
	}
	pid, err := nsenter.Start(spec)
	if err != nil {
		var se *nsenter.StepError
		if errors.As(err, &se) {
			return nil, execError(se, p, nss, initPid)
		}
		return nil, fmt.Errorf("unable to start container process: %w", err)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			proc.Kill()
			proc.Wait()
		}
	}()
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return nil, err
		}
	}
	return &Process{proc: proc}, nil
}

// execCgroup is the cgroup an exec'd process joins: the container's, or
// the existing sub-cgroups of it named by subs (`exec --cgroup`).
func (c *Container) execCgroup(subs []string) (cgroups.Manager, error) {
	if len(subs) == 0 {
		return c.cgroup()
	}
	paths, err := cgroups.SubPaths(c.State.CgroupPaths, subs, systemd.UnitKey)
	if err != nil {
		return nil, err
	}
	for _, d := range paths {
		// Joining must not create it (runc: "which must exist").
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("--cgroup: sub-cgroup %w", err)
		}
	}
	return cgroups.Load(paths)
}

// joinNamespaces lists the init's namespaces (by /proc path) that differ
// from ours: every namespace of the container, whether it created or
// joined it. Joining one's own user namespace is an error, hence the check.
func (c *Container) joinNamespaces() ([]specs.LinuxNamespace, error) {
	var out []specs.LinuxNamespace
	for _, t := range namespaces.Types {
		name := namespaces.ProcName(t)
		theirs := fmt.Sprintf("/proc/%d/ns/%s", c.State.Pid, name)
		var a, b unix.Stat_t
		if err := unix.Stat(theirs, &a); err != nil {
			if errors.Is(err, unix.ENOENT) && t == specs.TimeNamespace {
				continue // kernel without time namespaces
			}
			return nil, fmt.Errorf("container init namespace %s: %w", name, err)
		}
		if err := unix.Stat("/proc/self/ns/"+name, &b); err == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			continue
		}
		out = append(out, specs.LinuxNamespace{Type: t, Path: theirs})
	}
	return out, nil
}

// ExecProcess builds the process of `exec` when no --process file is given:
// the container's own process with the args and flag overrides.
type ExecOverrides struct {
	Args            []string
	Env             []string
	Cwd             string
	User            *specs.User
	Caps            []string
	Terminal        bool
	NoNewPrivileges bool
	// ApparmorProfile and SelinuxLabel (--apparmor, --process-label)
	// replace the container's labels when set.
	ApparmorProfile, SelinuxLabel string
}

// ExecProcess returns the process for exec from the container's config and
// the overrides, as runc exec does without --process.
func (r *Runtime) ExecProcess(id string, o ExecOverrides) (*specs.Process, error) {
	c, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.execProcess(o)
}

// execProcess is ExecProcess on a loaded container.
func (c *Container) execProcess(o ExecOverrides) (*specs.Process, error) {
	base, _, err := c.baseProcess()
	if err != nil {
		return nil, err
	}
	p := *base
	p.Args = o.Args
	p.Terminal = o.Terminal
	p.Env = append(append([]string(nil), base.Env...), o.Env...)
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	if o.User != nil {
		p.User = *o.User
	}
	if o.NoNewPrivileges {
		p.NoNewPrivileges = true
	}
	if o.ApparmorProfile != "" {
		p.ApparmorProfile = o.ApparmorProfile
	}
	if o.SelinuxLabel != "" {
		p.SelinuxLabel = o.SelinuxLabel
	}
	p.ConsoleSize = nil
	if len(o.Caps) > 0 && base.Capabilities != nil {
		caps := *base.Capabilities
		add := func(set []string) []string { return append(append([]string(nil), set...), o.Caps...) }
		caps.Bounding, caps.Effective, caps.Permitted = add(caps.Bounding), add(caps.Effective), add(caps.Permitted)
		p.Capabilities = &caps
	}
	return &p, nil
}

// setOOMScoreAdj writes adj, when set, to the oom_score_adj of pid (an
// init or exec process before it runs the user's program).
func setOOMScoreAdj(pid int, adj *int) error {
	if adj == nil {
		return nil
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(strconv.Itoa(*adj)), 0); err != nil {
		return fmt.Errorf("process.oomScoreAdj: %w", err)
	}
	return nil
}
