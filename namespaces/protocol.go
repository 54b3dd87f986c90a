package namespaces

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/seccomp"
)

// The init protocol (create: exec is started by the C path in
// namespaces/nsenter, no Go child). Parent and child talk over a socket pair, one
// framed message per step (a type byte, a 4-byte little-endian length,
// the payload):
//
//	parent -> child  config        (the Plan, after placing the child in its cgroup)
//	child  -> parent createRuntime (rootfs prepared, before pivot_root)
//	parent -> child  hooksDone     (prestart and createRuntime hooks ran)
//	child  -> parent ready         (waiting for start)
//	child  -> parent error         (at any point, the text as payload; the child then exits 1)
type msgType byte

const (
	msgConfig msgType = iota + 1
	msgCreateRuntime
	msgHooksDone
	msgReady
	msgError
	msgSeccompFd
	msgSeccompDone
)

var msgNames = [...]string{"", "config", "createRuntime", "hooksDone", "ready", "error", "seccompFd", "seccompDone"}

func (t msgType) String() string {
	if int(t) < len(msgNames) && t != 0 {
		return msgNames[t]
	}
	return fmt.Sprintf("message type %d", byte(t))
}

// maxFrame bounds a message: a plan holds at most a config.json's worth
// of the spec (userfile.MaxSize, 4 MiB) plus the state given to hooks, a
// seccomp program and the overlay's layer paths.
const maxFrame = 16 << 20

// InitConfig is everything the child needs. The runtime fills it in;
// SendConfig resolves it into the Plan the child is sent.
type InitConfig struct {
	ID      string
	Spec    *specs.Spec
	Process *specs.Process
	// Rootfs is the absolute host path of the rootfs; BundleDir the bundle.
	Rootfs    string
	BundleDir string
	NoPivot   bool
	// NewKeyring joins a fresh session keyring named _ses.<id> (runc's default).
	NewKeyring bool
	// PreserveFds is how many fds from 3 up reach the user process.
	PreserveFds int
	// Fds of the child: the exec fifo, console socket, namespaces to join.
	FifoFd    int
	ConsoleFd int
	JoinFds   map[string]int
	// NewMountNS is true when the child was cloned into a new mount
	// namespace (where an image bundle's overlay may be mounted).
	NewMountNS bool
	// Overlay, for image bundles, is mounted on Rootfs in the new mount
	// namespace before the rootfs is prepared.
	Overlay *overlay.Mount
	// UnshareCgroup makes the child unshare its cgroup namespace once it is in
	// its cgroup, so that the namespace root is the container's cgroup.
	UnshareCgroup bool
	// Personality is linux.personality.
	Personality *specs.LinuxPersonality
	// Seccomp is the compiled linux.seccomp filter.
	Seccomp *seccomp.Filter
	// State is the OCI state given to createContainer/startContainer hooks.
	State *specs.State
	// MountFds are the child's fds of bind-mount sources the runtime
	// made, one per spec mount, -1 for none (rootfs.Config.MountFds).
	MountFds []int
}

// message is one step of the protocol.
type message struct {
	Type  msgType
	Error string // msgError
	Plan  *Plan  // msgConfig
}

// conn frames messages on the socket.
type conn struct {
	f *os.File
	r *fdReader // keeps fds passed with SCM_RIGHTS (seccomp_linux.go)
	// br reads ahead: a message mostly arrives in one recvmsg.
	br *bufio.Reader
}

func newConn(f *os.File) *conn {
	r := &fdReader{f: f}
	return &conn{f: f, r: r, br: bufio.NewReaderSize(r, 4096)}
}

// frame returns the wire form of m.
func (m message) frame() []byte {
	var b []byte
	switch m.Type {
	case msgError:
		b = append(make([]byte, 5, 5+len(m.Error)), m.Error...)
	case msgConfig:
		b = encodePlan(make([]byte, 5, 2048), m.Plan)
	default:
		b = make([]byte, 5)
	}
	b[0] = byte(m.Type)
	binary.LittleEndian.PutUint32(b[1:], uint32(len(b)-5))
	return b
}

func (c *conn) send(m message) error {
	_, err := c.f.Write(m.frame())
	return err
}

// errChildExited is returned when the child closed the socket without a word.
var errChildExited = errors.New("container init exited unexpectedly")

// recv reads the next message and checks its type. An error message from the
// child becomes an *InitError.
func (c *conn) recv(want msgType) (message, error) {
	m, err := c.recvAny()
	if err != nil {
		return m, err
	}
	if m.Type != want {
		return m, fmt.Errorf("init protocol: got %v, want %v", m.Type, want)
	}
	return m, nil
}

// recvAny reads the next message; an error message becomes an *InitError.
func (c *conn) recvAny() (message, error) {
	var m message
	var hdr [5]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return m, errChildExited
		}
		return m, fmt.Errorf("reading init message: %w", err)
	}
	m.Type = msgType(hdr[0])
	n := binary.LittleEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return m, fmt.Errorf("reading init message: %v of %d bytes, more than %d", m.Type, n, maxFrame)
	}
	var body []byte
	var err error
	if n <= 1<<20 {
		body = make([]byte, n)
		_, err = io.ReadFull(c.br, body)
	} else {
		// Beyond 1 MiB, what arrives, not what the header claims, sizes
		// the buffer.
		body, err = io.ReadAll(io.LimitReader(c.br, int64(n)))
		if err == nil && len(body) < int(n) {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return m, fmt.Errorf("reading init message: %w", err)
	}
	switch m.Type {
	case msgError:
		return m, &InitError{Msg: string(body)}
	case msgConfig:
		if m.Plan, err = decodePlan(body); err != nil {
			return m, err
		}
	}
	return m, nil
}

// InitError is an error raised inside the container init or exec child.
type InitError struct{ Msg string }

func (e *InitError) Error() string { return e.Msg }
