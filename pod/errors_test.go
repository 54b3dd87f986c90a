package pod

import (
	"errors"
	"testing"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// pod exec's lookup answers in categories: an unknown container is
// NotFound, a known one with no running run FailedPrecondition.
func TestRunningContainerErrors(t *testing.T) {
	m := &Manager{StateDir: t.TempDir(), Runtime: runtime.New(t.TempDir(), nil)}
	sb := &Sandbox{Name: "p", UID: "u", Pod: &manifest.Pod{}}
	sb.Pod.Spec.Containers = []manifest.Container{{Name: "web"}}
	_, err := m.RunningContainer(sb, "db")
	if !errdefs.IsNotFound(err) || err.Error() != `pod p has no container "db"` {
		t.Errorf("unknown container: %v", err)
	}
	_, err = m.RunningContainer(sb, "web")
	if !errors.Is(err, ErrNotRunning) || !errdefs.IsFailedPrecondition(err) || errdefs.IsNotFound(err) {
		t.Errorf("stopped container: %v", err)
	}
}
