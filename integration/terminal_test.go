package integration

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/internal/checkreport"
)

// coreTTYScript checks the controlling terminal (/dev/tty opens only with
// one), the window size, that input arrives, then reports.
const coreTTYScript = `: </dev/tty && echo CTTY-OK; echo SIZE=$(stty size); read line; echo GOT=$line; exec checker report`

// coreConsole is the test's end of a --console-socket.
type coreConsole struct {
	Path string
	got  chan coreConsoleMsg
}

type coreConsoleMsg struct {
	master *os.File
	rest   []byte // anything sent after the one message
	err    error
}

// coreListenConsole listens on a unix socket, accepts one connection and
// receives the pty master from it, like containerd's shim.
func coreListenConsole(t *testing.T) *coreConsole {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c := &coreConsole{Path: path, got: make(chan coreConsoleMsg, 1)}
	go func() {
		_ = l.SetDeadline(time.Now().Add(30 * time.Second))
		conn, err := l.AcceptUnix()
		if err != nil {
			c.got <- coreConsoleMsg{err: err}
			return
		}
		defer conn.Close()
		master, err := console.RecvFd(conn)
		if err != nil {
			c.got <- coreConsoleMsg{err: err}
			return
		}
		// ONE message: then the runtime closes the connection.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(conn)
		c.got <- coreConsoleMsg{master: master, rest: rest, err: err}
	}()
	return c
}

// Master waits for the pty master.
func (c *coreConsole) Master(t *testing.T) *os.File {
	t.Helper()
	select {
	case m := <-c.got:
		if m.err != nil {
			t.Fatalf("console socket: %v", m.err)
		}
		t.Cleanup(func() { m.master.Close() })
		if len(m.rest) > 0 {
			t.Errorf("console socket: %d more bytes after the first message: %q", len(m.rest), m.rest)
		}
		return m.master
	case <-time.After(30 * time.Second):
		t.Fatal("console socket: no pty master received")
	}
	return nil
}

// coreReadAll reads f until EIO/EOF (the pty's last slave closed) in the
// background; the returned function waits for it, bounded.
func coreReadAll(t *testing.T, f *os.File) func() string {
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			buf.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	return func() string {
		t.Helper()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("pty output did not end; so far: %q", buf.String())
		}
		return buf.String()
	}
}

// coreCheckTTYReport checks what coreTTYScript printed on a terminal.
func coreCheckTTYReport(t *testing.T, out, ptyName string, sid int) *checkreport.Report {
	t.Helper()
	for _, want := range []string{"CTTY-OK", "SIZE=40 100", "GOT=ping"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\n") && !strings.Contains(out, "\r\n") {
		t.Errorf("no \\r\\n in the output: not through a terminal? %q", out)
	}
	rep := parseReport(t, out)
	for fd := 0; fd < 3; fd++ {
		f := rep.FD(fd)
		if f == nil || !f.IsTerminal {
			t.Errorf("fd %d = %+v, want the terminal", fd, f)
		} else if ptyName != "" && f.Target != ptyName {
			t.Errorf("fd %d = %q, want the pty %q", fd, f.Target, ptyName)
		}
	}
	// The shell (pid sid) is the session leader of the terminal.
	if sid > 0 && rep.Sid != sid {
		t.Errorf("sid = %d, want %d", rep.Sid, sid)
	}
	coreExpectFDs(t, "terminal", rep, nil)
	return rep
}

func coreTTYSpec(s *Spec) {
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 40, Width: 100}
	s.Process.Env = append(s.Process.Env, coreNoGoFDs)
}

// TestTerminalConsoleSocket: create with --console-socket, as the shim.
func TestTerminalConsoleSocket(t *testing.T) {
	h := New(t)
	bundle := coreBundle(h, coreTTYSpec, "sh", "-c", coreTTYScript)
	cs := coreListenConsole(t)
	id := h.ID()
	h.Must("create", "--console-socket", cs.Path, "--bundle", bundle, id)
	master := cs.Master(t)
	if !strings.HasPrefix(master.Name(), "/dev/pts/") {
		t.Errorf("console message payload %q, want the pty name /dev/pts/N", master.Name())
	}
	if !console.IsTerminal(master.Fd()) {
		t.Errorf("the fd received is not a terminal")
	}
	if rows, cols, err := console.GetWinsize(master); err != nil || rows != 40 || cols != 100 {
		t.Errorf("pty size %dx%d (%v), want 40x100 from process.consoleSize", rows, cols, err)
	}
	wait := coreReadAll(t, master)
	h.Must("start", id)
	if _, err := master.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	out := wait()
	rep := coreCheckTTYReport(t, out, master.Name(), 1)
	if rep.Pid != 1 {
		t.Errorf("pid = %d, want 1", rep.Pid)
	}
	h.WaitStatus(id, "stopped")

}

// TestTerminalConsoleSocketErrors: the pairings runc refuses.
func TestTerminalConsoleSocketErrors(t *testing.T) {
	h := New(t)
	ttyBundle := coreBundle(h, coreTTYSpec, "true")
	h.Fails("console socket", "create", "--bundle", ttyBundle, h.ID())
	h.Fails("console socket", "run", "-d", "--bundle", ttyBundle, h.ID())
	cs := coreListenConsole(t)
	h.Fails("console socket", "create", "--console-socket", cs.Path, "--bundle", coreBundle(h, nil, "true"), h.ID())
	ttyBundle = coreBundle(h, coreTTYSpec, "true") // the same dir: config.json again
	h.Fails("console-socket", "create", "--console-socket", filepath.Join(t.TempDir(), "nothing"), "--bundle", ttyBundle, h.ID())
}

// TestTerminalExec: exec -t --console-socket into a container without a
// terminal of its own.
func TestTerminalExec(t *testing.T) {
	h := New(t)
	id, initPid := coreSleeper(h, nil)
	cs := coreListenConsole(t)
	var stdout, stderr bytes.Buffer
	cmd := h.Cmd("exec", "-t", "--console-socket", cs.Path, "--env", coreNoGoFDs, id,
		"sh", "-c", strings.Replace(coreTTYScript, "echo SIZE=$(stty size); ", "stty rows 40 cols 100; echo SIZE=$(stty size); ", 1))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	master := cs.Master(t)
	if !strings.HasPrefix(master.Name(), "/dev/pts/") {
		t.Errorf("console message payload %q, want /dev/pts/N", master.Name())
	}
	wait := coreReadAll(t, master)
	if _, err := master.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	out := wait()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exec -t: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("exec -t did not exit")
	}
	rep := coreCheckTTYReport(t, out, master.Name(), -1)
	if rep.Sid != rep.Pid {
		t.Errorf("exec -t: sid %d, want its own session (%d)", rep.Sid, rep.Pid)
	}
	if rep.Namespaces["pid"] != coreNS(t, initPid, "pid") {
		t.Errorf("exec -t: not in the container's pid namespace")
	}
	// The init has no terminal, and its stdio is untouched.
	if fi, err := os.Readlink("/proc/" + strconv.Itoa(initPid) + "/fd/0"); err != nil || fi != os.DevNull {
		t.Errorf("init fd 0 = %q (%v), want /dev/null", fi, err)
	}

	// -t with --detach and no console socket cannot work.
	h.Fails("console socket", "exec", "-d", "-t", id, "true")
}

// TestTerminalRunForeground: `run` with a terminal and no console socket
// puts the container on podrun's own terminal, as runc does for a user
// at a shell.
func TestTerminalRunForeground(t *testing.T) {
	h := New(t)
	bundle := coreBundle(h, coreTTYSpec, "sh", "-c", strings.Replace(coreTTYScript, "exec checker report", "checker report; exit 3", 1))
	master, name, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	slave, err := console.OpenSlave(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := console.SetWinsize(master, 40, 100); err != nil {
		t.Fatal(err)
	}
	cmd := h.Cmd("run", "--bundle", bundle, h.ID())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	wait := coreReadAll(t, master)
	if _, err := master.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("run did not exit")
	}
	out := wait()
	var ee *exec.ExitError
	if !errors.As(runErr, &ee) || ee.ExitCode() != 3 {
		t.Errorf("run: %v, want exit status 3 (the container's)\n%s", runErr, out)
	}
	rep := coreCheckTTYReport(t, out, "", 1)
	if rep.Pid == 1 {
		t.Errorf("checker is pid 1; want sh as pid 1")
	}
	// Our terminal is back in cooked mode (podrun restored it).
	again, err := console.OpenSlave(name)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if tio, err := unix.IoctlGetTermios(int(again.Fd()), unix.TCGETS); err != nil {
		t.Error(err)
	} else if tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("terminal left in raw mode after run (lflag %#x)", tio.Lflag)
	}
}
