package nsenter

// #include <stdlib.h>
// #include "nsexec.h"
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Caps are capability sets as bit masks (bit n = capability n).
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Rlimit is one resource limit.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// ExecSpec is a command to start in existing namespaces and cgroups.
type ExecSpec struct {
	Args, Env []string
	Cwd       string // "" is "/"
	Stdio     [3]*os.File
	// Cgroups are cgroup v1 `tasks` files opened for writing: the
	// single-threaded helper writes "0" to each before anything else.
	Cgroups []*os.File
	// Cgroup2Dir (a cgroup2 directory) and Cgroup2Procs (its
	// cgroup.procs): the helper is cloned into it (CLONE_INTO_CGROUP), or
	// writes itself into it where clone3 is missing or Cgroup2Dir is nil.
	Cgroup2Dir, Cgroup2Procs *os.File
	// Namespaces are joined in order (a user namespace first); Names
	// label errors.
	Namespaces []*os.File
	Names      []string
	UID, GID   uint32
	Groups     []uint32
	Caps       *Caps // nil: keep the caller's
	NoNewPrivs bool
	Umask      *uint32 // nil: keep the caller's
	// Rlimits are set with prlimit (resource numbers, RLIMIT_*).
	Rlimits []Rlimit
	// OOMScoreAdj, when set, is written to /proc/self/oom_score_adj.
	OOMScoreAdj *int
	// AppArmorProfile and SELinuxLabel are the exec labels, written on the
	// host's /proc before any namespace is joined.
	AppArmorProfile, SELinuxLabel string
	// Personality (personality(2)), Sched (sched_setattr(2)), IOPrio
	// (ioprio_set(2)): nil keeps the caller's.
	Personality *uint
	Sched       *unix.SchedAttr
	IOPrio      *int
	// InitialCPUs is the affinity before the cgroups are joined (then
	// the helper is not born in Cgroup2Dir), FinalCPUs the command's.
	InitialCPUs, FinalCPUs *unix.CPUSet
	// Console, if set, is a console socket: the command makes a pty in
	// the container, sends the master there (its name as payload) and
	// takes the slave as controlling terminal and stdio. ConsoleUID owns
	// the slave; ConsoleSize is rows and columns, if set.
	Console     *os.File
	ConsoleUID  uint32
	ConsoleSize *[2]uint16
	// Preserve fds from 3 on reach the command (--preserve-fds).
	Preserve int
	// Seccomp is a BPF program (struct sock_filter[]), loaded before the
	// credentials change if SeccompEarly (loading without no_new_privs
	// needs CAP_SYS_ADMIN), else last.
	Seccomp      []byte
	SeccompFlags uint
	SeccompEarly bool
	// SeccompListener, if set, is told the listener fd of a filter with
	// SCMP_ACT_NOTIFY rules (SeccompFlags has NEW_LISTENER) and the
	// command's pid; the command waits for it before going on.
	SeccompListener func(fd *os.File, pid int) error
	// SigMask is the command's signal mask (bit n-1 for signal n), set
	// last before its execve.
	SigMask uint64
	// Dmz is a sealed, read-only handle on a binary that links this
	// package (podrun, through internal/exeseal): the helper execs it on
	// the host, so that no process of the exec runs the host's binary in
	// the container (see nsexec.c).
	Dmz *os.File
}

// Step is the step of the start that failed.
type Step int

// The steps of nsexec.h.
const (
	StepStdio             Step = C.NSEXEC_STDIO
	StepRlimit            Step = C.NSEXEC_RLIMIT
	StepOOMScoreAdj       Step = C.NSEXEC_OOM_SCORE_ADJ
	StepAppArmor          Step = C.NSEXEC_APPARMOR
	StepSELinuxKeycreate  Step = C.NSEXEC_SELINUX_KEYCREATE
	StepSELinux           Step = C.NSEXEC_SELINUX
	StepAffinityInitial   Step = C.NSEXEC_AFFINITY_INITIAL
	StepCgroup            Step = C.NSEXEC_CGROUP
	StepCgroup2           Step = C.NSEXEC_CGROUP2
	StepSetns             Step = C.NSEXEC_SETNS
	StepClone             Step = C.NSEXEC_CLONE
	StepPtyOpen           Step = C.NSEXEC_PTY_OPEN
	StepPtyUnlock         Step = C.NSEXEC_PTY_UNLOCK
	StepPtyNumber         Step = C.NSEXEC_PTY_NUMBER
	StepPtySlave          Step = C.NSEXEC_PTY_SLAVE
	StepPtyWinsize        Step = C.NSEXEC_PTY_WINSIZE
	StepPtyChown          Step = C.NSEXEC_PTY_CHOWN
	StepPtySend           Step = C.NSEXEC_PTY_SEND
	StepSetsid            Step = C.NSEXEC_SETSID
	StepCtty              Step = C.NSEXEC_CTTY
	StepPtyDup            Step = C.NSEXEC_PTY_DUP
	StepPersonality       Step = C.NSEXEC_PERSONALITY
	StepScheduler         Step = C.NSEXEC_SCHEDULER
	StepIOPrio            Step = C.NSEXEC_IOPRIO
	StepAffinityFinal     Step = C.NSEXEC_AFFINITY_FINAL
	StepSeccomp           Step = C.NSEXEC_SECCOMP
	StepSeccompSend       Step = C.NSEXEC_SECCOMP_SEND
	StepChdir             Step = C.NSEXEC_CHDIR
	StepGetcwd            Step = C.NSEXEC_GETCWD
	StepCwdOutside        Step = C.NSEXEC_CWD_OUTSIDE
	StepBounding          Step = C.NSEXEC_BOUNDING
	StepKeepCaps          Step = C.NSEXEC_KEEPCAPS
	StepSetgroups         Step = C.NSEXEC_SETGROUPS
	StepSetgid            Step = C.NSEXEC_SETGID
	StepSetuid            Step = C.NSEXEC_SETUID
	StepCapset            Step = C.NSEXEC_CAPSET
	StepAmbient           Step = C.NSEXEC_AMBIENT
	StepNoNewPrivs        Step = C.NSEXEC_NO_NEW_PRIVS
	StepExecStat          Step = C.NSEXEC_EXEC_STAT
	StepExecNotExecutable Step = C.NSEXEC_EXEC_NOT_EXECUTABLE
	StepExecNotFound      Step = C.NSEXEC_EXEC_NOT_FOUND
	StepExecve            Step = C.NSEXEC_EXECVE
	StepPreserveFd        Step = C.NSEXEC_PRESERVE_FD
	StepDmz               Step = C.NSEXEC_DMZ
)

// StepError is a failed step of the helper or the command: Index says
// which rlimit, namespace, cgroup, capability or fd; Errno is 0 where the
// step has none (not found, cwd outside the root).
type StepError struct {
	Step  Step
	Index int
	Errno unix.Errno
	// What names the step, for Error.
	What string
}

func (e *StepError) Error() string {
	if e.Errno == 0 {
		return "nsexec: " + e.What
	}
	return fmt.Sprintf("nsexec: %s: %v", e.What, e.Errno)
}

// what words a step for StepError.Error; callers with the process at hand
// word their own (runtime.Exec: runc's and podrun's texts).
func (s *ExecSpec) what(step Step, i int) string {
	switch step {
	case StepSetns:
		if i < len(s.Names) {
			return "joining namespace " + s.Names[i]
		}
		return "joining namespace"
	case StepRlimit:
		return "setting rlimit"
	case StepOOMScoreAdj:
		return "oom_score_adj"
	case StepAppArmor, StepSELinux, StepSELinuxKeycreate:
		return "setting the LSM exec label"
	case StepCgroup, StepCgroup2:
		return "joining the container's cgroup"
	case StepChdir:
		return "chdir to " + strconv.Quote(s.Cwd)
	case StepCwdOutside:
		return "cwd " + strconv.Quote(s.Cwd) + " is outside the container's root filesystem"
	case StepSetgroups:
		return "setgroups"
	case StepSetgid:
		return "setgid"
	case StepSetuid:
		return "setuid"
	case StepBounding, StepKeepCaps, StepCapset, StepAmbient:
		return "capabilities"
	case StepNoNewPrivs:
		return "no_new_privs"
	case StepSeccomp, StepSeccompSend:
		return "loading seccomp filter"
	case StepExecStat, StepExecNotExecutable, StepExecve:
		return s.Args[0]
	case StepDmz:
		return "exec of the sealed podrun"
	case StepExecNotFound:
		return strconv.Quote(s.Args[0]) + ": executable file not found in $PATH"
	}
	return fmt.Sprintf("step %d", step)
}

// Start runs the command as a child of the calling process (fork + setns +
// clone + execve, no Go runtime in between) and returns its pid once it has
// exec'd; the caller reaps it (wait4). An error means no process is left;
// a failed step is a *StepError.
func Start(s *ExecSpec) (int, error) {
	if len(s.Args) == 0 {
		return 0, errors.New("nsexec: no command")
	}
	if s.Dmz == nil {
		return 0, errors.New("nsexec: no sealed binary to exec through")
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("nsexec: sync socket: %w", err)
	}
	sync, syncW := pair[0], pair[1]
	defer unix.Close(sync)
	var pp [2]int
	if err := unix.Pipe2(pp[:], unix.O_CLOEXEC); err != nil {
		unix.Close(syncW)
		return 0, fmt.Errorf("nsexec: pid pipe: %w", err)
	}
	pidR, pidW := pp[0], pp[1]
	defer unix.Close(pidR)

	var frees []unsafe.Pointer
	defer func() {
		for _, p := range frees {
			C.free(p)
		}
	}()
	cstr := func(s string) *C.char {
		p := C.CString(s)
		frees = append(frees, unsafe.Pointer(p))
		return p
	}
	calloc := func(n int, size uintptr) unsafe.Pointer {
		p := C.calloc(C.size_t(n+1), C.size_t(size))
		frees = append(frees, p)
		return p
	}
	bytesC := func(b []byte) unsafe.Pointer {
		p := calloc(len(b), 1)
		copy(unsafe.Slice((*byte)(p), len(b)), b)
		return p
	}
	strv := func(l []string) **C.char {
		p := unsafe.Slice((**C.char)(calloc(len(l), unsafe.Sizeof((*C.char)(nil)))), len(l)+1)
		for i, s := range l {
			p[i] = cstr(s)
		}
		return &p[0]
	}
	fdv := func(l []*os.File) *C.int {
		p := unsafe.Slice((*C.int)(calloc(len(l), unsafe.Sizeof(C.int(0)))), len(l)+1)
		for i, f := range l {
			p[i] = C.int(f.Fd())
		}
		return &p[0]
	}

	a := (*C.struct_nsexec_args)(calloc(0, unsafe.Sizeof(C.struct_nsexec_args{})))
	a.argv = strv(s.Args)
	a.envp = strv(s.Env)
	for _, kv := range s.Env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			a.path = cstr(p)
		}
	}
	if s.Cwd != "" {
		a.cwd = cstr(s.Cwd)
	}
	for i, f := range s.Stdio {
		if f == nil {
			unix.Close(syncW)
			unix.Close(pidW)
			return 0, fmt.Errorf("nsexec: stdio %d missing", i)
		}
		a.stdio[i] = C.int(f.Fd())
	}
	a.syncfd = C.int(syncW)
	a.dmz = C.int(s.Dmz.Fd())
	a.pidfd = C.int(pidW)
	a.cgroups, a.ncgroups = fdv(s.Cgroups), C.int(len(s.Cgroups))
	a.cgroup2_dir, a.cgroup2_procs = -1, -1
	if s.Cgroup2Dir != nil {
		a.cgroup2_dir = C.int(s.Cgroup2Dir.Fd())
	}
	if s.Cgroup2Procs != nil {
		a.cgroup2_procs = C.int(s.Cgroup2Procs.Fd())
	}
	a.nsfds, a.nns = fdv(s.Namespaces), C.int(len(s.Namespaces))
	if len(s.Rlimits) > 0 {
		rl := unsafe.Slice((*C.struct_nsexec_rlimit)(calloc(len(s.Rlimits), unsafe.Sizeof(C.struct_nsexec_rlimit{}))), len(s.Rlimits))
		for i, r := range s.Rlimits {
			rl[i].resource, rl[i].cur, rl[i].max = C.int(r.Resource), C.uint64_t(r.Cur), C.uint64_t(r.Max)
		}
		a.rlimits, a.nrlimits = &rl[0], C.int(len(s.Rlimits))
	}
	if s.OOMScoreAdj != nil {
		a.oom_score_adj = cstr(strconv.Itoa(*s.OOMScoreAdj))
	}
	if s.AppArmorProfile != "" {
		a.apparmor = cstr("exec " + s.AppArmorProfile)
	}
	if s.SELinuxLabel != "" {
		a.selinux = cstr(s.SELinuxLabel)
	}
	a.personality, a.ioprio, a.umask, a.console = -1, -1, -1, -1
	a.sigmask = C.uint64_t(s.SigMask)
	if s.Personality != nil {
		a.personality = C.long(*s.Personality)
	}
	if s.Sched != nil {
		attr := *s.Sched
		attr.Size = unix.SizeofSchedAttr
		a.sched_attr = bytesC(unsafe.Slice((*byte)(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)))
		a.sched_attr_size = C.int(unsafe.Sizeof(attr))
	}
	if s.IOPrio != nil {
		a.ioprio = C.int(*s.IOPrio)
	}
	cpus := func(set *unix.CPUSet) unsafe.Pointer {
		return bytesC(unsafe.Slice((*byte)(unsafe.Pointer(set)), unsafe.Sizeof(*set)))
	}
	a.cpus_size = C.int(unsafe.Sizeof(unix.CPUSet{}))
	if s.InitialCPUs != nil {
		a.cpus_initial = cpus(s.InitialCPUs)
	}
	if s.FinalCPUs != nil {
		a.cpus_final = cpus(s.FinalCPUs)
	}
	if s.Console != nil {
		a.console = C.int(s.Console.Fd())
		a.console_uid = C.uint32_t(s.ConsoleUID)
		if sz := s.ConsoleSize; sz != nil {
			a.set_winsize, a.rows, a.cols = 1, C.uint16_t(sz[0]), C.uint16_t(sz[1])
		}
	}
	if s.Preserve < 0 {
		unix.Close(syncW)
		unix.Close(pidW)
		return 0, fmt.Errorf("nsexec: %d preserved fds", s.Preserve)
	}
	a.npreserve = C.int(s.Preserve)
	if s.Umask != nil {
		a.umask = C.int(*s.Umask & 0o7777)
	}
	a.uid, a.gid = C.uint32_t(s.UID), C.uint32_t(s.GID)
	if len(s.Groups) > 0 {
		g := unsafe.Slice((*C.uint32_t)(calloc(len(s.Groups), 4)), len(s.Groups))
		for i, v := range s.Groups {
			g[i] = C.uint32_t(v)
		}
		a.groups, a.ngroups = &g[0], C.int(len(s.Groups))
	}
	if c := s.Caps; c != nil {
		a.set_caps = 1
		a.bounding, a.effective, a.permitted = C.uint64_t(c.Bounding), C.uint64_t(c.Effective), C.uint64_t(c.Permitted)
		a.inheritable, a.ambient = C.uint64_t(c.Inheritable), C.uint64_t(c.Ambient)
	}
	if s.NoNewPrivs {
		a.no_new_privs = 1
	}
	if n := len(s.Seccomp); n > 0 {
		if n%8 != 0 {
			unix.Close(syncW)
			unix.Close(pidW)
			return 0, errors.New("nsexec: seccomp program is not a sock_filter array")
		}
		a.seccomp, a.seccomp_len, a.seccomp_flags = bytesC(s.Seccomp), C.int(n/8), C.uint(s.SeccompFlags)
		if s.SeccompEarly {
			a.seccomp_early = 1
		}
		if s.SeccompListener != nil {
			a.seccomp_listener = 1
		}
	}

	first := int(C.podrun_nsexec(a))
	unix.Close(syncW)
	unix.Close(pidW)
	if first < 0 {
		return 0, fmt.Errorf("nsexec: fork: %w", unix.Errno(-first))
	}
	wait := func(pid int) (ws unix.WaitStatus) {
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				return ws
			}
		}
	}
	ws := wait(first)
	var b [4]byte
	n, _ := unix.Read(pidR, b[:])
	if n != len(b) {
		// The helper failed (its error is on the sync socket) or died.
		if err := s.recvError(sync, 0); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("nsexec: helper exited with %v", ws)
	}
	pid := int(binary.NativeEndian.Uint32(b[:]))
	if err := s.recvError(sync, pid); err != nil {
		if _, ok := err.(*StepError); !ok {
			unix.Kill(pid, unix.SIGKILL)
		}
		wait(pid)
		return 0, err
	}
	return pid, nil
}

// recvError reads the sync socket until EOF (the command exec'd, or no
// command was made): nil, or the step that failed, passing a seccomp
// listener fd on the way to s.SeccompListener.
func (s *ExecSpec) recvError(sync, pid int) error {
	var m C.struct_nsexec_msg
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&m)), unsafe.Sizeof(m))
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sync, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("nsexec: sync socket: %w", err)
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range msgs {
				if f, err := unix.ParseUnixRights(&cm); err == nil {
					fds = append(fds, f...)
				}
			}
		}
		if n == 0 {
			return nil
		}
		if n != len(buf) {
			closeFds(fds)
			return fmt.Errorf("nsexec: short message on the sync socket (%d bytes)", n)
		}
		switch m._type {
		case 'E':
			closeFds(fds)
			e := &StepError{Step: Step(m.step), Index: int(m.index), Errno: unix.Errno(m.err)}
			e.What = s.what(e.Step, e.Index)
			return e
		case 'S':
			if len(fds) != 1 || s.SeccompListener == nil || pid == 0 {
				closeFds(fds)
				return errors.New("nsexec: unexpected seccomp listener fd")
			}
			f := os.NewFile(uintptr(fds[0]), "seccomp-listener")
			err := s.SeccompListener(f, pid)
			f.Close()
			if err != nil {
				return err
			}
			if _, err := unix.Write(sync, []byte{1}); err != nil {
				return fmt.Errorf("nsexec: sync socket: %w", err)
			}
		default:
			closeFds(fds)
			return fmt.Errorf("nsexec: unknown message %d on the sync socket", m._type)
		}
	}
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
