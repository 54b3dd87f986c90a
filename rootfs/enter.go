package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
)

// Enter runs after the createContainer hooks, on the same Config that was
// given to Prepare. It jails the process in the rootfs (pivot_root, or
// MS_MOVE + chroot with NoPivot) with "/" as its working directory, applies
// a non-private linux.rootfsPropagation to the new root, points stdio that
// was /dev/null at the container's /dev/null, remounts read-only the tmpfs
// (and /dev) mounts that asked for it, then applies linux.readonlyPaths and
// linux.maskedPaths (missing paths are skipped) and finally root.readonly.
//
// runc writes linux.sysctl between pivot_root and readonlyPaths; with this
// API the init writes them before calling Enter (it already is in the
// container's namespaces, which is what /proc/sys acts on), because
// readonlyPaths usually covers /proc/sys. Setting the umask is left to the
// caller too.
func Enter(c *Config) error {
	rootfs, err := c.rootfsPath()
	if err != nil {
		return err
	}
	prop, err := c.rootPropagation()
	if err != nil {
		return err
	}
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	switch {
	case c.SharedMountNS:
		err = chroot()
	case c.NoPivot:
		err = msMoveRoot(rootfs)
	default:
		err = pivotRoot(rootfs)
	}
	if err != nil {
		return fmt.Errorf("error jailing process inside rootfs: %w", err)
	}
	// [r]private was already the effect of Prepare; anything else must be
	// applied to the new root, which only exists now.
	if prop != 0 && prop&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return fmt.Errorf("unable to apply root propagation flags: %w", err)
		}
	}
	// The init reopens its exec fifo through /proc/self/fd after this,
	// and masked/readonly paths are mostly in /proc: a /proc that is not
	// procfs (no proc mount, or a rootfs symlink that led it elsewhere)
	// must fail here, with a reason, not later in silence.
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return errors.New(`/proc in the container is not procfs: the spec needs a mount of type "proc" at /proc`)
	}
	// From here on paths are the container's, still resolved by fd in
	// its root: a symlink there must not reach a magic link of the init
	// (/proc/self/fd/N is a host file), nor a swap make the remount of a
	// read-only path land on another mount than its bind.
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.Close()
	if needsSetupDev(c.Spec) {
		if err := r.reopenDevNull(); err != nil {
			return fmt.Errorf("error reopening /dev/null inside container: %w", err)
		}
	}
	for _, m := range c.Spec.Mounts {
		o, err := parseMountOptions(m.Options)
		if err != nil || o.flags&unix.MS_RDONLY == 0 {
			continue
		}
		dest := path.Clean("/" + m.Destination)
		if (m.Type == "tmpfs" && !o.isBind()) || dest == "/dev" {
			if err := r.remountReadonly(dest, o.flags); err != nil {
				return fmt.Errorf("error remounting %q read-only: %w", dest, err)
			}
		}
	}
	if l := c.Spec.Linux; l != nil {
		for _, p := range l.ReadonlyPaths {
			if err := r.readonlyPath(p); err != nil {
				return fmt.Errorf("can't make %q read-only: %w", p, err)
			}
		}
		if len(l.MaskedPaths) > 0 {
			null, err := r.openDevNull()
			if err != nil {
				return fmt.Errorf("can't mask paths: %w", err)
			}
			defer unix.Close(null)
			for _, p := range l.MaskedPaths {
				if err := r.maskPath(p, null); err != nil {
					return fmt.Errorf("can't mask path %q: %w", p, err)
				}
			}
		}
	}
	if c.Spec.Root != nil && c.Spec.Root.Readonly {
		if err := setReadonly(); err != nil {
			return fmt.Errorf("error setting rootfs as readonly: %w", err)
		}
	}
	return nil
}

// pivotRoot uses pivot_root(".", ".") so no put_old directory is needed:
// the old root ends up stacked under the new one at "." and is detached.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/", Err: err}
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return &os.PathError{Op: "fchdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: rootfs, Err: err}
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return &os.PathError{Op: "fchdir", Path: "old root", Err: err}
	}
	// rslave, not rprivate, so the unmount cannot propagate anywhere while
	// host-side mounts are not pinned (runc's reasoning).
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "umount", Path: "old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// chroot jails the process in the cwd (the rootfs) without touching any
// mount: the mount namespace is not the container's own.
func chroot() error {
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: ".", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// msMoveRoot is --no-pivot: first get rid of the full proc and sysfs
// mounts outside the rootfs (they would stay reachable and let the
// container mount procfs), then move the rootfs onto / and chroot into it.
func msMoveRoot(rootfs string) error {
	infos, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		skip = i.Root != "/" || (i.FSType != "proc" && i.FSType != "sysfs") ||
			i.Mountpoint == rootfs || strings.HasPrefix(i.Mountpoint, rootfs+"/")
		return skip, false
	})
	if err != nil {
		return err
	}
	for _, i := range infos {
		if err := unix.Mount("", i.Mountpoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // a parent was already unmounted
			}
			return fmt.Errorf("make %q rslave: %w", i.Mountpoint, err)
		}
		if err := unix.Unmount(i.Mountpoint, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
				return &os.PathError{Op: "umount", Path: i.Mountpoint, Err: err}
			}
			// Cannot unmount (locked in a user namespace): cover it instead.
			if err := unix.Mount("tmpfs", i.Mountpoint, "tmpfs", 0, ""); err != nil {
				return fmt.Errorf("cover %q: %w", i.Mountpoint, err)
			}
		}
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %q to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: ".", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// reopenDevNull re-points fds 0-2 that refer to the host's /dev/null at
// the container's one.
func (r *root) reopenDevNull() error {
	null, err := inroot.OpenFd(r.fd, "/dev/null", unix.O_RDWR)
	if err != nil {
		return err
	}
	defer unix.Close(null)
	var nst, st unix.Stat_t
	if err := unix.Fstat(null, &nst); err != nil {
		return err
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Fstat(fd, &st); err != nil {
			continue // closed stdio is not our business
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == nst.Rdev {
			if err := unix.Dup3(null, fd, 0); err != nil {
				return &os.SyscallError{Syscall: "dup3 fd " + strconv.Itoa(fd), Err: err}
			}
		}
	}
	return nil
}

// remountReadonly makes the mount at dest read-only, keeping its flags.
func (r *root) remountReadonly(dest string, flags uintptr) error {
	h, err := r.open(dest)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	target := procFd(h)
	flags |= unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY
	for i := 0; i < 5; i++ {
		err = unix.Mount("", target, "", flags, "")
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EBUSY) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var st unix.Statfs_t
		if unix.Fstatfs(h, &st) == nil {
			if err2 := unix.Mount("", target, "", flags|statfsToMountFlags(st)&mntLockFlags, ""); err2 == nil {
				return nil
			}
		}
		return err
	}
	return err
}

// readonlyPath bind-mounts p onto itself and remounts the new mount
// read-only, keeping nosuid/nodev/noexec. A missing path is skipped.
func (r *root) readonlyPath(p string) error {
	h, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	err = unix.Mount(procFd(h), procFd(h), "", unix.MS_BIND|unix.MS_REC, "")
	unix.Close(h)
	if err != nil {
		return err
	}
	// h is the covered directory: the bind mount is what p leads to now.
	if h, err = r.open(p); err != nil {
		return err
	}
	defer unix.Close(h)
	var st unix.Statfs_t
	if err := unix.Fstatfs(h, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: p, Err: err}
	}
	flags := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	return unix.Mount("", procFd(h), "", flags|unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

// openDevNull returns an O_PATH fd of the container's /dev/null, checked
// to be the null device. It is what masks files: when /dev comes from a
// bind mount, /dev/null may be anything, e.g. a symlink to
// /proc/sys/kernel/core_pattern that "masking" would expose writable
// (CVE-2025-31133).
func (r *root) openDevNull() (int, error) {
	// A symlink is followed inside the container's root: what matters is
	// that the file behind the fd, which is what gets mounted, is the
	// null device.
	fd, err := r.open("/dev/null")
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "stat", Path: "/dev/null", Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, errors.New("/dev/null in the container is not the null device (1:3)")
	}
	return fd, nil
}

// maskPath hides p: the null device (null, checked by openDevNull) over a
// file, an empty read-only tmpfs over a directory. A missing path is
// skipped.
func (r *root) maskPath(p string, null int) error {
	h, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(h)
	// The type first, as crun: a bind of the null device that fails on a
	// directory is not free, its clone is torn down behind an RCU grace
	// period (two of runc's default masked paths are directories).
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", procFd(h), "tmpfs", unix.MS_RDONLY, "")
	}
	return unix.Mount(procFd(null), procFd(h), "", unix.MS_BIND, "")
}

// setReadonly remounts / read-only, keeping locked flags if necessary.
func setReadonly() error {
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	err := unix.Mount("", "/", "", flags, "")
	if err == nil {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return &os.PathError{Op: "statfs", Path: "/", Err: err}
	}
	return unix.Mount("", "/", "", flags|uintptr(st.Flags), "")
}
