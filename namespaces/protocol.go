package namespaces

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/seccomp"
)

// The init protocol. Parent and child talk over a socket pair, one JSON
// message per step:
//
//	parent -> child  config        (after placing the child in its cgroup)
//	child  -> parent createRuntime (create only: rootfs prepared, before pivot_root)
//	parent -> child  hooksDone     (prestart and createRuntime hooks ran)
//	child  -> parent ready         (create: waiting for start; exec: about to exec)
//	child  -> parent error         (at any point; the child then exits 1)
//
// For exec the child's copy of the socket is close-on-exec: EOF after ready
// means the user process was exec'd.
const (
	msgConfig        = "config"
	msgCreateRuntime = "createRuntime"
	msgHooksDone     = "hooksDone"
	msgReady         = "ready"
	msgError         = "error"
)

// Kind says what the child is for.
type Kind string

const (
	// KindCreate makes a container init that waits for start.
	KindCreate Kind = "create"
	// KindExec runs an additional process in a running container.
	KindExec Kind = "exec"
)

// InitConfig is everything the child needs, sent as the first message.
type InitConfig struct {
	Kind    Kind           `json:"kind"`
	ID      string         `json:"id"`
	Spec    *specs.Spec    `json:"spec,omitempty"` // create only
	Process *specs.Process `json:"process"`
	// Rootfs is the absolute host path of the rootfs; BundleDir the bundle.
	Rootfs    string `json:"rootfs,omitempty"`
	BundleDir string `json:"bundleDir,omitempty"`
	NoPivot   bool   `json:"noPivot,omitempty"`
	// NewKeyring joins a fresh session keyring named _ses.<id> (runc's default).
	NewKeyring bool `json:"newKeyring,omitempty"`
	// PreserveFds is how many fds from 3 up reach the user process.
	PreserveFds int `json:"preserveFds,omitempty"`
	// Fds of the child: the exec fifo (create), console socket, namespaces to join.
	FifoFd    int            `json:"fifoFd,omitempty"`
	ConsoleFd int            `json:"consoleFd,omitempty"`
	JoinFds   map[string]int `json:"joinFds,omitempty"`
	// NewMountNS is true when the child was cloned into a new mount
	// namespace (where an image bundle's overlay may be mounted).
	NewMountNS bool `json:"newMountNS,omitempty"`
	// Overlay, for image bundles, is mounted on Rootfs in the new mount
	// namespace before the rootfs is prepared.
	Overlay *overlay.Mount `json:"overlay,omitempty"`
	// UnshareCgroup makes the child unshare its cgroup namespace once it is in
	// its cgroup, so that the namespace root is the container's cgroup.
	UnshareCgroup bool `json:"unshareCgroup,omitempty"`
	// Personality is linux.personality, for exec too (create reads the spec).
	Personality *specs.LinuxPersonality `json:"personality,omitempty"`
	// Seccomp is the compiled linux.seccomp filter, for exec too.
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
	// State is the OCI state given to createContainer/startContainer hooks.
	State *specs.State `json:"state,omitempty"`
	// MountFds are the child's fds of bind-mount sources the runtime
	// made, one per spec mount, -1 for none (rootfs.Config.MountFds).
	MountFds []int `json:"mountFds,omitempty"`
}

// message is one step of the protocol.
type message struct {
	Type   string      `json:"type"`
	Error  string      `json:"error,omitempty"`
	Config *InitConfig `json:"config,omitempty"`
}

// conn frames messages on the socket.
type conn struct {
	f   *os.File
	r   *fdReader // keeps fds passed with SCM_RIGHTS (seccomp_linux.go)
	dec *json.Decoder
}

func newConn(f *os.File) *conn {
	r := &fdReader{f: f}
	return &conn{f: f, r: r, dec: json.NewDecoder(r)}
}

// header is a message with only its type and error: encoding a message
// builds encoders for the whole spec type tree on first use, 0.3 ms of
// every init, which sends nothing else.
type header struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

func (c *conn) send(m message) error {
	var v any = m
	if m == (message{Type: m.Type, Error: m.Error}) {
		v = header{Type: m.Type, Error: m.Error}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.f.Write(b)
	return err
}

// errChildExited is returned when the child closed the socket without a word.
var errChildExited = errors.New("container init exited unexpectedly")

// recv reads the next message and checks its type. An error message from the
// child becomes an *InitError.
func (c *conn) recv(want string) (message, error) {
	m, err := c.recvAny()
	if err != nil {
		return m, err
	}
	if m.Type != want {
		return m, fmt.Errorf("init protocol: got %q, want %q", m.Type, want)
	}
	return m, nil
}

// recvAny reads the next message; an error message becomes an *InitError.
func (c *conn) recvAny() (message, error) {
	var m message
	if err := c.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return m, errChildExited
		}
		return m, fmt.Errorf("reading init message: %w", err)
	}
	if m.Type == msgError {
		return m, &InitError{Msg: m.Error}
	}
	return m, nil
}

// InitError is an error raised inside the container init or exec child.
type InitError struct{ Msg string }

func (e *InitError) Error() string { return e.Msg }
