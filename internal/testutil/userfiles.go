package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// HostileUserFiles makes, in a temp dir, what a user may hand a command
// instead of a JSON or YAML file: a FIFO (a read would block) and a JSON
// document nested 200,000 levels deep.
func HostileUserFiles(t *testing.T) (fifo, deep string) {
	t.Helper()
	dir := t.TempDir()
	fifo = filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep = filepath.Join(dir, "deep.json")
	if err := os.WriteFile(deep, []byte(`{"args":`+strings.Repeat("[", 200000)), 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo, deep
}
