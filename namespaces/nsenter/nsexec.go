package nsenter

// #include <stdlib.h>
// #include "nsexec.h"
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
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
	Cwd       string
	Stdio     [3]*os.File
	// Cgroups are cgroup v1 `tasks` files opened for writing: the
	// single-threaded helper writes "0" to each before anything else.
	Cgroups []*os.File
	// Cgroup2Dir (a cgroup2 directory) and Cgroup2Procs (its
	// cgroup.procs): the helper is cloned into it (CLONE_INTO_CGROUP), or
	// writes itself into it where clone3 is missing.
	Cgroup2Dir, Cgroup2Procs *os.File
	// Namespaces are joined in order (a user namespace first); Names
	// label errors.
	Namespaces []*os.File
	Names      []string
	UID, GID   uint32
	Groups     []uint32
	Caps       *Caps // nil: keep the caller's
	NoNewPrivs bool
	// Rlimits are set with prlimit (resource numbers, RLIMIT_*).
	Rlimits []Rlimit
	// OOMScoreAdj, when set, is written to /proc/self/oom_score_adj.
	OOMScoreAdj *int
	// LSMExec is written to /proc/thread-self/attr/apparmor/exec (or
	// attr/exec): "exec <profile>" for AppArmor, the label for SELinux.
	LSMExec string
	// Seccomp is a BPF program (struct sock_filter[]) loaded last.
	Seccomp      []byte
	SeccompFlags uint
}

// Start runs the command as a child of the calling process (fork + setns +
// clone + execve, no Go runtime in between) and returns its pid once it has
// exec'd; the caller reaps it (wait4). An error means no process is left.
func Start(s *ExecSpec) (int, error) {
	if len(s.Args) == 0 {
		return 0, errors.New("nsexec: no command")
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer errR.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		errW.Close()
		return 0, err
	}
	defer pidR.Close()

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
	strv := func(l []string) **C.char {
		p := (*[1 << 20]*C.char)(calloc(len(l), unsafe.Sizeof((*C.char)(nil))))
		for i, s := range l {
			p[i] = cstr(s)
		}
		return &p[0]
	}
	fdv := func(l []*os.File) *C.int {
		p := (*[1 << 16]C.int)(calloc(len(l), unsafe.Sizeof(C.int(0))))
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
			return 0, fmt.Errorf("nsexec: stdio %d missing", i)
		}
		a.stdio[i] = C.int(f.Fd())
	}
	a.errfd = C.int(errW.Fd())
	a.pidfd = C.int(pidW.Fd())
	a.cgroups, a.ncgroups = fdv(s.Cgroups), C.int(len(s.Cgroups))
	a.cgroup2_dir, a.cgroup2_procs = -1, -1
	if s.Cgroup2Dir != nil {
		a.cgroup2_dir = C.int(s.Cgroup2Dir.Fd())
	}
	if s.Cgroup2Procs != nil {
		a.cgroup2_procs = C.int(s.Cgroup2Procs.Fd())
	}
	a.nsfds, a.nns = fdv(s.Namespaces), C.int(len(s.Namespaces))
	names := make([]string, len(s.Namespaces))
	for i := range names {
		names[i] = "joining namespace"
		if i < len(s.Names) {
			names[i] = "joining namespace " + s.Names[i]
		}
	}
	a.nsnames = strv(names)
	for _, n := range s.Names {
		if n == "user" {
			a.userns = 1
		}
	}
	if len(s.Rlimits) > 0 {
		rl := (*[1 << 10]C.struct_nsexec_rlimit)(calloc(len(s.Rlimits), unsafe.Sizeof(C.struct_nsexec_rlimit{})))
		for i, r := range s.Rlimits {
			rl[i].resource, rl[i].cur, rl[i].max = C.int(r.Resource), C.uint64_t(r.Cur), C.uint64_t(r.Max)
		}
		a.rlimits, a.nrlimits = &rl[0], C.int(len(s.Rlimits))
	}
	if s.OOMScoreAdj != nil {
		a.oom_score_adj = cstr(fmt.Sprint(*s.OOMScoreAdj))
	}
	if s.LSMExec != "" {
		a.lsm_attr = cstr(s.LSMExec)
	}
	a.uid, a.gid = C.uint32_t(s.UID), C.uint32_t(s.GID)
	if len(s.Groups) > 0 {
		g := (*[1 << 16]C.uint32_t)(calloc(len(s.Groups), 4))
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
			return 0, errors.New("nsexec: seccomp program is not a sock_filter array")
		}
		p := calloc(n, 1)
		copy((*[1 << 24]byte)(p)[:n], s.Seccomp)
		a.seccomp, a.seccomp_len, a.seccomp_flags = p, C.int(n/8), C.uint(s.SeccompFlags)
	}

	first := int(C.podrun_nsexec(a))
	errW.Close()
	pidW.Close()
	if first < 0 {
		return 0, fmt.Errorf("nsexec: fork: %w", unix.Errno(-first))
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(first, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	var b [4]byte
	_, perr := io.ReadFull(pidR, b[:])
	// EOF on the error pipe: the command exec'd (or never existed).
	msg, _ := io.ReadAll(io.LimitReader(errR, 512))
	if perr != nil {
		if len(msg) == 0 {
			msg = []byte(fmt.Sprintf("helper exited with %v", ws))
		}
		return 0, fmt.Errorf("nsexec: %s", msg)
	}
	pid := int(binary.NativeEndian.Uint32(b[:]))
	if len(msg) > 0 {
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		return 0, fmt.Errorf("nsexec: %s", msg)
	}
	return pid, nil
}
