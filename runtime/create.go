package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/cgroups/devices"
	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/exeseal"
	"github.com/podrun/podrun/internal/hooks"
	"github.com/podrun/podrun/internal/procstat"
	"github.com/podrun/podrun/internal/rootonly"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/seccomp"
)

// CreateOpts are the options of `create` (and of `run`).
type CreateOpts struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	// PreserveFds passes fds 3..3+PreserveFds-1 to the process (after any
	// LISTEN_FDS, which are passed as well).
	PreserveFds int
	// Stdio of the container; the caller's own when nil.
	Stdio [3]*os.File
	// Image is the image rootfs (layers of an open store) to mount on
	// root.path, from a caller that has it at hand (the pod manager). When
	// nil, the bundle's image annotations, if any, name it (a bundle from
	// `podrun bundle --image`, created by another process).
	Image *image.Rootfs
}

// Create makes container id from a bundle: the init is started in its
// namespaces and cgroup, the rootfs is set up and the init waits for Start.
// The returned Process is the init; `run` waits on it, `create` just exits.
// On error nothing is left behind: no state dir, cgroup or process.
func (r *Runtime) Create(id string, o CreateOpts) (_ *Process, retErr error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	// The sealed binary the init runs is made while the spec is read and
	// the state dir and cgroups are set up: its last step waits for an RCU
	// grace period (see exeseal.Prepare); namespaces.Start takes it.
	exeseal.Prepare(r.selfExe())
	in, err := r.loadBundle(o)
	if err != nil {
		return nil, err
	}
	cg, err := r.NewCgroup(in.spec.Linux.CgroupsPath, id)
	if err != nil {
		return nil, err
	}
	// An id in use is refused before the cgroup is looked at (runc checks
	// its state dir first too): the cgroup is the other container's, and
	// its "not empty" warning would only confuse. The mkdir in newContainer
	// is the check that counts.
	if _, err := os.Lstat(r.dir(id)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExist, id)
	}
	if err := r.checkCgroupUsable(cg); err != nil {
		return nil, err
	}
	c, err := r.newContainer(id, in, cg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var child *namespaces.Child
	defer func() {
		if retErr == nil {
			return
		}
		if child != nil {
			child.Kill()
		}
		// The init is gone; remove what create made, in reverse.
		if err := c.destroy(false); err != nil {
			r.Log.Warnf("cleaning up after failed create: %v", err)
		}
	}()
	// An image bundle's overlay: its use is on disk before the init
	// mounts it, so a failed create or `delete --force` releases it.
	ovl, use, err := r.acquireImage(in.spec, o.Image, id)
	if err != nil {
		return nil, err
	}
	c.State.Image = use
	if !namespaces.Has(in.spec.Linux.Namespaces, specs.MountNamespace) {
		n, err := mountsAt(in.rootfs)
		if err != nil {
			return nil, fmt.Errorf("root.path: %w", err)
		}
		c.State.RootfsMounts = &n
	}
	// The cgroup paths are on disk before the cgroup exists, so that a
	// `delete --force` after a crash of this process finds them.
	if err := c.save(); err != nil {
		return nil, err
	}
	files, err := c.openInitFiles(in, o)
	defer files.close()
	if err != nil {
		return nil, err
	}
	cfg := &namespaces.InitConfig{
		ID: id, Spec: in.spec, Process: in.spec.Process,
		Rootfs: in.rootfs, BundleDir: in.bundle, NoPivot: o.NoPivot, NewKeyring: !o.NoNewKeyring,
		Overlay: ovl, Seccomp: in.filter,
	}
	if child, err = c.startInit(cg, cfg, files, o.Stdio); err != nil {
		return nil, err
	}
	if err := c.initSteps(child, cg, cfg); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, child.Pid()); err != nil {
			return nil, err
		}
	}
	if err := c.setStatus(Created); err != nil {
		return nil, err
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	child.Close()
	return newProcess(child), nil
}

// createInput is a bundle read and checked for Create.
type createInput struct {
	bundle, rootfs string // absolute
	spec           *specs.Spec
	raw            []byte          // config.json as read: the state keeps it
	filter         *seccomp.Filter // compiled linux.seccomp, nil without
}

// loadBundle reads, validates and resolves the bundle of o: everything
// Create checks before it makes anything.
func (r *Runtime) loadBundle(o CreateOpts) (*createInput, error) {
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	spec, raw, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if err := r.validateSpec(spec); err != nil {
		return nil, err
	}
	filter, err := compileSeccomp(spec.Linux)
	if err != nil {
		return nil, err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("root.path: rootfs %q does not exist or is not a directory", rootfs)
	}
	if err := checkUserNS(spec, rootfs); err != nil {
		return nil, err
	}
	if err := checkRootNoSymlink(bundle, spec.Root.Path); err != nil {
		return nil, err
	}
	p := spec.Process
	if p.Terminal && o.ConsoleSocket == "" {
		return nil, errors.New("cannot allocate tty if podrun will detach without setting console socket")
	}
	if !p.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("cannot use console socket if podrun will not detach or allocate tty")
	}
	return &createInput{bundle: bundle, rootfs: rootfs, spec: spec, raw: raw, filter: filter}, nil
}

// newContainer makes and locks the state dir of id and returns the
// container in state Creating (not yet saved).
func (r *Runtime) newContainer(id string, in *createInput, cg cgroups.Manager) (*Container, error) {
	// Root only, as runc's: the state dirs hold pod control sockets and
	// container state; the init reaches its exec fifo by fd, not by path.
	if err := rootonly.Dir(r.Root); err != nil {
		return nil, fmt.Errorf("creating root %s: %w", r.Root, err)
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The spec is saved as config.json's bytes: create never changes it,
	// and re-encoding a specs.Spec would cost each create its reflection.
	return &Container{rt: r, dir: dir, lock: lock, State: State{
		ID: id, Bundle: in.bundle, Rootfs: in.rootfs, Created: time.Now().UTC(),
		Owner: "", Status: Creating, CgroupPaths: cg.Paths(), Spec: in.raw,
	}, spec: in.spec, meta: metaOf(in.spec)}, nil
}

// initFiles are the files the init is started with; close releases ours.
type initFiles struct {
	fifo, console *os.File
	preserve      []*os.File
	mountSources  []*os.File
}

func (f *initFiles) close() {
	for _, x := range []*os.File{f.fifo, f.console} {
		if x != nil {
			x.Close()
		}
	}
	closeFiles(f.mountSources)
}

// openInitFiles makes the exec fifo and opens what the init gets by fd:
// the fifo, the console socket, the preserved fds and the bind-mount
// sources. Whatever it returns, the caller closes it, on error too.
func (c *Container) openInitFiles(in *createInput, o CreateOpts) (*initFiles, error) {
	f := &initFiles{}
	fifoPath := filepath.Join(c.dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o600); err != nil {
		return f, fmt.Errorf("creating exec fifo: %w", err)
	}
	// The init reopens the fifo for writing after it switched to the
	// process's uid (or as root of a user namespace that does not map
	// ours), so anyone may write it; as runc's 0622. The state root
	// (0700) still keeps others from reaching it. Chmod, not umask: our
	// umask would mask the bits.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return f, fmt.Errorf("creating exec fifo: %w", err)
	}
	var err error
	if f.fifo, err = os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
		return f, fmt.Errorf("opening exec fifo: %w", err)
	}
	p := in.spec.Process
	if p.Terminal {
		if f.console, err = dialConsole(o.ConsoleSocket); err != nil {
			return f, err
		}
	}
	if f.preserve, err = preservedFiles(p, o.PreserveFds); err != nil {
		return f, err
	}
	f.mountSources = openMountSources(in.spec, in.bundle)
	return f, nil
}

// startInit makes the cgroup with its limits (not the device rules yet)
// and starts the init in it, recording its pid.
func (c *Container) startInit(cg cgroups.Manager, cfg *namespaces.InitConfig, files *initFiles, stdioFiles [3]*os.File) (*namespaces.Child, error) {
	if err := cg.Create(); err != nil {
		return nil, err
	}
	c.rt.warnCgroupNotEmpty(cg)
	// The limits hold before the init exists, so it and everything it
	// forks is bounded from the start. Device rules come later (initSteps).
	spec := cfg.Spec
	if err := cg.Set(withoutDevices(spec.Linux.Resources)); err != nil {
		return nil, err
	}
	cgroupFD := -1
	if fd, err := cg.CgroupFD(); err == nil {
		defer fd.Close()
		cgroupFD = int(fd.Fd())
	}
	so := &namespaces.StartOptions{
		Self: c.rt.selfExe(), Config: cfg, Namespaces: spec.Linux.Namespaces,
		UIDMappings: spec.Linux.UIDMappings, GIDMappings: spec.Linux.GIDMappings,
		Stdio: stdio(stdioFiles), Preserve: files.preserve, Fifo: files.fifo, Console: files.console,
		CgroupFD: cgroupFD, TimeOffsets: spec.Linux.TimeOffsets, MountSources: files.mountSources,
	}
	child, inCgroup, err := startInCgroup(cg, so, cgroupFD >= 0)
	if err != nil {
		return nil, err
	}
	pid := child.Pid()
	c.State.Pid = pid
	c.State.PidStart, _, _ = procstat.Read(pid)
	if err := c.save(); err != nil {
		return child, err
	}
	if !inCgroup {
		if err := cg.Apply(pid); err != nil {
			return child, err
		}
	}
	if err := setOOMScoreAdj(pid, cfg.Process.OOMScoreAdj); err != nil {
		return child, err
	}
	return child, c.applyIntelRdt(pid)
}

// initSteps walks the started init through the protocol up to ready:
// its config, the rootfs (createRuntime), the device rules, the prestart
// and createRuntime hooks, seccomp's listener.
func (c *Container) initSteps(child *namespaces.Child, cg cgroups.Manager, cfg *namespaces.InitConfig) error {
	spec := cfg.Spec
	cfg.State = c.specState(Creating)
	if err := sendConfig(child, cfg); err != nil {
		return initFailed(child, err)
	}
	if err := child.WaitCreateRuntime(); err != nil {
		return initFailed(child, err)
	}
	// The rootfs is ready and the init runs no user code before the hooks
	// are done: the device rules apply from here, as runc sets them before
	// the prestart hooks, so the init's own setup (mknod, /dev binds) is
	// not subject to them.
	if err := cg.Set(&specs.LinuxResources{Devices: deviceRules(spec)}); err != nil {
		return err
	}
	if h := spec.Hooks; h != nil {
		st := c.specState(Creating)
		//nolint:staticcheck // prestart is deprecated but still part of the spec.
		if err := hooks.Run(context.Background(), "prestart", h.Prestart, st); err != nil {
			return err
		}
		if err := hooks.Run(context.Background(), "createRuntime", h.CreateRuntime, st); err != nil {
			return err
		}
	}
	if err := child.HooksDone(); err != nil {
		return initFailed(child, err)
	}
	if cfg.Seccomp != nil {
		child.SeccompListener = seccompListener(spec.Linux.Seccomp, child.Pid(), c.specState(Creating))
	}
	if err := child.WaitReady(); err != nil {
		return initFailed(child, err)
	}
	return nil
}

// checkCgroupUsable is runc's check of the cgroup before a create: a
// frozen one would stop the init before it ever reports back, so create
// would wait forever. It runs before anything is made, so that a frozen
// cgroup is refused untouched. One with processes is only warned about,
// once it is made (warnCgroupNotEmpty).
func (r *Runtime) checkCgroupUsable(cg cgroups.Manager) error {
	frozen, err := cg.FrozenInEffect()
	if err != nil {
		return fmt.Errorf("unable to get cgroup freezer state: %w", err)
	}
	if frozen {
		return errors.New("container's cgroup unexpectedly frozen")
	}
	return nil
}

// warnCgroupNotEmpty, after cg.Create, is runc's warning about a cgroup
// that holds processes already. Directories that Create made itself hold
// none (cg.Fresh): only a cgroup that existed is read, which spares every
// create a walk of each hierarchy's directory.
func (r *Runtime) warnCgroupNotEmpty(cg cgroups.Manager) {
	if cg.Fresh() {
		return
	}
	if pids, err := cg.Procs(); err == nil && len(pids) > 0 {
		r.Log.Warnf("container's cgroup is not empty: %d process(es) found", len(pids))
	}
}

// startInCgroup starts the child. Unless it is placed already (inCgroup:
// CLONE_INTO_CGROUP), it is forked from a thread moved into the
// container's v1 cgroups, when the manager can do that, which spares the
// migration's RCU grace period (cgroups.ThreadEnterer); if that fails it
// is started as before and the caller moves it (inCgroup false).
func startInCgroup(cg cgroups.Manager, so *namespaces.StartOptions, inCgroup bool) (*namespaces.Child, bool, error) {
	te, ok := cg.(cgroups.ThreadEnterer)
	if _, hybrid := cg.Paths()[cgroups.UnifiedKey]; hybrid {
		ok = false // cgroup2 takes whole processes only
	}
	if inCgroup || !ok {
		child, err := namespaces.Start(so)
		return child, inCgroup, err
	}
	so.EnterCgroup = te.EnterThread
	child, err := namespaces.Start(so)
	if err == nil {
		return child, true, nil
	}
	if !namespaces.IsEnterCgroupError(err) {
		return nil, false, err
	}
	so.EnterCgroup = nil
	child, err = namespaces.Start(so)
	return child, false, err
}

// deviceRules is the container's device cgroup list: the spec's rules
// followed by runc's default allowlist (mknod of any node, /dev/null,
// zero, full, random, urandom, tty, ptmx, pts/*, net/tun), without the
// entries for nodes linux.devices defines itself, as runc.
func deviceRules(spec *specs.Spec) []specs.LinuxDeviceCgroup {
	var rules []specs.LinuxDeviceCgroup
	if r := spec.Linux.Resources; r != nil {
		rules = append(rules, r.Devices...)
	}
	return append(rules, devices.DefaultAllowedFor(spec.Linux.Devices)...)
}

// initFailed turns a protocol error into the init's own error, with runc's
// prefix, or its exit status when it died without a word.
func initFailed(child *namespaces.Child, err error) error {
	var ie *namespaces.InitError
	if errors.As(err, &ie) {
		return fmt.Errorf("unable to start container process: %s", ie.Msg)
	}
	child.Kill()
	if st := child.Cmd.ProcessState; st != nil {
		return fmt.Errorf("unable to start container process: init exited: %s", st)
	}
	return fmt.Errorf("unable to start container process: %w", err)
}

// stdio returns the given stdio, defaulting to the caller's.
func stdio(s [3]*os.File) [3]*os.File {
	def := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := range s {
		if s[i] == nil {
			s[i] = def[i]
		}
	}
	return s
}

// preservedFiles returns the caller's fds that reach the process: systemd
// socket activation fds (LISTEN_FDS) then --preserve-fds, from fd 3 on, as
// runc does. LISTEN_FDS also makes LISTEN_FDS/LISTEN_PID part of the env.
func preservedFiles(p *specs.Process, preserveFds int) ([]*os.File, error) {
	n := 0
	if v := os.Getenv("LISTEN_FDS"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 0 {
			return nil, fmt.Errorf("invalid LISTEN_FDS %q", v)
		}
		n += l
		p.Env = append(p.Env, "LISTEN_FDS="+strconv.Itoa(l), "LISTEN_PID=1")
	}
	if preserveFds < 0 {
		return nil, fmt.Errorf("--preserve-fds: %d is negative", preserveFds)
	}
	n += preserveFds
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds: fd %d is not open", fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return files, nil
}

// dialConsole connects to the --console-socket.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	return f, nil
}

// writePidFile writes pid atomically with no trailing newline (the shim
// parses it with strconv.Atoi).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

// cgroup returns the container's cgroup manager from its recorded paths.
func (c *Container) cgroup() (cgroups.Manager, error) {
	return c.rt.LoadCgroup(c.State.CgroupPaths)
}
