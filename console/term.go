package console

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether fd refers to a terminal.
func IsTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}

// State is a terminal's saved termios, restored by Restore.
type State struct {
	fd      int
	termios unix.Termios
}

// MakeRaw puts the terminal fd into raw mode (cfmakeraw) but keeps output
// post-processing (OPOST) on, as runc's host console does, so "\n" from the
// container still starts a new line on the caller's screen. It returns the
// previous state for Restore.
func MakeRaw(fd uintptr) (*State, error) {
	t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	if err != nil {
		return nil, os.NewSyscallError("ioctl TCGETS", err)
	}
	old := &State{fd: int(fd), termios: *t}
	raw := *t
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Oflag |= unix.OPOST
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(int(fd), unix.TCSETS, &raw); err != nil {
		return nil, os.NewSyscallError("ioctl TCSETS", err)
	}
	return old, nil
}

// Restore puts the terminal back into the state MakeRaw saved.
func (s *State) Restore() error {
	if s == nil {
		return nil
	}
	if err := unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.termios); err != nil {
		return os.NewSyscallError("ioctl TCSETS", err)
	}
	return nil
}

// ClearONLCR turns off "\n" to "\r\n" translation on the terminal f (on a
// pty master it applies to its slave). runc does this to the container's
// pty for run -t, so output piped from the host side has no "\r" and a
// raw host terminal with OPOST on still shows proper lines.
func ClearONLCR(f *os.File) error {
	var err error
	cerr := control(f, func(fd int) {
		var t *unix.Termios
		if t, err = unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
			return
		}
		t.Oflag &^= unix.ONLCR
		err = unix.IoctlSetTermios(fd, unix.TCSETS, t)
	})
	if cerr != nil {
		return cerr
	}
	return os.NewSyscallError("ioctl TCSETS", err)
}

// GetWinsize returns the window size of the terminal f.
func GetWinsize(f *os.File) (rows, cols uint16, err error) {
	var ws *unix.Winsize
	cerr := control(f, func(fd int) { ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ) })
	if cerr != nil {
		return 0, 0, cerr
	}
	if err != nil {
		return 0, 0, os.NewSyscallError("ioctl TIOCGWINSZ", err)
	}
	return ws.Row, ws.Col, nil
}

// SetWinsize sets the window size of the terminal f (on a pty master: of
// the pty, which signals SIGWINCH to the slave's foreground group).
func SetWinsize(f *os.File, rows, cols uint16) error {
	var err error
	cerr := control(f, func(fd int) {
		err = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	if cerr != nil {
		return cerr
	}
	return os.NewSyscallError("ioctl TIOCSWINSZ", err)
}
