package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

func errnoRet(v uint) *uint { return &v }

// seccompBundle is a bundle running args with the given profile.
func seccompBundle(h *H, sc *specs.LinuxSeccomp, edit func(*Spec), args ...string) string {
	h.t.Helper()
	b := h.Bundle(args...)
	s := testimage.Spec(h.t, b)
	s.Linux.Seccomp = sc
	if edit != nil {
		edit(s)
	}
	testimage.WriteSpec(h.t, b, s)
	return b
}

// syscallArgs is the checker's syscall command for calls like "mkdir 0".
func syscallArgs(calls ...string) []string {
	args := []string{testimage.CheckerInRootfs, "syscall"}
	for i, c := range calls {
		if i > 0 {
			args = append(args, ",")
		}
		args = append(args, strings.Fields(c)...)
	}
	return args
}

// errnos parses the checker's "NAME ret=R errno=E" lines into NAME -> "errno=E"
// (and "ret=R errno=E" when withRet).
func errnos(t *testing.T, out string, withRet bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("unexpected checker output line %q in %q", l, out)
		}
		if withRet {
			m[f[0]] = f[1] + " " + f[2]
		} else {
			m[f[0]] = f[2]
		}
	}
	return m
}

func wantErrnos(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// TestSeccompErrnoDenyList: default ALLOW with a deny list; errnoRet; the
// x32 bit does not bypass the filter; exec'd processes get the filter too.
func TestSeccompErrnoDenyList(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: errnoRet(123)},
			{Names: []string{"getppid"}, Action: specs.ActErrno}, // EPERM unless told
		},
	}
	calls := []string{"mkdir 0", "0x40000053 0", "getppid", "getpid"}
	b := seccompBundle(h, sc, nil, syscallArgs(calls...)...)
	r := h.Must("run", "--bundle", b, h.ID())
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{
		"mkdir": "errno=123", "0x40000053": "errno=123", "getppid": "errno=1", "getpid": "errno=0"})

	// exec: the container's filter applies.
	b = seccompBundle(h, sc, nil, testimage.CheckerInRootfs, "sleep")
	id := h.ID()
	h.RunDetached(b, id)
	r = h.Must(append([]string{"exec", id}, syscallArgs(calls...)...)...)
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{
		"mkdir": "errno=123", "0x40000053": "errno=123", "getppid": "errno=1", "getpid": "errno=0"})
	h.Must("delete", "--force", id)
}

// TestSeccompKillTrap: KILL (a thread, here the whole single-threaded
// busybox), KILL_PROCESS and TRAP end the process with SIGSYS; the Go
// checker turns a trapped SIGSYS into its own crash report (exit 2).
func TestSeccompKillTrap(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	deny := func(a specs.LinuxSeccompAction, names ...string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: names, Action: a}}}
	}
	sigsys := 128 + int(unix.SIGSYS)
	r := h.Run("run", "--bundle", seccompBundle(h, deny(specs.ActKill, "mkdir", "mkdirat"), nil, "mkdir", "/x"), h.ID())
	if r.Code != sigsys {
		t.Errorf("KILL: exit %d, want %d (stderr %q)", r.Code, sigsys, r.Stderr)
	}
	r = h.Run("run", "--bundle", seccompBundle(h, deny(specs.ActKillProcess, "getpgid"), nil, syscallArgs("getpgid 0")...), h.ID())
	if r.Code != sigsys || strings.Contains(r.Stdout, "getpgid") {
		t.Errorf("KILL_PROCESS: exit %d, want %d; stdout %q", r.Code, sigsys, r.Stdout)
	}
	r = h.Run("run", "--bundle", seccompBundle(h, deny(specs.ActTrap, "getpgid"), nil, syscallArgs("getpgid 0")...), h.ID())
	if r.Code != 2 || !strings.Contains(r.Stderr, "SIGSYS: bad system call") {
		t.Errorf("TRAP: exit %d, want 2 with Go's SIGSYS report; stderr %q", r.Code, firstLine(r.Stderr))
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// TestSeccompLog: LOG allows the syscall and the kernel logs it (an audit
// record with the action's code in the kernel log).
func TestSeccompLog(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	// Raw non-blocking reads: an *os.File would wait in the poller.
	kmsg, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /dev/kmsg: %v", err)
	}
	defer unix.Close(kmsg)
	if _, err := unix.Seek(kmsg, 0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActLog}}}
	r := h.Must("run", "--bundle", seccompBundle(h, sc, nil, syscallArgs("getpgid 0")...), h.ID())
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{"getpgid": "errno=0"})
	// The record is written before the syscall returns.
	if !kmsgHas(kmsg, unix.SYS_GETPGID, "code=0x7ffc0000") {
		t.Error("no seccomp LOG audit record for getpgid in the kernel log")
	}
	// SECCOMP_FILTER_FLAG_LOG: actions other than ALLOW are logged too.
	sc = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(66)}}}
	r = h.Must("run", "--bundle", seccompBundle(h, sc, nil, syscallArgs("getppid")...), h.ID())
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{"getppid": "errno=66"})
	// The record has the action without its data (the errno).
	if !kmsgHas(kmsg, unix.SYS_GETPPID, "code=0x50000") {
		t.Error("SECCOMP_FILTER_FLAG_LOG: no audit record of the ERRNO action for getppid in the kernel log")
	}
}

// kmsgHas reads the kernel log records not read yet and reports whether a
// seccomp audit record of the checker for syscall nr with code is there.
func kmsgHas(kmsg, nr int, code string) bool {
	found := false
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(kmsg, buf)
		if err == unix.EPIPE || err == unix.EINTR {
			continue // overwritten records, or a signal
		}
		if err != nil || n <= 0 {
			return found // EAGAIN: read everything
		}
		l := string(buf[:n])
		if strings.Contains(l, "type=1326") && strings.Contains(l, `comm="checker"`) &&
			strings.Contains(l, fmt.Sprintf("syscall=%d ", nr)) && strings.Contains(l, code) {
			found = true
		}
	}
}

// TestSeccompArgs: conditions on 64-bit values (both halves), ANDed in a
// rule, rules of one syscall ORed, MASKED_EQ.
func TestSeccompArgs(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(77),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1 << 32, Op: specs.OpGreaterEqual}}},
		{Names: []string{"umask"}, Action: specs.ActErrno, ErrnoRet: errnoRet(78),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0o777, ValueTwo: 0o077, Op: specs.OpMaskedEqual}}},
		{Names: []string{"getsid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(79),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpEqualTo}}},
		{Names: []string{"getsid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(79),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 6, Op: specs.OpEqualTo}}},
		{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: errnoRet(80),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 0, Op: specs.OpEqualTo}}},
	}}
	// One call per checker run: the output is keyed by name.
	cases := []struct{ call, want string }{
		{"getpgid 1", "errno=0"},
		{"getpgid 0x100000001", "errno=77"}, // the kernel would see pid 1
		{"getpgid 0xffffffff", "errno=3"},   // ESRCH from the kernel
		{"umask 0o1077", "errno=78"},
		{"umask 0x1ff", "errno=0"},
		{"getsid 5", "errno=79"},
		{"getsid 6", "errno=79"},
		{"getsid 99999", "errno=3"},
		{"kill 1 0", "errno=80"},
		{"kill 99999 0", "errno=3"},
		{"kill 1 0x100000000", "errno=0"}, // signal 0 for the kernel, not for the rule
	}
	var calls []string
	for _, c := range cases {
		calls = append(calls, c.call)
	}
	b := seccompBundle(h, sc, nil, syscallArgs(calls...)...)
	r := h.Must("run", "--bundle", b, h.ID())
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("got %d lines, want %d: %q", len(lines), len(cases), r.Stdout)
	}
	for i, c := range cases {
		if f := strings.Fields(lines[i]); len(f) != 3 || f[2] != c.want {
			t.Errorf("%s: got %q, want %s", c.call, lines[i], c.want)
		}
	}
}

// TestSeccompNoNewPrivsOff: without noNewPrivileges the filter is loaded
// before the credentials change (it needs CAP_SYS_ADMIN then), so it also
// works for a non-root user without capabilities.
func TestSeccompNoNewPrivsOff(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(55)}}}
	b := seccompBundle(h, sc, func(s *Spec) {
		s.Process.NoNewPrivileges = false
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}, append(syscallArgs("getppid"), ",", "prctl", fmt.Sprint(unix.PR_GET_NO_NEW_PRIVS))...)
	r := h.Must("run", "--bundle", b, h.ID())
	got := errnos(t, r.Stdout, true)
	wantErrnos(t, got, map[string]string{"getppid": "ret=-1 errno=55", "prctl": "ret=0 errno=0"})
}

// TestSeccompDeniedGetcwd: a filter loaded before the credentials change
// (no noNewPrivileges) that denies getcwd(2) makes the check of the cwd
// fail, as under runc ("failed to verify if current working directory is
// safe"); the error names getcwd and its errno, not a cwd outside the
// rootfs (runtime-tools' linux_seccomp program runs this config).
func TestSeccompDeniedGetcwd(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	b := seccompBundle(h, sc, func(s *Spec) { s.Process.NoNewPrivileges = false }, "true")
	h.Fails(`process.cwd: verifying "/": getcwd: operation not permitted`, "run", "--bundle", b, h.ID())
}

// TestSeccompNotify: SCMP_ACT_NOTIFY sends the listener fd and the
// container process state to listenerPath; the test's agent answers the
// notification and the syscall returns its value.
func TestSeccompNotify(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		state specs.ContainerProcessState
		err   error
	}
	agent := make(chan got, 1)
	go func() {
		st, err := seccompAgent(l, 4242)
		agent <- got{st, err}
	}()
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: sock, ListenerMetadata: "meta-42",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActNotify}}}
	id := h.ID()
	b := seccompBundle(h, sc, nil, syscallArgs("getpgid 0", "getpid")...)
	r := h.Must("run", "--bundle", b, id)
	wantErrnos(t, errnos(t, r.Stdout, true), map[string]string{"getpgid": "ret=4242 errno=0", "getpid": "ret=1 errno=0"})
	var g got
	select {
	case g = <-agent:
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not finish")
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	s := g.state
	if s.Version != specs.Version || len(s.Fds) != 1 || s.Fds[0] != specs.SeccompFdName || s.Pid <= 0 ||
		s.Metadata != "meta-42" || s.State.ID != id || s.State.Status != specs.StateCreating || s.State.Pid != s.Pid {
		t.Errorf("listener got state %+v", s)
	}
}

// seccompAgent accepts one connection, reads the state and the fd, answers
// one notification with val and returns the state.
func seccompAgent(l *net.UnixListener, val int64) (specs.ContainerProcessState, error) {
	st, fd, err := acceptListenerFd(l)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	return st, answerNotification(fd, val)
}

// acceptListenerFd takes one connection of the runtime to listenerPath:
// the container process state with the seccomp fd.
func acceptListenerFd(l *net.UnixListener) (specs.ContainerProcessState, int, error) {
	var st specs.ContainerProcessState
	_ = l.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := l.AcceptUnix()
	if err != nil {
		return st, -1, err
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return st, -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return st, -1, fmt.Errorf("no fd with the state: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return st, -1, fmt.Errorf("no fd with the state: %v", err)
	}
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		unix.Close(fds[0])
		return st, -1, fmt.Errorf("state %q: %w", buf[:n], err)
	}
	return st, fds[0], nil
}

// answerNotification answers one getpgid notification with val.
func answerNotification(fd int, val int64) error {
	var req seccompNotif
	if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("NOTIF_RECV: %w", err)
	}
	if req.Nr != unix.SYS_GETPGID {
		return fmt.Errorf("notified syscall %d, want getpgid", req.Nr)
	}
	resp := seccompNotifResp{ID: req.ID, Val: val}
	if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
		return fmt.Errorf("NOTIF_SEND: %w", err)
	}
	return nil
}

// TestSeccompNotifyExec: an exec'd process gets its own listener fd, sent
// with the running container's state and the process's pid.
func TestSeccompNotifyExec(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	states := make(chan specs.ContainerProcessState, 2)
	errc := make(chan error, 1)
	go func() {
		st, fd, err := acceptListenerFd(l) // create's: kept, never notified
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		states <- st
		st, fd2, err := acceptListenerFd(l)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd2)
		states <- st
		errc <- answerNotification(fd2, 777)
	}()
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: sock,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActNotify}}}
	id := h.ID()
	pid := h.RunDetached(seccompBundle(h, sc, nil, testimage.CheckerInRootfs, "sleep"), id)
	r := h.Must(append([]string{"exec", id}, syscallArgs("getpgid 0")...)...)
	wantErrnos(t, errnos(t, r.Stdout, true), map[string]string{"getpgid": "ret=777 errno=0"})
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not finish")
	}
	create, exec := <-states, <-states
	if create.State.Status != specs.StateCreating || create.Pid != pid {
		t.Errorf("create's listener state %+v, want creating with pid %d", create, pid)
	}
	if exec.State.Status != specs.StateRunning || exec.State.Pid != pid || exec.Pid == pid || exec.Pid <= 0 {
		t.Errorf("exec's listener state %+v, want running, init pid %d and the exec's own pid", exec, pid)
	}
	h.Must("delete", "--force", id)
}

// seccompNotif and seccompNotifResp are struct seccomp_notif (with its
// struct seccomp_data) and struct seccomp_notif_resp of linux/seccomp.h.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// TestSeccompInvalid: bad profiles fail create with one line naming the
// field, and leave nothing behind (the harness checks at cleanup).
func TestSeccompInvalid(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	for _, c := range []struct {
		sc   specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"}, `linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}}, {Names: []string{"read"}, Action: "FOO"}}},
			`linux.seccomp.syscalls[0].action: unknown action ""`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno}, {Names: []string{"read"}, Action: "FOO"}}},
			`linux.seccomp.syscalls[1].action: unknown action "FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, `linux.seccomp.architectures[0]: unknown architecture`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"}}, `linux.seccomp.flags[0]: unknown flag`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 7, Op: specs.OpEqualTo}}}}}, `linux.seccomp.syscalls[0].args[0].index: 7 is not below 6`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}},
			`linux.seccomp.listenerPath: listenerPath is not set`},
	} {
		sc := c.sc
		b := seccompBundle(h, &sc, nil, "true")
		h.Fails(c.want, "run", "--bundle", b, h.ID())
	}
	// A listener that is not there: create fails once the init loaded
	// the filter; the init is killed and its state removed.
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: filepath.Join(t.TempDir(), "none.sock"),
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActNotify}}}
	h.Fails("linux.seccomp.listenerPath: failed to connect with seccomp agent specified in the seccomp profile", "run", "--bundle", seccompBundle(h, sc, nil, "true"), h.ID())
	if out := h.Must("list", "-q").Stdout; strings.TrimSpace(out) != "" {
		t.Errorf("containers left: %q", out)
	}
}

// TestSeccompDockerProfileLikeRunc runs Docker's default profile (as
// Docker makes it for runc's default capabilities) under runc and podrun
// and compares the errno of a set of syscalls.
func TestSeccompDockerProfileLikeRunc(t *testing.T) {
	testutil.RequiresRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	h := New(t)
	calls := []string{
		"getpid", "getcwd 0 0", "uname 0",
		"unshare 0x10000000", "mount 0 0 0 0 0", "umount2 0 0", "keyctl 0 0", "add_key 0 0 0 0 0",
		"request_key 0 0 0 0", "ptrace 16 1", "bpf 0 0 0", "perf_event_open 0 0 0 0 0", "reboot 0 0 0 0",
		"swapon 0 0", "kexec_load 0 0 0 0", "setns 0 0", "clone3 0 0", "personality 0xffffffff",
		"personality 8", "socket 2 1 0", "socket 40 1 0", "socket 16 3 9", "acct 0", "settimeofday 0 0",
		"open_by_handle_at 0 0 0", "chroot 0", "pivot_root 0 0", "syslog 0 0 0", "vhangup",
		"400", "1000", "0x40000027", "0x40000200 0 0 0 8", "0x7fffffff",
		"i386:getpid", "i386:keyctl 0 0", "i386:mount 0 0 0", "i386:socket 2 1 0", "i386:socket 40 1 0",
		"i386:socketcall 1 0", "i386:clone3 0 0", "i386:1000",
	}
	b := h.Bundle(syscallArgs(calls...)...)
	s := testimage.Spec(t, b)
	p, err := mobyseccomp.GetDefaultProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp = p
	testimage.WriteSpec(t, b, s)
	r := compareWithRunc(t, h, runc, b, calls)
	// A few that must hold whatever runc says.
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{"getpid": "errno=0", "keyctl": "errno=1",
		"mount": "errno=1", "clone3": "errno=38", "1000": "errno=38"})
}

// compareWithRunc runs bundle b (the checker's syscall command) under
// podrun and runc and fails on any errno that differs. It returns podrun's
// result.
func compareWithRunc(t *testing.T, h *H, runc, b string, calls []string) Result {
	t.Helper()
	r := h.Must("run", "--bundle", b, h.ID())
	got := strings.Split(strings.TrimSpace(r.Stdout), "\n")

	runcRoot := t.TempDir()
	id := h.ID()
	cmd := exec.Command(runc, "--root", runcRoot, "run", "--bundle", b, id)
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	_ = exec.Command(runc, "--root", runcRoot, "delete", "--force", id).Run()
	if err != nil {
		t.Fatalf("runc run: %v: %s", err, stderr.String())
	}
	want := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(want) != len(calls) || len(got) != len(calls) {
		t.Fatalf("runc said %q, podrun %q", want, got)
	}
	// Whether a pid a call names exists (getsid 10, which no rule
	// denies) depends on how many threads the checker runs, their ids
	// being pids of the container: ESRCH counts as success.
	errnoOf := func(l string) string {
		f := strings.Fields(l)
		e := f[len(f)-1]
		if e == "errno=3" {
			e = "errno=0"
		}
		return f[0] + " " + e
	}
	for i := range calls {
		if errnoOf(got[i]) != errnoOf(want[i]) {
			t.Errorf("%s: podrun %q, runc %q", calls[i], got[i], want[i])
		}
	}
	return r
}

// TestSeccompSemanticsLikeRunc: where rules of one syscall mix, podrun
// decides as runc with libseccomp (an unconditional rule wins; repeated
// argument conditions are ORed; 64-bit values; x32 numbers). Not compared:
// repeated conditions mixing 32- and 64-bit values, where libseccomp 2.5.4
// errs (runc denies getsid(3) for "< 3 or > 1<<32"; podrun does not).
func TestSeccompSemanticsLikeRunc(t *testing.T) {
	testutil.RequiresRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	h := New(t)
	arg := func(i uint, op specs.LinuxSeccompOperator, v, v2 uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Op: op, Value: v, ValueTwo: v2}
	}
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX32, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(20), Args: []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 5, 0)}},
			{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(10)},
			{Names: []string{"getsid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(30), Args: []specs.LinuxSeccompArg{
				arg(0, specs.OpLessThan, 3, 0), arg(0, specs.OpGreaterThan, 10, 0)}},
			{Names: []string{"umask"}, Action: specs.ActErrno, ErrnoRet: errnoRet(31), Args: []specs.LinuxSeccompArg{arg(0, specs.OpMaskedEqual, 0xff00000000, 0x1200000000)}},
			{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: errnoRet(32)},
		}}
	calls := []string{"getpgid 5", "getpgid 6", "getsid 1", "getsid 2", "getsid 3", "getsid 10", "getsid 11",
		"umask 0x12000000ff", "umask 0x13000000ff", "getppid", "0x40000027", "0x40000000", "mkdir 0", "1000",
		"i386:getpgid 5", "i386:getpgid 6", "i386:getsid 2", "i386:getsid 11", "i386:getppid", "i386:mkdir 0"}
	b := h.Bundle(syscallArgs(calls...)...)
	s := testimage.Spec(t, b)
	s.Linux.Seccomp = sc
	testimage.WriteSpec(t, b, s)
	r := compareWithRunc(t, h, runc, b, calls)
	wantErrnos(t, errnos(t, r.Stdout, false), map[string]string{"mkdir": "errno=14", "0x40000027": "errno=38"})
}

// TestSeccompDoesNotBlockProcessSetup: the filter is for the user process,
// not for the runtime's own setup. Without noNewPrivileges it is loaded
// before the credentials change, so the scheduler and personality must
// already be applied then: a profile denying sched_setattr and personality
// must not make create fail, and those settings still hold inside.
func TestSeccompDoesNotBlockProcessSetup(t *testing.T) {
	testutil.RequiresRoot(t)
	h := New(t)
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"sched_setattr", "sched_setscheduler", "personality", "ioprio_set"}, Action: specs.ActErrno},
		},
	}
	b := seccompBundle(h, sc, func(s *Spec) {
		s.Process.NoNewPrivileges = false
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 4}
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	}, "sh", "-c", "uname -m; grep '^policy' /proc/self/sched | tr -d ' '; "+testimage.CheckerInRootfs+" syscall personality 0xffffffff")
	r := h.Run("run", "--bundle", b, h.ID())
	if r.Code != 0 {
		t.Fatalf("run: exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.HasPrefix(r.Stdout, "i686\n") || !strings.Contains(r.Stdout, "policy:3\n") || !strings.Contains(r.Stdout, "errno=1") {
		t.Fatalf("want i686, the sched policy and personality denied by the filter; got:\n%s", r.Stdout)
	}
}
