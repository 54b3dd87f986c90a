package pod

import (
	"os"
	"path/filepath"
	"testing"
)

// FixUpDirs makes an older podrun's 0711 data dir 0700 and creates no
// missing dir; privateDirs (Create) makes the missing state dir 0700.
func TestPrivateDirsFixUp(t *testing.T) {
	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "run", "pods"), DataDir: filepath.Join(base, "data")}
	if err := os.Mkdir(m.DataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.DataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	perm := func(d string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if err := FixUpDirs(m.StateDir, m.DataDir); err != nil {
		t.Fatal(err)
	}
	if p := perm(m.DataDir); p != 0o700 {
		t.Errorf("data dir: mode %04o after FixUpDirs, want 0700", p)
	}
	if _, err := os.Stat(filepath.Dir(m.StateDir)); !os.IsNotExist(err) {
		t.Errorf("FixUpDirs created the state dir's parent: %v", err)
	}
	if err := m.privateDirs(); err != nil {
		t.Fatal(err)
	}
	if p := perm(m.StateDir); p != 0o700 {
		t.Errorf("state dir: mode %04o, want 0700", p)
	}
}
