package devices

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The program is loaded and attached with bpf(2) directly rather than with
// github.com/cilium/ebpf: podrun runs once per container operation, and
// that library's package initialisation and larger binary cost more on
// every start than this whole file does at run time (see the commit that
// added it for the measurements).

// progName shows in bpftool's listing; the kernel allows [A-Za-z0-9_.].
const progName = "podrun_devices"

// license: the program calls no GPL-only helper.
var license = []byte("Apache\x00")

// ApplyV2 makes cgroupDir (a cgroup2 directory) enforce rules: it compiles
// them into a BPF_PROG_TYPE_CGROUP_DEVICE program, loads it and attaches it
// with BPF_F_ALLOW_MULTI, as runc does. Programs already attached directly
// to cgroupDir (by an earlier ApplyV2, runc or systemd) are replaced, as
// runc replaces them: the first with BPF_F_REPLACE, then the others are
// detached, so that every moment is at least as strict as the new rules
// (an access needs every attached program's consent). This also works
// when the kernel's limit of 64 programs per cgroup is reached. Programs
// attached to ancestors stay in force, as the kernel always applies them.
func ApplyV2(cgroupDir string, rules []specs.LinuxDeviceCgroup) error {
	s, err := compile(rules)
	if err != nil {
		return err
	}
	dirFd, err := unix.Open(cgroupDir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("devices: open cgroup %s: %w", cgroupDir, err)
	}
	defer unix.Close(dirFd)
	if err := attach(dirFd, program(s)); err != nil {
		return fmt.Errorf("devices: cgroup %s: %w", cgroupDir, err)
	}
	return nil
}

func attach(dirFd int, p []insn) error {
	old, err := attachedPrograms(dirFd)
	if err != nil {
		return err
	}
	defer func() {
		for _, fd := range old {
			unix.Close(fd)
		}
	}()
	prog, err := loadProgram(p)
	if err != nil {
		return err
	}
	defer unix.Close(prog)

	// Replace one old program atomically, then detach the others: every
	// moment is at least as strict as the new rules. Without BPF_F_REPLACE
	// (before 5.6), attach next to the old ones, then detach them.
	rest := old
	if len(old) > 0 {
		err := progAttach(dirFd, prog, unix.BPF_F_ALLOW_MULTI|unix.BPF_F_REPLACE, old[0])
		switch {
		case err == nil:
			rest = old[1:]
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT):
			// No BPF_F_REPLACE, or old[0] went away meanwhile.
			err = progAttach(dirFd, prog, unix.BPF_F_ALLOW_MULTI, -1)
		}
		if err != nil {
			return fmt.Errorf("BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI): %w", err)
		}
	} else if err := progAttach(dirFd, prog, unix.BPF_F_ALLOW_MULTI, -1); err != nil {
		return fmt.Errorf("BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI): %w", err)
	}
	for _, fd := range rest {
		if err := progDetach(dirFd, fd); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("BPF_PROG_DETACH of a previous device program: %w", err)
		}
	}
	return nil
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// expected_attach_type (the kernel zero-fills the rest).
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// loadProgram loads p and returns its fd. When the kernel refuses it, the
// load is repeated with the verifier log, which goes into the error.
func loadProgram(p []insn) (int, error) {
	code := encode(p)
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(p)),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], progName)
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	// The verifier gives up with EAGAIN when a signal is pending, and the
	// Go runtime signals its threads (preemption): retry, as libbpf does.
	for i := 0; i < 10 && errors.Is(err, unix.EAGAIN); i++ {
		fd, err = bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	}
	if errors.Is(err, unix.EPERM) {
		// Before 5.11 BPF memory counts against RLIMIT_MEMLOCK; raise it
		// for this load only.
		var old unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old) == nil {
			inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
			if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf) == nil {
				fd, err = bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
				_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
			}
		}
	}
	if err != nil {
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
		if fd2, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 == nil {
			unix.Close(fd2) // loads with the log on: report the first error anyway
		}
		runtime.KeepAlive(log)
		msg := strings.Join(strings.Fields(unix.ByteSliceToString(log)), " ")
		if msg != "" {
			return -1, fmt.Errorf("BPF_PROG_LOAD (BPF_PROG_TYPE_CGROUP_DEVICE, %d instructions): %w: verifier: %s", len(p), err, msg)
		}
		return -1, fmt.Errorf("BPF_PROG_LOAD (BPF_PROG_TYPE_CGROUP_DEVICE, %d instructions): %w", len(p), err)
	}
	runtime.KeepAlive(code)
	return fd, nil
}

// progAttachAttr is the BPF_PROG_ATTACH / BPF_PROG_DETACH part of union bpf_attr.
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

func progAttach(dirFd, prog int, flags uint32, replace int) error {
	attr := progAttachAttr{
		targetFd:    uint32(dirFd),
		attachBpfFd: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: flags,
	}
	if replace >= 0 {
		attr.replaceBpfFd = uint32(replace)
	}
	_, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

func progDetach(dirFd, prog int) error {
	attr := progAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE}
	_, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// progQueryAttr is the BPF_PROG_QUERY part of union bpf_attr.
type progQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// attachedIDs returns the ids of the device programs attached directly to
// the cgroup (not those inherited from its ancestors).
func attachedIDs(dirFd int) ([]uint32, error) {
	ids := make([]uint32, 64) // the kernel's limit per cgroup and type
	for range 4 {
		attr := progQueryAttr{
			targetFd:   uint32(dirFd),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) { // more than fit: prog_cnt has the count
			ids = make([]uint32, attr.progCnt+8)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("BPF_PROG_QUERY (BPF_CGROUP_DEVICE): %w", err)
		}
		return ids[:attr.progCnt], nil
	}
	return nil, errors.New("BPF_PROG_QUERY (BPF_CGROUP_DEVICE): the list of programs keeps growing")
}

// attachedPrograms opens the device programs attached to the cgroup. As
// runc does, it skips programs it may not open (EPERM/EACCES: an LSM
// policy can protect systemd's): being left attached, they can only make
// the cgroup stricter. Programs that vanish meanwhile are skipped too.
func attachedPrograms(dirFd int) ([]int, error) {
	ids, err := attachedIDs(dirFd)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, id := range ids {
		attr := struct{ id, nextID, openFlags uint32 }{id: id}
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		switch {
		case err == nil:
			fds = append(fds, fd)
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOENT):
		default:
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("BPF_PROG_GET_FD_BY_ID %d: %w", id, err)
		}
	}
	return fds, nil
}
