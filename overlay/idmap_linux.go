package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MakeDetached builds the overlay for a container with a user namespace, as a
// mount attached nowhere, which the init then moves onto its rootfs:
//
//   - the overlay is made here, by the runtime (root of the initial user
//     namespace), so overlayfs may use its trusted.* xattrs (opaque
//     directories) and the layers' 0/0 whiteouts, which it would not
//     from inside the container's user namespace;
//   - each lower layer is an idmapped clone of the layer directory
//     (open_tree + mount_setattr MOUNT_ATTR_IDMAP with userns): the image's
//     files, owned by 0 on disk and shared by every container, appear to
//     the container as its own root's, with no copy and no chown;
//   - the upper directory is not idmapped (overlayfs writes its work
//     directory as the mounter, whom an idmapped mount does not map), but
//     its root is given to the container's root, uid:gid on the host;
//     files the container makes there get its host ids as usual.
//
// The init takes the returned mount with move_mount; the caller closes it.
func (m *Mount) MakeDetached(userns *os.File, uid, gid int) (_ *os.File, retErr error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if err := os.Chown(m.Upper, uid, gid); err != nil {
		return nil, fmt.Errorf("overlay: upper dir: %w", err)
	}
	// The clones stay open until the overlay exists: a detached tree
	// goes away with its last fd, and overlayfs clones the layers' mounts
	// only when the filesystem is created.
	var clones []int
	defer func() {
		for _, fd := range clones {
			unix.Close(fd)
		}
	}()
	for _, l := range m.Lower {
		fd, err := idmappedClone(l, userns)
		if err != nil {
			return nil, err
		}
		clones = append(clones, fd)
	}
	f, err := m.create(clones)
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return f, err
	}
	// Older kernels (6.1, and the 6.8 and 6.11 of Ubuntu's CI hosts) let
	// overlayfs clone only mounts of the caller's own mount namespace
	// ("failed to clone lowerpath"): the clones are attached for the
	// time of the create, as containerd does.
	return m.createAttached(clones)
}

// create makes the overlay from the layers' (idmapped) mount fds.
func (m *Mount) create(layers []int) (*os.File, error) {
	fsfd, legacy, err := openOverlayContext()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	var links []string
	for i, fd := range layers {
		link := fmt.Sprintf("/proc/self/fd/%d", fd)
		if legacy {
			links = append(links, link)
			continue
		}
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", link); err != nil {
			return nil, fmt.Errorf("overlay: fsconfig lowerdir+=%s (idmapped): %w%s", m.Lower[i], err, fsLog(fsfd))
		}
	}
	if legacy {
		// One "lowerdir" of fd links (the legacy context has no
		// "lowerdir+"; its options, a page at most, fit hundreds of them).
		if err := unix.FsconfigSetString(fsfd, "lowerdir", strings.Join(links, ":")); err != nil {
			return nil, fmt.Errorf("overlay: fsconfig lowerdir (%d idmapped layers): %w%s", len(links), err, fsLog(fsfd))
		}
	}
	for _, kv := range [][2]string{{"upperdir", m.Upper}, {"workdir", m.Work}} {
		if err := unix.FsconfigSetString(fsfd, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("overlay: fsconfig %s=%s: %w%s", kv[0], kv[1], err, fsLog(fsfd))
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("overlay: creating the filesystem: %w%s", err, fsLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("overlay: fsmount: %w%s", err, fsLog(fsfd))
	}
	f := os.NewFile(uintptr(mfd), "overlay")
	// overlayfs falls back to a read-only mount when it cannot use the
	// upper layer: that is an error here.
	var st unix.Statfs_t
	if err := unix.Fstatfs(mfd, &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
		f.Close()
		return nil, fmt.Errorf("overlay: the kernel mounted it read-only (upper layer unusable)%s", fsLog(fsfd))
	}
	return f, nil
}

// createAttached attaches the detached layer mounts under a temporary
// directory beside the work dir, makes the overlay from them and takes
// them away again (the overlay holds its own private clones).
func (m *Mount) createAttached(clones []int) (*os.File, error) {
	dir, err := os.MkdirTemp(filepath.Dir(m.Work), ".idmap-")
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	var attached []string
	var fds []int
	cleanup := func() error {
		var first error
		for _, fd := range fds {
			unix.Close(fd)
		}
		for _, p := range attached {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && first == nil {
				first = fmt.Errorf("overlay: unmounting idmapped layer %s: %w", p, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil && first == nil {
			first = fmt.Errorf("overlay: %w", err)
		}
		return first
	}
	var f *os.File
	for i, c := range clones {
		p := filepath.Join(dir, strconv.Itoa(i))
		if err = os.Mkdir(p, 0o700); err != nil {
			err = fmt.Errorf("overlay: %w", err)
			break
		}
		if err = unix.MoveMount(c, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			err = fmt.Errorf("overlay: attaching idmapped layer %s: %w", m.Lower[i], err)
			break
		}
		attached = append(attached, p)
		fd, oerr := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if oerr != nil {
			err = fmt.Errorf("overlay: %w", oerr)
			break
		}
		fds = append(fds, fd)
	}
	if err == nil {
		f, err = m.create(fds)
	}
	if cerr := cleanup(); cerr != nil && err == nil {
		f.Close()
		return nil, cerr
	}
	return f, err
}

// openOverlayContext opens an overlay fs context and says whether it is the
// legacy one (kernels before 6.5, like Debian 12's 6.1): that accepts any
// key at fsconfig time, "lowerdir+" included, and fails only at create
// (EINVAL). A key no kernel knows tells them apart; the probed context is
// then replaced, as the legacy one keeps the key.
func openOverlayContext() (fsfd int, legacy bool, err error) {
	fsfd, err = unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, false, fmt.Errorf("overlay: fsopen: %w", err)
	}
	if unix.FsconfigSetString(fsfd, "podrun-no-such-option", "") != nil {
		return fsfd, false, nil
	}
	unix.Close(fsfd)
	fsfd, err = unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, false, fmt.Errorf("overlay: fsopen: %w", err)
	}
	return fsfd, true, nil
}

// idmappedClone returns a detached clone of dir whose ids are shifted by
// userns's mappings.
func idmappedClone(dir string, userns *os.File) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("overlay: open_tree %s: %w", dir, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		hint := ""
		if err == unix.EINVAL {
			// The usual cause; the kernel does not say.
			hint = " (is it on a filesystem without idmapped mounts? tmpfs has them from Linux 6.3)"
		}
		return -1, fmt.Errorf("overlay: idmapping layer %s: %w%s", dir, err, hint)
	}
	return fd, nil
}

// Attach moves a mount made by MakeDetached onto target (the init does this
// in its own mount namespace, after making / rslave).
func Attach(mnt *os.File, target string) error {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("overlay: making / rslave: %w", err)
	}
	if err := unix.MoveMount(int(mnt.Fd()), "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("overlay: move_mount to %s: %w", target, err)
	}
	return nil
}
