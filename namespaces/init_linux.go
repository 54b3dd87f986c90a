package namespaces

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/internal/hooks"
	"github.com/podrun/podrun/lsm"
	"github.com/podrun/podrun/rootfs"
)

// IsInit reports whether this process is a re-executed `podrun init`.
// main calls it first so that the init skips CLI parsing.
func IsInit(args []string) bool {
	return len(args) > 1 && args[1] == "init" && os.Getenv(EnvSyncFd) != ""
}

// Init is the body of `podrun init`. It must run on the main thread, locked
// (main locks it in an init function): unshare, setns, capset and friends
// only affect the calling thread, and the final execve keeps only that one.
// It never returns.
func Init() {
	// The nsenter constructor widened the timer slack for the Go
	// runtime's threads (its sysmon). 0 resets this thread's to the value
	// it was forked with, podrun's: what hooks forked from here and the
	// container's process inherit.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0)
	fd, err := strconv.Atoi(os.Getenv(EnvSyncFd))
	if err != nil {
		fmt.Fprintln(os.Stderr, "podrun init: bad", EnvSyncFd)
		os.Exit(1)
	}
	os.Unsetenv(EnvSyncFd)
	// The sealed binary we run from: /proc/self/exe keeps it alive.
	if exeFd, err := strconv.Atoi(os.Getenv(envExeFd)); err == nil {
		unix.Close(exeFd)
	}
	os.Unsetenv(envExeFd)
	os.Unsetenv("GODEBUG")
	c := newConn(os.NewFile(uintptr(fd), "init-sync"))
	if err := runInit(c); err != nil {
		_ = c.send(message{Type: msgError, Error: err.Error()})
		os.Exit(1)
	}
	panic("unreachable: init returned without exec")
}

func runInit(c *conn) error {
	m, err := c.recv(msgConfig)
	if err != nil {
		return err
	}
	pl := m.Plan
	// Nothing podrun or its caller opened may reach the user process.
	if err := closeExecFrom(3); err != nil {
		return err
	}
	// LSM exec labels are opened before any namespace or rootfs change
	// (see lsm.Exec) and written once the process is prepared; nil when
	// unset.
	labels, err := lsm.Host{}.OpenExec(lsm.Labels{
		AppArmorProfile: pl.ApparmorProfile, SELinuxLabel: pl.SelinuxLabel})
	if err != nil {
		return err
	}
	defer labels.Close()
	if err := joinNamespaces(pl.JoinFds); err != nil {
		return err
	}
	if pl.UnshareCgroup {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unsharing cgroup namespace: %w", err)
		}
	}
	if err := setupContainer(c, pl); err != nil {
		return err
	}
	if pl.Terminal {
		if err := setupConsole(pl.ConsoleFd, pl.ConsoleSize, int(pl.UID)); err != nil {
			return err
		}
	}
	if err := applyProcAttrs(pl); err != nil {
		return err
	}
	if err := closeDirFds(pl.PreserveFds); err != nil {
		return err
	}
	if err := loadSeccomp(c, pl, false); err != nil {
		return err
	}
	exe, err := prepareProcess(pl)
	if err != nil {
		return err
	}
	// Before ready, as runc: a profile the kernel does not know fails
	// create, not the exec after start (whose error nobody would read).
	// The startContainer hooks run confined like the process.
	if err := labels.Apply(); err != nil {
		return err
	}
	if err := loadSeccomp(c, pl, true); err != nil {
		return err
	}
	if err := c.send(message{Type: msgReady}); err != nil {
		return err
	}
	c.f.Close()
	fifo, err := waitStart(pl.FifoFd)
	if err != nil {
		return err
	}
	if len(pl.StartContainer) == 0 {
		unix.Close(fifo)
		return execProcess(exe, pl)
	}
	// With startContainer hooks `podrun start` reads the fifo until its EOF
	// (the exec closes it): what failed after the release is written to
	// it, the sync socket being closed by now (runtime's releaseInit).
	st := hookState(pl)
	st.Status = specs.StateCreated
	err = hooks.Run(context.Background(), "startContainer", pl.StartContainer, st)
	if err == nil {
		err = execProcess(exe, pl)
	}
	msg := err.Error()
	if len(msg) > MaxStartError {
		msg = msg[:MaxStartError]
	}
	_, _ = unix.Write(fifo, []byte(msg))
	return err
}

// hookState is the OCI state the init gives its hooks: the runtime's,
// with the init's pid.
func hookState(pl *Plan) *specs.State {
	var st specs.State
	if pl.State != nil {
		st = *pl.State
	}
	st.Pid = os.Getpid()
	return &st
}

// MaxStartError bounds the error text the init writes to the exec fifo
// for `podrun start` (hooks quote at most 4 KiB of each output stream).
const MaxStartError = 16 << 10

// execProcess execs the user process with the preserved fds; it returns
// only on failure.
func execProcess(exe string, p *Plan) error {
	if err := keepFds(p.PreserveFds); err != nil {
		return err
	}
	err := unix.Exec(exe, p.Args, p.Env)
	return fmt.Errorf("exec %q: %w", p.Args[0], err)
}

// joinNamespaces joins existing namespaces by fd. A mount namespace can
// only be joined by a thread that does not share its fs_struct, hence the
// unshare(CLONE_FS) first: it affects this (locked) thread alone.
// The plan lists them in joinOrder: the mount namespace last.
func joinNamespaces(fds []NSFd) error {
	for _, ns := range fds {
		if ns.Name == "mnt" {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare CLONE_FS: %w", err)
			}
		}
		if err := unix.Setns(ns.Fd, 0); err != nil {
			return fmt.Errorf("joining %s namespace: %w", ns.Name, err)
		}
		unix.Close(ns.Fd)
	}
	return nil
}

// setupContainer does what only the container init does: loopback up in a
// new network namespace, sysctls, hostname, rootfs with the hooks between
// its two halves, and the session keyring.
func setupContainer(c *conn, pl *Plan) error {
	if pl.NewNetNS {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	// /proc/sys shows the namespaces of the writer, so the host's /proc
	// still visible here reaches the container's own net/ipc/uts.
	for _, s := range pl.Sysctls {
		if err := os.WriteFile(s.Path, []byte(s.Value), 0); err != nil {
			return fmt.Errorf("linux.sysctl: setting %s: %w", s.Key, err)
		}
	}
	if pl.Hostname != "" {
		if err := unix.Sethostname([]byte(pl.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	if pl.Domainname != "" {
		if err := unix.Setdomainname([]byte(pl.Domainname)); err != nil {
			return fmt.Errorf("setting domainname: %w", err)
		}
	}
	if pl.NewKeyring {
		// Fresh session keyring, as runc: keys of the host session must not
		// leak in. ENOSYS / EACCES (keyrings disabled or restricted) are
		// tolerated like runc does.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + pl.ID); err != nil &&
			!errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("joining session keyring: %w", err)
		}
	}
	// The rootfs is set up in the container's mount namespace, new or
	// joined by path, and without one in ours, as runc does.
	rc := &rootfs.Config{Rootfs: pl.Rootfs, BundleDir: pl.BundleDir, Spec: pl.rootfsSpec(), NoPivot: pl.NoPivot,
		MountFds: pl.MountFds, SharedMountNS: !pl.hasNamespace(specs.MountNamespace)}
	if pl.Overlay != nil {
		if !pl.NewMountNS {
			return errors.New("an image rootfs needs a new mount namespace")
		}
		if err := mountOverlay(c, pl); err != nil {
			return err
		}
	}
	if err := rootfs.Prepare(rc); err != nil {
		return err
	}
	// prestart and createRuntime hooks run in the parent (runtime namespace).
	if err := c.send(message{Type: msgCreateRuntime}); err != nil {
		return err
	}
	if _, err := c.recv(msgHooksDone); err != nil {
		return err
	}
	if len(pl.CreateContainer) > 0 {
		// In the rootfs, as runc runs them: hooks may use relative paths.
		if err := unix.Chdir(pl.Rootfs); err != nil {
			return fmt.Errorf("createContainer hooks: chdir to the rootfs: %w", err)
		}
		if err := hooks.Run(context.Background(), "createContainer", pl.CreateContainer, hookState(pl)); err != nil {
			return err
		}
	}
	return rootfs.Enter(rc)
}

// setupConsole makes the pty inside the container (so /dev/pts is the
// container's), gives the slave to the process's uid, sends the master to
// the console socket and makes the slave the controlling terminal and
// stdio.
func setupConsole(sockFd int, size *specs.Box, uid int) error {
	if sockFd == 0 {
		return errors.New("process.terminal is true but no console socket was given")
	}
	sock := os.NewFile(uintptr(sockFd), "console-socket")
	defer sock.Close()
	master, name, err := console.NewPty()
	if err != nil {
		return fmt.Errorf("creating pty: %w", err)
	}
	defer master.Close()
	if size != nil {
		if err := console.SetWinsize(master, uint16(size.Height), uint16(size.Width)); err != nil {
			return err
		}
	}
	slave, err := console.OpenSlave(name)
	if err != nil {
		return fmt.Errorf("opening pty slave: %w", err)
	}
	// A process that is not root must own its terminal (to chmod it, for
	// mesg, for programs checking the owner), as runc does; the group is
	// devpts's (tty, gid=5). EINVAL (uid not mapped in a user namespace) and
	// EPERM are ignored as runc ignores them: the terminal still works.
	if uid != 0 {
		if err := unix.Fchown(int(slave.Fd()), uid, -1); err != nil && err != unix.EINVAL && err != unix.EPERM {
			return fmt.Errorf("chown pty slave to uid %d: %w", uid, err)
		}
	}
	if err := console.SendFd(sock, name, master); err != nil {
		return fmt.Errorf("sending pty master to console socket: %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("setting controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(int(slave.Fd()), i, 0); err != nil {
			return fmt.Errorf("dup pty slave: %w", err)
		}
	}
	return slave.Close()
}

// waitStart blocks until `podrun start` opens the exec fifo for reading,
// writes the release byte and returns the fifo open for writing
// (close-on-exec). The fifo is reopened through /proc/self/fd, like runc
// does: the init only holds an O_PATH fd, which is useless to the
// container.
func waitStart(fifoFd int) (int, error) {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening exec fifo: %w", err)
	}
	unix.Close(fifoFd)
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("writing exec fifo: %w", err)
	}
	return fd, nil
}

// closeExecFrom marks every fd >= min close-on-exec.
func closeExecFrom(min int) error {
	if err := unix.CloseRange(uint(min), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// keepFds clears close-on-exec on the n preserved fds from 3.
func keepFds(n int) error {
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("preserving fd %d: %w", fd, err)
		}
	}
	return nil
}

// lookPath finds the executable in the container as execvp(3) would, with
// the process's PATH, and returns runc's error text when it is missing.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}
