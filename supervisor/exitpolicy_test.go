package supervisor

import (
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

func TestTermination(t *testing.T) {
	start, end := time.Unix(100, 0), time.Unix(200, 0)
	for _, c := range []struct {
		what        string
		info        exitInfo
		oom         bool
		code, sig   int32
		reason, msg string
	}{
		{"completed", exitInfo{Known: true}, false, 0, 0, manifest.ReasonCompleted, ""},
		{"error, with its message", exitInfo{Known: true, ExitCode: 3, Message: "bad"}, false, 3, 0, manifest.ReasonError, "bad"},
		{"killed", exitInfo{Known: true, ExitCode: 143, Signal: 15}, false, 143, 15, manifest.ReasonError, ""},
		{"OOM, our child", exitInfo{Known: true, ExitCode: 137, Signal: 9}, true, 137, 9, manifest.ReasonOOMKilled, ""},
		{"OOM, adopted", exitInfo{}, true, 137, 9, manifest.ReasonOOMKilled, ""},
		{"adopted: unknown", exitInfo{Message: "last words"}, false, 137, 0, reasonStatusUnknown,
			"The container exited while podrun's supervisor was not its parent; its exit code is unknown: last words"},
	} {
		t.Run(c.what, func(t *testing.T) {
			got := termination(c.info, c.oom, "p_a_0", start, end)
			if got.ExitCode != c.code || got.Signal != c.sig || got.Reason != c.reason || got.Message != c.msg ||
				got.ContainerID != "podrun://p_a_0" || !got.StartedAt.Equal(start) || !got.FinishedAt.Equal(end) {
				t.Errorf("got %+v", got)
			}
		})
	}
}
