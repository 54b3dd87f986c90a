package supervisor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/podrun/podrun/pod"
)

func TestCreateFailureReason(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("spec.containers[0].env[0]: %w", pod.ErrContainerConfig): "CreateContainerConfigError",
		fmt.Errorf("x: %w", pod.ErrImageNeverPull):                          "ErrImageNeverPull",
		errors.New("mount: no space left on device"):                        "CreateContainerError",
	} {
		if got := CreateFailureReason(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}
