package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/capnames"
	"github.com/podrun/podrun/internal/inroot"
	"github.com/podrun/podrun/internal/sigfwd"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/namespaces/nsenter"
	"github.com/podrun/podrun/procattr"
	"github.com/podrun/podrun/seccomp"
)

// execSpec turns process p of an exec into container c into what the C
// path (namespaces/nsenter) applies: everything but the fds (namespaces,
// cgroups, stdio, console), which the caller opens per command. The
// environment is process.env with the last entry of each variable and
// HOME from the container's /etc/passwd when missing, as the init does.
func (c *Container) execSpec(p *specs.Process, l *specs.Linux, f *seccomp.Filter) (*nsenter.ExecSpec, error) {
	s := &nsenter.ExecSpec{Args: p.Args, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID,
		Groups: p.User.AdditionalGids, Caps: lightCaps(p.Capabilities), NoNewPrivs: p.NoNewPrivileges,
		OOMScoreAdj: p.OOMScoreAdj, SigMask: sigfwd.ChildMask()}
	s.Env = namespaces.ProcessEnv(p.Env, p.User.UID, func() ([]byte, error) { return readInitFile(c.State.Pid, "etc/passwd") })
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	s.Umask = &umask
	for _, rl := range p.Rlimits {
		res, ok := namespaces.RlimitType(rl.Type)
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		s.Rlimits = append(s.Rlimits, nsenter.Rlimit{Resource: res, Cur: rl.Soft, Max: rl.Hard})
	}
	s.AppArmorProfile, s.SELinuxLabel = p.ApparmorProfile, p.SelinuxLabel
	if l != nil && l.Personality != nil {
		pers := procattr.Personality(l.Personality)
		s.Personality = &pers
	}
	if p.Scheduler != nil {
		s.Sched = procattr.SchedAttr(p.Scheduler)
	}
	if p.IOPriority != nil {
		prio := procattr.IOPrio(p.IOPriority)
		s.IOPrio = &prio
	}
	if a := p.ExecCPUAffinity; a != nil && a.Initial != "" {
		var err error
		if s.InitialCPUs, err = procattr.ParseCPUList(a.Initial); err != nil {
			return nil, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
		}
	}
	var err error
	if s.FinalCPUs, err = procattr.FinalAffinity(p.ExecCPUAffinity); err != nil {
		return nil, err
	}
	if f != nil {
		for _, in := range f.Insns {
			s.Seccomp = binary.NativeEndian.AppendUint16(s.Seccomp, in.Code)
			s.Seccomp = append(s.Seccomp, in.Jt, in.Jf)
			s.Seccomp = binary.NativeEndian.AppendUint32(s.Seccomp, in.K)
		}
		s.SeccompFlags = f.Flags
		if f.Notify {
			s.SeccompFlags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		// Without no_new_privs loading needs CAP_SYS_ADMIN: before the
		// credentials change; with it as late as possible, as runc.
		s.SeccompEarly = !p.NoNewPrivileges
	}
	return s, nil
}

// lightCaps returns the capability sets of pc as masks. No
// process.capabilities means none at all, as the init sets them
// (namespaces' capsFor), never the caller's: a nil Caps would keep those.
func lightCaps(pc *specs.LinuxCapabilities) *nsenter.Caps {
	if pc == nil {
		return &nsenter.Caps{}
	}
	mask := func(names []string) (m uint64) {
		for _, n := range names {
			if c, ok := capnames.ByName(n); ok {
				m |= 1 << uint(c)
			}
		}
		return m
	}
	return &nsenter.Caps{Bounding: mask(pc.Bounding), Effective: mask(pc.Effective),
		Permitted: mask(pc.Permitted), Inheritable: mask(pc.Inheritable), Ambient: mask(pc.Ambient)}
}

// maxInitFile bounds what readInitFile reads (the init's limit for
// rootfs files).
const maxInitFile = 4 << 20

// readInitFile reads rel in the root of process pid (the container's
// init), resolved by the kernel inside that root (no symlink or ".." out,
// no magic links), a regular file only.
func readInitFile(pid int, rel string) ([]byte, error) {
	root, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fd, err := inroot.OpenFd(int(root.Fd()), rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxInitFile+1))
	if err == nil && len(b) > maxInitFile {
		err = fmt.Errorf("%s is larger than %d bytes", rel, maxInitFile)
	}
	return b, err
}

// execFiles opens what the helper joins: the namespaces nss (in order)
// and the cgroup directories dirs: v1 `tasks`, or the cgroup2 directory
// (born there with CLONE_INTO_CGROUP if into, else it writes itself to
// cgroup.procs). The caller closes the files returned.
func execFiles(s *nsenter.ExecSpec, nss []specs.LinuxNamespace, dirs []string, into bool) (files []*os.File, err error) {
	defer func() {
		if err != nil {
			closeAll(files)
			files = nil
		}
	}()
	// Plain fds: os.OpenFile would try each with the poller, and Fd()
	// make it blocking again, some four system calls per file.
	open := func(p string, flag int) (*os.File, error) {
		fd, err := unix.Open(p, flag|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		f := os.NewFile(uintptr(fd), p)
		files = append(files, f)
		return f, nil
	}
	for _, ns := range nss {
		f, err := open(ns.Path, os.O_RDONLY)
		if err != nil {
			return files, err
		}
		s.Namespaces = append(s.Namespaces, f)
		s.Names = append(s.Names, string(ns.Type))
	}
	for _, d := range dirs {
		// v1 hierarchies have `tasks`; cgroup2 has not.
		f, err := open(filepath.Join(d, "tasks"), os.O_WRONLY)
		if err == nil {
			s.Cgroups = append(s.Cgroups, f)
			continue
		}
		if !errors.Is(err, os.ErrNotExist) || s.Cgroup2Procs != nil {
			return files, fmt.Errorf("cgroup: %w", err)
		}
		if into {
			if s.Cgroup2Dir, err = open(d, unix.O_PATH|unix.O_DIRECTORY); err != nil {
				return files, fmt.Errorf("cgroup: %w", err)
			}
		}
		if s.Cgroup2Procs, err = open(filepath.Join(d, "cgroup.procs"), os.O_WRONLY); err != nil {
			return files, fmt.Errorf("cgroup: %w", err)
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// cgroupDirs returns the distinct directories of a cgroup paths map, in a
// stable order (co-mounted v1 controllers share one).
func cgroupDirs(paths map[string]string) []string {
	var dirs []string
	for _, d := range paths {
		if filepath.IsAbs(d) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// execError words a failed step of exec as podrun's Go init did (and runc
// does): the text after "exec failed: ". initPid is the container's init.
func execError(e *nsenter.StepError, p *specs.Process, nss []specs.LinuxNamespace, initPid int) error {
	errno := e.Errno
	var msg string
	switch e.Step {
	// Steps the caller took before the init protocol: no prefix.
	case nsenter.StepOOMScoreAdj:
		return fmt.Errorf("process.oomScoreAdj: write oom_score_adj: %w", errno)
	case nsenter.StepAffinityInitial:
		return fmt.Errorf("process.execCPUAffinity.initial: %w", errno)
	case nsenter.StepCgroup, nsenter.StepCgroup2:
		return fmt.Errorf("cgroups: joining the container's cgroup: %w", errno)
	case nsenter.StepSetns:
		name := "a"
		if e.Index < len(nss) {
			name = namespaces.ProcName(nss[e.Index].Type)
		}
		msg = fmt.Sprintf("joining %s namespace: %v", name, errno)
	case nsenter.StepRlimit:
		msg = fmt.Sprintf("process.rlimits: setting %s: %v", p.Rlimits[e.Index].Type, errno)
	case nsenter.StepAppArmor:
		msg = fmt.Sprintf("process.apparmorProfile: setting exec label %q: %v", "exec "+p.ApparmorProfile, errno)
	case nsenter.StepSELinuxKeycreate:
		msg = fmt.Sprintf("process.selinuxLabel: setting keycreate label: %v", errno)
	case nsenter.StepSELinux:
		msg = fmt.Sprintf("process.selinuxLabel: setting exec label %q: %v", p.SelinuxLabel, errno)
	case nsenter.StepPtyOpen:
		msg = fmt.Sprintf("creating pty: open /dev/ptmx: %v", errno)
	case nsenter.StepPtyUnlock:
		msg = fmt.Sprintf("creating pty: unlock pty: ioctl TIOCSPTLCK: %v", errno)
	case nsenter.StepPtyNumber:
		msg = fmt.Sprintf("creating pty: get pty number: ioctl TIOCGPTN: %v", errno)
	case nsenter.StepPtyWinsize:
		msg = fmt.Sprintf("setting the console size: %v", errno)
	case nsenter.StepPtySlave:
		msg = fmt.Sprintf("opening pty slave: open /dev/pts/%d: %v", e.Index, errno)
	case nsenter.StepPtyChown:
		msg = fmt.Sprintf("chown pty slave to uid %d: %v", p.User.UID, errno)
	case nsenter.StepPtySend:
		msg = fmt.Sprintf("sending pty master to console socket: sendfd: sendmsg: %v", errno)
	case nsenter.StepSetsid:
		msg = fmt.Sprintf("setsid: %v", errno)
	case nsenter.StepCtty:
		msg = fmt.Sprintf("setting controlling terminal: %v", errno)
	case nsenter.StepPtyDup:
		msg = fmt.Sprintf("dup pty slave: %v", errno)
	case nsenter.StepPersonality:
		msg = fmt.Sprintf("linux.personality: %v", errno)
	case nsenter.StepScheduler:
		msg = fmt.Sprintf("process.scheduler: sched_setattr %s: %v", p.Scheduler.Policy, errno)
	case nsenter.StepIOPrio:
		msg = fmt.Sprintf("process.ioPriority: ioprio_set %s %d: %v", p.IOPriority.Class, p.IOPriority.Priority, errno)
	case nsenter.StepAffinityFinal:
		msg = fmt.Sprintf("process.execCPUAffinity.final: %v", errno)
	case nsenter.StepSeccomp:
		msg = fmt.Sprintf("linux.seccomp: loading seccomp filter: %v", errno)
	case nsenter.StepSeccompSend:
		msg = fmt.Sprintf("linux.seccomp: sending the listener fd: %v", errno)
	case nsenter.StepChdir:
		msg = fmt.Sprintf("process.cwd: chdir to %q: %v", p.Cwd, errno)
	case nsenter.StepGetcwd:
		msg = fmt.Sprintf("process.cwd: verifying %q: getcwd: %v", p.Cwd, errno)
	case nsenter.StepCwdOutside:
		msg = fmt.Sprintf("process.cwd: %q is outside the container's root filesystem", p.Cwd)
	case nsenter.StepBounding:
		msg = fmt.Sprintf("process.capabilities.bounding: %v", errno)
	case nsenter.StepKeepCaps:
		msg = fmt.Sprintf("prctl keepcaps: %v", errno)
	case nsenter.StepCapset, nsenter.StepAmbient:
		msg = fmt.Sprintf("process.capabilities: %v", errno)
	case nsenter.StepSetgroups:
		if errno == unix.EPERM && setgroupsDenied(initPid) {
			msg = "process.user.additionalGids: the container's user namespace denies setgroups (its /proc/<pid>/setgroups is \"deny\"): drop the additional gids or use a user namespace that allows it"
		} else {
			msg = fmt.Sprintf("process.user.additionalGids: setgroups: %v", errno)
		}
	case nsenter.StepSetgid:
		msg = fmt.Sprintf("process.user.gid: setting gid %d: %v", p.User.GID, errno)
	case nsenter.StepSetuid:
		msg = fmt.Sprintf("process.user.uid: setting uid %d: %v", p.User.UID, errno)
	case nsenter.StepNoNewPrivs:
		msg = fmt.Sprintf("process.noNewPrivileges: %v", errno)
	case nsenter.StepExecStat:
		msg = fmt.Sprintf("exec: %q: stat %s: %v", p.Args[0], p.Args[0], errno)
	case nsenter.StepExecNotExecutable:
		msg = fmt.Sprintf("exec: %q: %v", p.Args[0], errno)
	case nsenter.StepExecNotFound:
		msg = fmt.Sprintf("exec: %q: executable file not found in $PATH", p.Args[0])
	case nsenter.StepExecve:
		msg = fmt.Sprintf("exec %q: %v", p.Args[0], errno)
	case nsenter.StepPreserveFd:
		msg = fmt.Sprintf("preserving fd %d: %v", e.Index, errno)
	default:
		msg = e.Error()
	}
	return fmt.Errorf("unable to start container process: %s", msg)
}

// setgroupsDenied reports whether the user namespace of process pid has
// setgroups "deny".
func setgroupsDenied(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/setgroups")
	return err == nil && string(b) == "deny\n"
}
