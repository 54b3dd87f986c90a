package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
)

// tmpfsCopyUp mounts a tmpfs on h and copies what the directory held
// before into it ("tmpcopyup"). The old content stays reachable through a
// directory fd opened before the mount, so no scratch directory is needed.
func (p *preparer) tmpfsCopyUp(m *mnt, h int, flags uintptr, data string) error {
	// "." from h is h's own directory: a path walk does not enter a
	// mount on its starting point.
	under, err := unix.Openat(h, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", &os.PathError{Op: "open", Path: m.dest, Err: err})
	}
	defer unix.Close(under)
	if err := mountAt(tmpfsSource(m), h, m.dest, "tmpfs", flags, data); err != nil {
		return err
	}
	dst, err := inroot.OpenFd(p.root.fd, m.dest, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	defer unix.Close(dst)
	if err := copyDirContents(under, dst); err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	return nil
}

// copyDirContents copies every entry of directory src into directory dst,
// preserving type, mode and ownership. Symlinks are copied, never followed.
func copyDirContents(src, dst int) error {
	d, err := unix.Openat(src, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(d), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(sfd)
		dfd, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		if err := copyDirContents(sfd, dfd); err != nil {
			return err
		}
	case unix.S_IFREG:
		sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		in := os.NewFile(uintptr(sfd), name)
		defer in.Close()
		dfd, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(dfd), name)
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
			return err
		}
		return unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	default: // device, fifo, socket
		if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return unix.Fchmodat(dst, name, perm, 0)
}
