package pod

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
)

// kubelet's masks for volume ownership (pkg/volume/volume_linux.go).
const (
	rwMask   = 0o660
	roMask   = 0o440
	execMask = 0o110
)

// setVolumeOwnership is kubelet's SetVolumeOwnership for a volume that
// supports ownership management (emptyDir; not hostPath): every file and
// directory gets group fsGroup and group read/write (read with
// readOnly), directories also group search and setgid, so what
// containers create there inherits the group. Symlinks get the group
// only (lchown), never a mode. OnRootMismatch skips a volume whose root
// already looks done (requiresPermissionChange).
//
// It runs when the pod is made, before any of its containers, so nothing
// in the volume can change under the walk.
func setVolumeOwnership(dir string, fsGroup int64, policy manifest.FSGroupChangePolicy, readOnly bool) error {
	if policy == manifest.FSGroupChangeOnRootMismatch && !requiresPermissionChange(dir, fsGroup, readOnly) {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(fsGroup)); err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		mask := fs.FileMode(rwMask)
		if readOnly {
			mask = roMask
		}
		if info.IsDir() {
			mask |= fs.ModeSetgid | execMask
		}
		return os.Chmod(p, info.Mode()|mask)
	})
}

// requiresPermissionChange reports whether a volume's root lacks the
// group, the permissions or the setgid bit setVolumeOwnership gives.
func requiresPermissionChange(dir string, fsGroup int64, readOnly bool) bool {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil || int64(st.Gid) != fsGroup || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return true
	}
	want := uint32(rwMask | execMask)
	if readOnly {
		want = roMask | execMask
	}
	return st.Mode&want != want || st.Mode&unix.S_ISGID == 0
}
