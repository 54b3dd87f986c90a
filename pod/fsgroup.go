package pod

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
)

// kubelet's masks for volume ownership (pkg/volume/volume_linux.go).
const (
	rwMask   = 0o660
	roMask   = 0o440
	execMask = 0o110
)

// maxOwnershipDepth bounds the directory nesting setVolumeOwnership
// walks (a volume's content may come from another pod: a claim).
const maxOwnershipDepth = 512

// setVolumeOwnership is kubelet's SetVolumeOwnership for a volume that
// supports ownership management (emptyDir, persistentVolumeClaim; not
// hostPath): every file and directory gets group fsGroup and group
// read/write (read with readOnly), directories also group search and
// setgid, so what containers create there inherits the group. Symlinks
// get the group only, never a mode. OnRootMismatch skips a volume whose
// root already looks done (requiresPermissionChange).
//
// A claim's content was written by containers, which may still run in
// another pod: the walk goes by fd, each name opened beneath its parent
// without following symlinks, and changes the inode it opened.
func setVolumeOwnership(dir string, fsGroup int64, policy manifest.FSGroupChangePolicy, readOnly bool) error {
	if policy == manifest.FSGroupChangeOnRootMismatch && !requiresPermissionChange(dir, fsGroup, readOnly) {
		return nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return ownTree(fd, dir, int(fsGroup), readOnly, 0)
}

// ownTree changes the directory fd (closed on return) and what is below it.
func ownTree(fd int, name string, gid int, readOnly bool, depth int) error {
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	if depth > maxOwnershipDepth {
		return fmt.Errorf("%s: deeper than %d directories", name, maxOwnershipDepth)
	}
	if err := ownInode(fd, gid, readOnly, true); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, e := range ents {
		child := filepath.Join(name, e.Name())
		cfd, err := unix.Openat(fd, e.Name(), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT {
				continue // removed meanwhile
			}
			return &os.PathError{Op: "open", Path: child, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(cfd, &st); err != nil {
			unix.Close(cfd)
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(cfd)
			dfd, err := unix.Openat(fd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: child, Err: err}
			}
			if err := ownTree(dfd, child, gid, readOnly, depth+1); err != nil {
				return err
			}
		case unix.S_IFLNK:
			err := unix.Fchownat(cfd, "", -1, gid, unix.AT_EMPTY_PATH)
			unix.Close(cfd)
			if err != nil {
				return &os.PathError{Op: "chown", Path: child, Err: err}
			}
		default:
			err := ownInode(cfd, gid, readOnly, false)
			unix.Close(cfd)
			if err != nil {
				return fmt.Errorf("%s: %w", child, err)
			}
		}
	}
	return nil
}

// ownInode gives the inode open at fd (O_PATH or not, never a symlink)
// the group and kubelet's mode bits.
func ownInode(fd, gid int, readOnly, isDir bool) error {
	if err := unix.Fchownat(fd, "", -1, gid, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	mask := uint32(rwMask)
	if readOnly {
		mask = roMask
	}
	if isDir {
		mask |= unix.S_ISGID | execMask
	}
	// Through the fd's magic link: the inode opened, not a name that
	// may have been swapped since.
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), (st.Mode&07777)|mask)
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
