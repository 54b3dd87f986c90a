package seccomp

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Load installs the filter on the calling thread, which must be locked and
// must stay the only one that matters (the container init execs next). It
// needs no_new_privs or CAP_SYS_ADMIN. With SCMP_ACT_NOTIFY rules it returns
// the listener fd, else nil.
func (f *Filter) Load() (*os.File, error) {
	if len(f.Insns) == 0 {
		return nil, errors.New("seccomp: empty filter")
	}
	prog := make([]unix.SockFilter, len(f.Insns))
	for i, in := range f.Insns {
		prog[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags := f.Flags
	if f.Notify {
		flags |= flagNewListener
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, fmt.Errorf("loading seccomp filter: %w", errno)
	}
	if !f.Notify {
		return nil, nil
	}
	return os.NewFile(r, "seccomp-listener"), nil
}

// Supported checks that the kernel takes the filter's flags (seccomp(2)
// with a NULL program fails with EFAULT, not EINVAL, for a known flag), so
// that an unsupported flag is refused before anything is created.
func Supported(s *specs.LinuxSeccomp) error {
	for i, fl := range s.Flags {
		if bit, _ := flagBit(fl); bit != 0 && !flagSupported(bit) {
			return invalid(".flags[%d]: %s is not supported by this kernel", i, fl)
		}
	}
	return nil
}

func flagSupported(bit uint) bool {
	if bit == flagWaitKillableRecv {
		bit |= flagNewListener
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bit), 0)
	return errno == unix.EFAULT
}

// SupportedFlags lists the known flags this kernel takes.
func SupportedFlags() []string {
	var out []string
	for _, fl := range KnownFlags() {
		if bit, _ := flagBit(specs.LinuxSeccompFlag(fl)); bit == 0 || flagSupported(bit) {
			out = append(out, fl)
		}
	}
	return out
}
