package runtime

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCompileSeccompNone(t *testing.T) {
	if f, err := compileSeccomp(&specs.Linux{}); f != nil || err != nil {
		t.Fatalf("no linux.seccomp: got %v, %v", f, err)
	}
}

func TestFeaturesSeccomp(t *testing.T) {
	sc := Features().Linux.Seccomp
	if sc == nil || sc.Enabled == nil || !*sc.Enabled || len(sc.Actions) != 9 || len(sc.Operators) != 7 ||
		len(sc.Archs) == 0 || len(sc.KnownFlags) != 4 {
		t.Fatalf("features: %+v", sc)
	}
}

// TestSeccompListener: the listener gets the container process state of
// the runtime spec and the fd, in one message.
func TestSeccompListener(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "l.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	send := seccompListener(&specs.LinuxSeccomp{ListenerPath: sock, ListenerMetadata: "m"}, 43, st)
	errc := make(chan error, 1)
	go func() { errc <- send(f) }()
	c, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var ps specs.ContainerProcessState
	if err := json.Unmarshal(buf[:n], &ps); err != nil {
		t.Fatal(err)
	}
	if ps.Version != specs.Version || len(ps.Fds) != 1 || ps.Fds[0] != "seccompFd" || ps.Pid != 43 ||
		ps.Metadata != "m" || ps.State.ID != "c1" || ps.State.Pid != 42 {
		t.Errorf("state %+v", ps)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds: %v %v", fds, err)
	}
	unix.Close(fds[0])
	// A listener that is not there: one error naming the field.
	bad := seccompListener(&specs.LinuxSeccomp{ListenerPath: sock + ".none"}, 1, st)
	if err := bad(f); err == nil || err.Error()[:len("linux.seccomp.listenerPath")] != "linux.seccomp.listenerPath" {
		t.Errorf("missing listener: %v", err)
	}
}

// TestSeccompAgentMissing: an agent that is not listening fails with
// ErrSeccompAgent, in runc's words after the field.
func TestSeccompAgentMissing(t *testing.T) {
	s := &specs.LinuxSeccomp{ListenerPath: filepath.Join(t.TempDir(), "none.sock")}
	err := seccompListener(s, 1, &specs.State{})(os.Stdin)
	const want = "linux.seccomp.listenerPath: failed to connect with seccomp agent specified in the seccomp profile: "
	if !errors.Is(err, ErrSeccompAgent) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v; want ErrSeccompAgent, %q...", err, want)
	}
}
