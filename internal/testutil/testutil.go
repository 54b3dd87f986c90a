// Package testutil holds the small helpers that podrun's tests share.
package testutil

import (
	"os"
	"testing"
)

// RequiresRoot skips t unless the test runs as root. Privileged tests
// (namespaces, mounts, cgroups, real containers) call it first, like
// containerd's testutil.RequiresRoot, so that `go test ./...` as an
// ordinary user still passes.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping privileged test: needs root (run `make test` as root)")
	}
}
