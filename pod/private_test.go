package pod

import (
	"os"
	"path/filepath"
	"testing"
)

// An older podrun's 0711 pod state and data dirs are made 0700; missing
// ones are made so.
func TestPrivateDirsFixesUp(t *testing.T) {
	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "run", "pods"), DataDir: filepath.Join(base, "data")}
	if err := os.Mkdir(m.DataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.DataDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := m.PrivateDirs(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{m.StateDir, m.DataDir} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if p := fi.Mode().Perm(); p != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", d, p)
		}
	}
}
