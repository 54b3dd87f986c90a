package runccli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/runtime"
)

// ForegroundTTY is the console of a foreground `run` or `exec` with a
// terminal and no --console-socket: podrun listens on its own console
// socket, receives the pty master and proxies it to its stdin and stdout.
type ForegroundTTY struct {
	sock   *console.Socket
	cancel context.CancelFunc
	done   chan error
}

// newForegroundTTY returns a console for the bundle's process, or nil when
// the process does not ask for a terminal.
func newForegroundTTY(bundle string) (*ForegroundTTY, error) {
	if !wantsTerminal(bundle) {
		return nil, nil
	}
	return NewTTYForProcess()
}

// wantsTerminal reads process.terminal of the bundle's config.json alone:
// decoding the whole spec here as well as in create cost `run` 0.5 ms.
// Errors are create's to report, with the field named.
func wantsTerminal(bundle string) bool {
	f, err := os.OpenFile(filepath.Join(bundle, "config.json"), os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	var c struct {
		Process *struct {
			Terminal bool `json:"terminal"`
		} `json:"process"`
	}
	if err := json.NewDecoder(io.LimitReader(f, runtime.MaxConfigSize)).Decode(&c); err != nil {
		return false
	}
	return c.Process != nil && c.Process.Terminal
}

// NewTTYForProcess is a console for a process that asks for a terminal
// (exec -t, pod exec -t).
func NewTTYForProcess() (*ForegroundTTY, error) {
	s, err := console.NewSocket()
	if err != nil {
		return nil, err
	}
	return &ForegroundTTY{sock: s}, nil
}

// SocketPath is the --console-socket to hand to create or exec.
func (t *ForegroundTTY) SocketPath() string { return t.sock.Path() }

// Attach receives the master (sent during create/exec) and starts the proxy.
func (t *ForegroundTTY) Attach() error {
	master, err := t.sock.ReceiveMaster()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.done = make(chan error, 1)
	go func() {
		defer master.Close()
		t.done <- console.Proxy(ctx, master, os.Stdin, os.Stdout)
	}()
	return nil
}

// Close stops the proxy after draining pending output and removes the socket.
func (t *ForegroundTTY) Close() {
	if t == nil {
		return
	}
	if t.cancel != nil {
		t.cancel()
		<-t.done
		t.cancel = nil
	}
	t.sock.Close()
}
