package console

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// drainTime bounds how long Proxy keeps copying output once ctx is done.
const drainTime = 200 * time.Millisecond

// Proxy connects a received pty master to the caller's stdin and stdout,
// as podrun run does in the foreground with process.terminal set:
//
//   - stdin is copied to the master and the master to stdout;
//   - if stdin is a terminal it is put in raw mode (MakeRaw) and restored
//     when Proxy returns;
//   - the window size of the caller's terminal (stdin, else stdout) is
//     copied to the pty at once and again on every SIGWINCH;
//   - ONLCR is cleared on the pty, as runc does.
//
// Proxy returns when the container side hangs up (every slave descriptor
// is closed, so reading the master fails with EIO), when writing stdout
// fails, or, after draining pending output for a short while, when ctx is
// done (use that when the container's init has exited but some process
// still holds the slave). stdin may be nil. A goroutine blocked reading
// stdin may outlive Proxy; it ends at the next input or at exit.
func Proxy(ctx context.Context, master, stdin, stdout *os.File) error {
	// A pollable duplicate of the master, so that ctx can interrupt reads.
	// O_NONBLOCK is shared with every holder of this open file; podrun run
	// is the only one once init has sent the master away.
	pty, err := pollable(master)
	if err != nil {
		return err
	}
	defer pty.Close()
	_ = ClearONLCR(pty)

	var winSrc *os.File
	if stdin != nil && IsTerminal(stdin.Fd()) {
		winSrc = stdin
		st, err := MakeRaw(stdin.Fd())
		if err != nil {
			return err
		}
		defer st.Restore()
	} else if stdout != nil && IsTerminal(stdout.Fd()) {
		winSrc = stdout
	}
	if winSrc != nil {
		resize := func() {
			if rows, cols, err := GetWinsize(winSrc); err == nil {
				_ = SetWinsize(pty, rows, cols)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		stopWinch := make(chan struct{})
		defer close(stopWinch)
		go func() {
			for {
				select {
				case <-winch:
					resize()
				case <-stopWinch:
					return
				}
			}
		}()
	}

	if stdin != nil {
		go func() { _, _ = io.Copy(pty, stdin) }()
	}

	done := make(chan error, 1)
	go func() { done <- copyOut(stdout, pty) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = pty.SetReadDeadline(time.Now().Add(drainTime))
		return <-done
	}
}

// copyOut copies the master to w until hangup (EIO), EOF or the read
// deadline, which all count as a normal end.
func copyOut(w io.Writer, pty *os.File) error {
	buf := make([]byte, 32*1024)
	for {
		n, err := pty.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, unix.EIO) || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}

// pollable returns a non-blocking duplicate of f that the Go poller
// manages.
func pollable(f *os.File) (*os.File, error) {
	var nfd int
	var err error
	if cerr := control(f, func(fd int) { nfd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return nil, os.NewSyscallError("fcntl O_NONBLOCK", err)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}
