package pod

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxTerminationMessage is kubelet's MaxContainerTerminationMessageLength:
// only the last 4 KiB of a termination message file are read.
const MaxTerminationMessage = 4 * 1024

// TerminationLogPath is the host file bind-mounted at a run's
// terminationMessagePath: <data>/<uid>/containers/<name>/<attempt>.termination-log
// (kubelet: a file per container instance in the pod's container dir).
func (sb *Sandbox) TerminationLogPath(name string, attempt int) string {
	return filepath.Join(sb.DataDir, "containers", name, strconv.Itoa(attempt)+".termination-log")
}

// makeTerminationLog creates a run's empty termination message file, mode
// 0666 whatever the umask (a non-root container user must write it), and
// removes the previous run's.
func (sb *Sandbox) makeTerminationLog(name string, attempt int) (string, error) {
	p := sb.TerminationLogPath(name, attempt)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if attempt > 0 {
		os.Remove(sb.TerminationLogPath(name, attempt-1))
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return p, f.Chmod(0o666)
}

// ReadTerminationMessage returns the last MaxTerminationMessage bytes of
// a run's termination message file ("" when there is none). The
// container wrote it: it is opened without following links or blocking
// and must be a regular file.
func (sb *Sandbox) ReadTerminationMessage(name string, attempt int) (string, error) {
	f, err := os.OpenFile(sb.TerminationLogPath(name, attempt), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil
		}
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", f.Name())
	}
	if st.Size() > MaxTerminationMessage {
		if _, err := f.Seek(st.Size()-MaxTerminationMessage, io.SeekStart); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxTerminationMessage))
	return string(b), err
}
