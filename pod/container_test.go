package pod

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/podrun/podrun/pod/manifest"
)

// A tty: true container cannot be created without somewhere to send its
// pty master, nor a tty: false one with a console socket; both name the
// field and happen before anything is made.
func TestCreateContainerIOConsoleSocket(t *testing.T) {
	sb := &Sandbox{Name: "p", Pod: &manifest.Pod{Spec: manifest.PodSpec{Containers: []manifest.Container{
		{Name: "plain"}, {Name: "term", TTY: true},
	}}}}
	m := &Manager{StateDir: t.TempDir()}
	_, _, err := m.CreateContainerIO(sb, "term", 0, ContainerIO{Stdio: [3]*os.File{}})
	if !errors.Is(err, ErrNoConsoleSocket) || !strings.HasPrefix(err.Error(), "spec.containers[1].tty: ") {
		t.Errorf("tty without console socket: %v", err)
	}
	_, _, err = m.CreateContainerIO(sb, "plain", 0, ContainerIO{ConsoleSocket: "/nonexistent.sock"})
	if err == nil || !strings.HasPrefix(err.Error(), "spec.containers[0].tty: ") {
		t.Errorf("console socket without tty: %v", err)
	}
}
