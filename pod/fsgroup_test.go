package pod

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
)

// kubelet's SetVolumeOwnership: group, group rw (+x and setgid on dirs),
// symlinks only re-grouped; OnRootMismatch leaves a done root alone.
// The group is the test's own, so it runs without root.
func TestSetVolumeOwnership(t *testing.T) {
	gid := int64(os.Getgid())
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o600)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	if err := setVolumeOwnership(dir, gid, manifest.FSGroupChangeAlways, false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{
		dir: fs.ModeDir | fs.ModeSetgid | 0o770, filepath.Join(dir, "sub"): fs.ModeDir | fs.ModeSetgid | 0o770,
		filepath.Join(dir, "sub", "f"): 0o660,
	} {
		st, err := os.Stat(p)
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode(), want, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat("/etc/passwd", &st); err != nil || st.Mode&0o777 != 0o644 {
		t.Errorf("the symlink's target changed: %o", st.Mode)
	}
	if requiresPermissionChange(dir, gid, false) {
		t.Error("a done root requires a change")
	}
	// OnRootMismatch: the root is done, a file below is not touched.
	os.Chmod(filepath.Join(dir, "sub", "f"), 0o600)
	if err := setVolumeOwnership(dir, gid, manifest.FSGroupChangeOnRootMismatch, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "sub", "f")); st.Mode() != 0o600 {
		t.Errorf("OnRootMismatch changed a file below a done root: %v", st.Mode())
	}
	os.Chmod(dir, 0o700)
	if !requiresPermissionChange(dir, gid, false) {
		t.Error("a root without setgid and group rw does not require a change")
	}
}
