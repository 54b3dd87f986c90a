package namespaces

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/exeseal"
	"github.com/podrun/podrun/internal/sigfwd"
	"github.com/podrun/podrun/namespaces/nsenter"
)

// EnvSyncFd names the environment variable that tells `podrun init` which fd
// is its end of the protocol socket.
const EnvSyncFd = "_PODRUN_SYNC_FD"

// envExeFd tells `podrun init` which fd is the sealed binary it was
// executed from, which it closes at once.
const envExeFd = "_PODRUN_EXE_FD"

// StartOptions describes the child to start.
type StartOptions struct {
	// Self is the podrun binary to re-execute ("/proc/self/exe" if empty).
	Self string
	// Config is sent to the child once it is in its cgroup (see Child.SendConfig).
	Config *InitConfig
	// Namespaces are created (no path) or joined (path). For exec they are
	// all paths under /proc/<init>/ns.
	Namespaces []specs.LinuxNamespace
	// UIDMappings and GIDMappings apply to a new user namespace.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	// Stdio are the child's fds 0, 1 and 2.
	Stdio [3]*os.File
	// Preserve become fds 3.. of the user process (--preserve-fds, LISTEN_FDS).
	Preserve []*os.File
	// Fifo (create only) is the exec fifo opened O_PATH.
	Fifo *os.File
	// Console is the connection to the --console-socket, when a terminal is asked for.
	Console *os.File
	// MountSources (create only), when set, has one entry per spec mount:
	// the bind mount's source opened O_PATH by the runtime, or nil. The
	// init mounts from these, where the path may be out of its reach
	// (a user namespace), and closes them after.
	MountSources []*os.File
	// CgroupFD, when >= 0, places the child in that cgroup v2 at clone time.
	CgroupFD int
	// TimeOffsets (linux.timeOffsets) apply to the new time namespace.
	TimeOffsets map[string]specs.LinuxTimeOffset
	// EnterCgroup, if set, moves the calling (locked) thread into the
	// container's cgroups, so that the child is forked there and needs no
	// migration (cgroups.ThreadEnterer); leave moves the thread back.
	EnterCgroup func() (leave func() error, err error)
}

// Child is a started init or exec child.
type Child struct {
	Cmd  *exec.Cmd
	conn *conn
	// SeccompListener, if set, gets the seccomp notify fd the child sends
	// before ready (SCMP_ACT_NOTIFY rules) and passes it on.
	SeccompListener func(*os.File) error
}

// Pid returns the child's host pid.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Start forks and re-executes podrun as `podrun init` in the namespaces
// o asks for. It returns as soon as the child exists; the caller then places
// it in its cgroup and calls SendConfig.
func Start(o *StartOptions) (_ *Child, retErr error) {
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	self := o.Self
	if self == "" {
		self = "/proc/self/exe"
	}
	// The child runs a read-only view of the binary, so that its
	// /proc/<pid>/exe, reachable from the container, cannot be used to
	// overwrite podrun on the host (CVE-2019-5736).
	exe, _, err := exeseal.Open(self)
	if err != nil {
		return nil, err
	}
	closers = append(closers, exe)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating init socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(pair[0]), "init-parent")
	childSock := os.NewFile(uintptr(pair[1]), "init-child")
	closers = append(closers, childSock)
	defer func() {
		if retErr != nil {
			parentSock.Close()
		}
	}()

	cfg := o.Config
	extra := append([]*os.File(nil), o.Preserve...)
	nextFd := func(f *os.File) int {
		extra = append(extra, f)
		return 3 + len(extra) - 1
	}
	syncFd := nextFd(childSock)
	if o.Fifo != nil {
		cfg.FifoFd = nextFd(o.Fifo)
	}
	if o.Console != nil {
		cfg.ConsoleFd = nextFd(o.Console)
	}
	cfg.PreserveFds = len(o.Preserve)
	cfg.MountFds = nil
	for i, f := range o.MountSources {
		if f == nil {
			continue
		}
		if cfg.MountFds == nil {
			cfg.MountFds = slices.Repeat([]int{-1}, len(o.MountSources))
		}
		cfg.MountFds[i] = nextFd(f)
	}
	// Executed as /proc/self/fd/<n> of the child, then closed by it: an fd
	// the child inherits has a known number, where the parent's own could
	// be overwritten while the child's fds are arranged.
	exeFd := nextFd(exe)

	env := []string{
		EnvSyncFd + "=" + strconv.Itoa(syncFd),
		envExeFd + "=" + strconv.Itoa(exeFd),
		// Go's runtime would otherwise hold the host cgroup's cpu files
		// open to follow the CPU limit: no host fd in the init.
		"GODEBUG=containermaxprocs=0,updatemaxprocs=0",
	}
	// The mask podrun started with, if it blocked signals to forward:
	// the container's process inherits the init's.
	env = append(env, sigfwd.ChildEnv()...)
	flags := NewFlags(o.Namespaces)
	// The cgroup namespace is unshared by the child once it is in its cgroup,
	// so that its root is the container's cgroup (runc does the same).
	if flags&unix.CLONE_NEWCGROUP != 0 {
		flags &^= unix.CLONE_NEWCGROUP
		cfg.UnshareCgroup = true
	}
	cfg.NewMountNS = flags&unix.CLONE_NEWNS != 0
	// A time namespace with offsets is made by the child's nsenter
	// constructor, so that they are set before anything enters it.
	if flags&unix.CLONE_NEWTIME != 0 && len(o.TimeOffsets) > 0 {
		flags &^= unix.CLONE_NEWTIME
		env = append(env, nsenter.EnvTimeOffsets+"="+timeOffsetsText(o.TimeOffsets))
	}

	var joinPid *os.File
	cfg.JoinFds = map[string]int{}
	for _, ns := range o.Namespaces {
		if ns.Path == "" {
			continue
		}
		f, err := openNS(ns)
		if err != nil {
			return nil, err
		}
		closers = append(closers, f)
		switch ns.Type {
		case specs.PIDNamespace:
			joinPid = f
		case specs.TimeNamespace:
			// setns into a time namespace needs a single-threaded
			// caller: the nsenter constructor of the child joins it.
			env = append(env, nsenter.EnvTimeNSFd+"="+strconv.Itoa(nextFd(f)))
		case specs.UserNamespace:
			// Joined by the nsenter constructor before the Go runtime
			// starts; the namespaces to create are then unshared there
			// too, so that the user namespace owns them.
			if flags&unix.CLONE_NEWPID != 0 {
				return nil, errors.New("linux.namespaces: a new pid namespace inside an existing user namespace is not supported")
			}
			fd := nextFd(f)
			env = append(env, nsenter.EnvUserNSFd+"="+strconv.Itoa(fd),
				nsenter.EnvUnshare+"="+strconv.Itoa(int(flags)))
			flags = 0
		default:
			cfg.JoinFds[procNames[ns.Type]] = nextFd(f)
		}
	}

	cloexecInherited()
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(exeFd),
		Args:       []string{"podrun", "init"},
		Env:        env,
		Stdin:      o.Stdio[0],
		Stdout:     o.Stdio[1],
		Stderr:     o.Stdio[2],
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
		},
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = idMap(o.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMap(o.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become root of the new user namespace before the exec of
		// `podrun init`, as runc's nsexec does: we are still host root,
		// which the namespace does not map, so the exec would otherwise
		// drop every capability the init needs there (unsharing the
		// cgroup namespace, mounting, sethostname...).
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if o.CgroupFD >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = o.CgroupFD
	}
	if err := startIn(cmd, joinPid, o.EnterCgroup); err != nil {
		return nil, fmt.Errorf("starting container init: %w", err)
	}
	return &Child{Cmd: cmd, conn: newConn(parentSock)}, nil
}

// startIn starts cmd with its pid namespace set to the given one.
// That namespace only applies to children of the calling thread, so the
// work happens on a locked thread that is thrown away afterwards (the
// goroutine exits still locked, and the Go runtime then ends the thread)
// rather than restored: gVisor's runsc uses the same pattern.
func startIn(cmd *exec.Cmd, pidNS *os.File, enterCgroup func() (func() error, error)) error {
	if pidNS == nil && enterCgroup == nil {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: this thread's namespaces are now changed.
		if pidNS != nil {
			if err := unix.Setns(int(pidNS.Fd()), 0); err != nil {
				errc <- fmt.Errorf("joining namespace %s: %w", pidNS.Name(), err)
				return
			}
		}
		if enterCgroup != nil {
			// The thread is dropped whatever happens: it may be left
			// in the container's cgroups.
			leave, err := enterCgroup()
			if err != nil {
				errc <- fmt.Errorf("%w: %w", errEnterCgroup, err)
				return
			}
			err = cmd.Start()
			// A thread left behind exits with this goroutine.
			_ = leave()
			if err != nil {
				// E.g. EAGAIN at a pids limit the thread counts toward.
				err = fmt.Errorf("%w: %w", errEnterCgroup, err)
			}
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// errEnterCgroup marks a failure to move the forking thread into the
// container's cgroups (StartOptions.EnterCgroup): the caller starts the
// child again without it and moves it with cgroup.procs.
var errEnterCgroup = errors.New("entering the container's cgroups")

// IsEnterCgroupError reports whether Start failed in EnterCgroup.
func IsEnterCgroupError(err error) bool { return errors.Is(err, errEnterCgroup) }

// openNS opens a namespace path and checks that it is of the right type.
func openNS(ns specs.LinuxNamespace) (*os.File, error) {
	f, err := os.OpenFile(ns.Path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linux.namespaces: %s namespace path: %w", ns.Type, err)
	}
	got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("linux.namespaces: %s namespace path %q is not a namespace: %w", ns.Type, ns.Path, err)
	}
	if uintptr(got) != cloneFlags[ns.Type] {
		f.Close()
		return nil, fmt.Errorf("linux.namespaces: path %q is not a %s namespace", ns.Path, ns.Type)
	}
	return f, nil
}

func idMap(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// SendConfig sends the child its configuration; call it once the child is in
// its cgroup.
func (c *Child) SendConfig(cfg *InitConfig) error {
	pl, err := newPlan(cfg)
	if err != nil {
		return err
	}
	return c.conn.send(message{Type: msgConfig, Plan: pl})
}

// WaitCreateRuntime waits until the child has prepared the rootfs and is
// ready for the prestart and createRuntime hooks.
func (c *Child) WaitCreateRuntime() error {
	_, err := c.conn.recv(msgCreateRuntime)
	return err
}

// HooksDone tells the child the runtime-namespace hooks ran.
func (c *Child) HooksDone() error { return c.conn.send(message{Type: msgHooksDone}) }

// WaitReady waits for the child to finish its set-up.
func (c *Child) WaitReady() error { return c.waitReady() }

// WaitExec waits, after ready, until the child exec'd the user process (the
// socket closes on exec) or reports why it could not.
func (c *Child) WaitExec() error {
	_, err := c.conn.recv(0)
	if errors.Is(err, errChildExited) {
		return nil
	}
	return err
}

// Close drops the parent's end of the protocol socket.
func (c *Child) Close() error { return c.conn.f.Close() }

// Kill kills the child and reaps it; used when set-up fails.
func (c *Child) Kill() {
	_ = c.Cmd.Process.Kill()
	_, _ = c.Cmd.Process.Wait()
	c.conn.f.Close()
}
