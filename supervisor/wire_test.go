package supervisor

import (
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/pod"
)

// An error the supervisor answers on its control socket reaches the
// client with its text and its category, through the real encoding
// (response.setError) and decoding (call).
func TestSocketErrorKeepsCategory(t *testing.T) {
	dir := t.TempDir()
	sb := &pod.Sandbox{Name: "p", StateDir: dir}
	if _, err := call(sb, request{Op: "status"}); !errdefs.IsUnavailable(err) {
		t.Errorf("no supervisor: %v, want Unavailable", err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, sockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	answers := []error{
		pod.NoContainerError("p", "web"),
		errdefs.Newf(errdefs.ErrFailedPrecondition, "container web is not running"),
		errors.New("plain"),
		nil,
	}
	if errdefs.Code(answers[0]) != "NotFound" || errdefs.Code(answers[1]) != "FailedPrecondition" {
		t.Fatal("the answers lost their categories before the wire")
	}
	go func() {
		for _, a := range answers {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var req request
			_ = json.NewDecoder(c).Decode(&req)
			var resp response
			resp.setError(a)
			_ = json.NewEncoder(c).Encode(resp)
			c.Close()
		}
	}()
	for _, sent := range answers {
		_, got := call(sb, request{Op: "status"})
		if sent == nil {
			if got != nil {
				t.Errorf("no error sent, got %v", got)
			}
			continue
		}
		if got == nil || got.Error() != sent.Error() || errdefs.Code(got) != errdefs.Code(sent) {
			t.Errorf("sent %q (%q), got %v (%q)", sent, errdefs.Code(sent), got, errdefs.Code(got))
		}
	}
}
