package console

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

func newPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, name, err := NewPty()
	if err != nil {
		t.Skipf("no pty support here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if !regexp.MustCompile(`^/dev/pts/[0-9]+$`).MatchString(name) {
		t.Fatalf("slave name %q", name)
	}
	s, err := OpenSlave(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func socketpair(t *testing.T) (a, b *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// readFull reads exactly n bytes from f or fails after a timeout.
func readN(t *testing.T, f *os.File, n int) string {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b := make([]byte, n)
		_, err := io.ReadFull(f, b)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read %s: %v", f.Name(), r.err)
		}
		return string(r.b)
	case <-time.After(5 * time.Second):
		t.Fatalf("timeout reading %d bytes from %s", n, f.Name())
	}
	return ""
}

func TestNewPtyReadWrite(t *testing.T) {
	m, s := newPty(t)
	if !IsTerminal(s.Fd()) || !IsTerminal(m.Fd()) {
		t.Fatal("pty is not a terminal")
	}
	// slave -> master, with the default ONLCR translation.
	if _, err := s.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, m, 4); got != "hi\r\n" {
		t.Fatalf("master read %q", got)
	}
	// master -> slave (canonical mode: a line).
	if _, err := m.Write([]byte("yo\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 3); got != "yo\n" {
		t.Fatalf("slave read %q", got)
	}
}

func TestOpenPeer(t *testing.T) {
	m, _, err := NewPty()
	if err != nil {
		t.Skip(err)
	}
	defer m.Close()
	s, err := OpenPeer(m, "peer")
	if err != nil {
		t.Skipf("TIOCGPTPEER: %v", err)
	}
	defer s.Close()
	s.Write([]byte("x\n"))
	if got := readN(t, m, 3); got != "x\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestSendRecvFd(t *testing.T) {
	m, s := newPty(t)
	a, b := socketpair(t)
	name := "/dev/pts/42"
	if err := SendFd(a, name, m); err != nil {
		t.Fatal(err)
	}
	got, err := RecvFd(b)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Name() != name {
		t.Fatalf("name %q", got.Name())
	}
	flags, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("received fd is not close-on-exec (%#x, %v)", flags, err)
	}
	// The received descriptor is the same pty master.
	s.Write([]byte("via socket\n"))
	if r := readN(t, got, 12); r != "via socket\r\n" {
		t.Fatalf("read %q", r)
	}
}

// The message must be exactly what go-runc's recvFd and runc's
// utils.RecvFd accept: payload == name, oobn == CmsgSpace(4), one
// SCM_RIGHTS with one fd.
func TestSendFdFraming(t *testing.T) {
	m, _ := newPty(t)
	a, b := socketpair(t)
	const name = "/dev/pts/7"
	if err := SendFd(a, name, m); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	oob := make([]byte, 1024)
	n, oobn, flags, _, err := unix.Recvmsg(int(b.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != name {
		t.Fatalf("payload %q, want %q", buf[:n], name)
	}
	if flags&unix.MSG_CTRUNC != 0 || oobn != unix.CmsgSpace(4) {
		t.Fatalf("oobn %d (want %d), flags %#x", oobn, unix.CmsgSpace(4), flags)
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(scms) != 1 {
		t.Fatalf("scms %d, %v", len(scms), err)
	}
	if scms[0].Header.Level != unix.SOL_SOCKET || scms[0].Header.Type != unix.SCM_RIGHTS {
		t.Fatalf("cmsg %d/%d", scms[0].Header.Level, scms[0].Header.Type)
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v, %v", fds, err)
	}
	unix.Close(fds[0])
	// Nothing else was sent: one message only.
	a.Close()
	if n, _, _, _, err := unix.Recvmsg(int(b.Fd()), buf, oob, 0); n != 0 || err != nil {
		t.Fatalf("extra data after the message: n=%d err=%v", n, err)
	}
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestRecvFdRejects(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct {
		name    string
		payload []byte
		oob     []byte
		want    string
	}{
		{"two fds", []byte("x"), unix.UnixRights(int(r.Fd()), int(w.Fd())), "recvfd: number of fds is not 1: 2"},
		// The kernel merges two SCM_RIGHTS messages into one.
		{"two messages", []byte("x"), append(unix.UnixRights(int(r.Fd())), unix.UnixRights(int(w.Fd()))...), "recvfd: number of fds is not 1: 2"},
		{"three fds", []byte("x"), unix.UnixRights(int(r.Fd()), int(w.Fd()), int(r.Fd())), "recvfd: "},
		{"no fd", []byte("x"), nil, "recvfd: number of SCMs is not 1: 0"},
		{"name too long", bytes.Repeat([]byte("n"), MaxNameLen), unix.UnixRights(int(r.Fd())), "recvfd: incorrect number of bytes read (n=4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketpair(t)
			before := countFds(t)
			if err := unix.Sendmsg(int(a.Fd()), tt.payload, tt.oob, nil, 0); err != nil {
				t.Fatal(err)
			}
			f, err := RecvFd(b)
			if err == nil {
				f.Close()
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %q, want prefix %q", err, tt.want)
			}
			if after := countFds(t); after != before {
				t.Fatalf("leaked %d fds", after-before)
			}
		})
	}
	a, _ := socketpair(t)
	if err := SendFd(a, strings.Repeat("n", MaxNameLen), r); err == nil || !strings.Contains(err.Error(), "filename too long") {
		t.Fatalf("long name: %v", err)
	}
}

func TestSocketReceiveMaster(t *testing.T) {
	m, s := newPty(t)
	sock, err := NewSocket()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(sock.Path())
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir %v %v", fi, err)
	}
	sent := make(chan error, 1)
	go func() {
		c, err := Dial(sock.Path())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		sent <- SendFd(c, "/dev/pts/99", m)
	}()
	got, err := sock.ReceiveMaster()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got.Name() != "/dev/pts/99" {
		t.Fatalf("name %q", got.Name())
	}
	s.Write([]byte("ok\n"))
	if r := readN(t, got, 4); r != "ok\r\n" {
		t.Fatalf("read %q", r)
	}
	if err := sock.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("socket dir left behind: %v", err)
	}
}

// SendFd also works on a *net.UnixConn, the type go-runc callers hold.
func TestSendFdNetConn(t *testing.T) {
	m, _ := newPty(t)
	sock, err := ListenSocket(filepath.Join(t.TempDir(), "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	go func() {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock.Path(), Net: "unix"})
		if err != nil {
			return
		}
		defer c.Close()
		_ = SendFd(c, "/dev/pts/5", m)
	}()
	got, err := sock.ReceiveMaster()
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	var _ syscall.Conn = (*net.UnixConn)(nil)
}

func TestSocketDeadline(t *testing.T) {
	sock, err := NewSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	sock.SetDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	if _, err := sock.ReceiveMaster(); err == nil {
		t.Fatal("no error")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("deadline ignored")
	}
}

func TestWinsize(t *testing.T) {
	m, s := newPty(t)
	if err := SetWinsize(m, 33, 120); err != nil {
		t.Fatal(err)
	}
	rows, cols, err := GetWinsize(s)
	if err != nil || rows != 33 || cols != 120 {
		t.Fatalf("got %dx%d, %v", rows, cols, err)
	}
}

func TestRawRestore(t *testing.T) {
	_, s := newPty(t)
	before, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	st, err := MakeRaw(s.Fd())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Iflag&unix.ICRNL != 0 || raw.Oflag&unix.OPOST == 0 {
		t.Fatalf("not raw: %+v", raw)
	}
	if err := st.Restore(); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if *after != *before {
		t.Fatalf("not restored:\n%+v\n%+v", after, before)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(r.Fd()) {
		t.Fatal("pipe is a terminal")
	}
	if _, err := MakeRaw(r.Fd()); err == nil {
		t.Fatal("MakeRaw on a pipe")
	}
}

// Proxy with pipes: input reaches the container, output comes back without
// "\r", and hangup ends the proxy.
func TestProxyPipes(t *testing.T) {
	m, s := newPty(t)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	defer inR.Close()
	defer outR.Close()
	done := make(chan error, 1)
	go func() { done <- Proxy(context.Background(), m, inR, outW) }()

	// Raw mode on the container side so no echo mixes into the output.
	if _, err := MakeRaw(s.Fd()); err != nil {
		t.Fatal(err)
	}
	inW.Write([]byte("ping"))
	if got := readN(t, s, 4); got != "ping" {
		t.Fatalf("container read %q", got)
	}
	// Back to cooked output: ONLCR must have been cleared by Proxy.
	s.Write([]byte("pong\n"))
	if got := readN(t, outR, 5); got != "pong\n" {
		t.Fatalf("caller read %q", got)
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Proxy did not end on hangup")
	}
	outW.Close()
	inW.Close()
}

// Proxy with a terminal as stdin: raw mode while running, restored after,
// window size copied at start and on SIGWINCH, ctx ends it.
func TestProxyTerminal(t *testing.T) {
	m, s := newPty(t)         // the container's pty
	userM, userS := newPty(t) // the caller's terminal
	_ = userM
	if err := SetWinsize(userS, 40, 100); err != nil {
		t.Fatal(err)
	}
	before, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	outR, outW, _ := os.Pipe()
	defer outR.Close()
	defer outW.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Proxy(ctx, m, userS, outW) }()

	waitSize := func(rows, cols uint16) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, c, err := GetWinsize(s)
			if err == nil && r == rows && c == cols {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("container size %dx%d, want %dx%d", r, c, rows, cols)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSize(40, 100)
	cur, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	if cur.Lflag&unix.ICANON != 0 {
		t.Fatal("caller terminal not raw during Proxy")
	}
	SetWinsize(userS, 50, 132)
	unix.Kill(os.Getpid(), unix.SIGWINCH)
	waitSize(50, 132)

	s.Write([]byte("still here\n")) // the container side stays open
	if got := readN(t, outR, 11); got != "still here\n" {
		t.Fatalf("read %q", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Proxy ignored ctx")
	}
	after, _ := unix.IoctlGetTermios(int(userS.Fd()), unix.TCGETS)
	if *after != *before {
		t.Fatal("caller terminal not restored")
	}
}

// A connection from another user is closed unread: ReceiveMaster returns
// the master that root (we) sent after it, not the other user's fd.
func TestSocketReceiveMasterRefusesOthers(t *testing.T) {
	testutil.RequiresRoot(t)
	m, _ := newPty(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sock, err := ListenSocket(filepath.Join(dir, "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if err := os.Chmod(sock.Path(), 0o777); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	evil := -1
	if err := testutil.AsUser(testutil.Nobody, testutil.Nobody, func() error {
		c, err := Dial(sock.Path())
		if err != nil {
			return err
		}
		evil = int(c.Fd())
		return unix.Sendmsg(evil, []byte("/dev/pts/evil"), unix.UnixRights(p[0]), nil, 0)
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(evil)
	go func() {
		c, err := Dial(sock.Path())
		if err != nil {
			return
		}
		defer c.Close()
		_ = SendFd(c, "/dev/pts/99", m)
	}()
	got, err := sock.ReceiveMaster()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Name() != "/dev/pts/99" {
		t.Fatalf("received %q, want root's /dev/pts/99", got.Name())
	}
}
