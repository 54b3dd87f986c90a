package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/seccomp"
)

// compileSeccomp compiles linux.seccomp (validateSpec checked it), nil
// when there is none: then no seccomp work at all. Errors name the field.
func compileSeccomp(l *specs.Linux) (*seccomp.Filter, error) {
	if l == nil || l.Seccomp == nil {
		return nil, nil
	}
	return seccomp.Compile(l.Seccomp)
}

// seccompListener returns the function that passes the seccomp notify fd of
// process pid to linux.seccomp.listenerPath, with the container process
// state of the runtime spec ("Listener" in runtime.md): one message, the
// fd attached with SCM_RIGHTS.
func seccompListener(s *specs.LinuxSeccomp, pid int, st *specs.State) func(*os.File) error {
	return func(fd *os.File) error {
		ps := specs.ContainerProcessState{
			Version:  specs.Version,
			Fds:      []string{specs.SeccompFdName},
			Pid:      pid,
			Metadata: s.ListenerMetadata,
			State:    *st,
		}
		b, err := json.Marshal(ps)
		if err != nil {
			return err
		}
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.ListenerPath, Net: "unix"})
		if err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: %w: %w", ErrSeccompAgent, err)
		}
		defer conn.Close()
		if _, _, err := conn.WriteMsgUnix(b, unix.UnixRights(int(fd.Fd())), nil); err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: cannot send seccomp fd to %s: %w", s.ListenerPath, err)
		}
		return nil
	}
}

// ErrSeccompAgent: the seccomp agent at linux.seccomp.listenerPath could
// not be reached; runc's text, which shims and agents match.
var ErrSeccompAgent = errors.New("failed to connect with seccomp agent specified in the seccomp profile")
