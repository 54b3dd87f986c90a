// Package inroot opens and creates paths inside a directory held open by
// fd (a volume), so that a symlink, ".." or magic link put there by
// someone else who can write to it — concurrently too — never leads the
// operation out of it. Paths are resolved by the kernel as if the root
// were "/" (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, through
// pathrs-lite, which emulates it safely where openat2 is missing);
// missing directories are made one component at a time on fds. Callers
// then use the returned handle (/proc/self/fd/N), never the path again, so
// what was checked is what gets used: kubelet's fix for subPath since
// CVE-2017-1002101.
package inroot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Open returns an O_PATH handle to rel resolved inside root as if root
// were "/": symlinks (absolute ones too) and ".." stay in root, magic
// links (/proc/self/fd/N and the like) are refused.
func Open(root *os.File, rel string) (*os.File, error) {
	return pathrs.OpenatInRoot(root, rel)
}

// MkdirAll returns a handle to the directory rel inside root (resolved as
// Open does), first creating the missing directories with exactly mode
// (not masked by the umask). Each one is made with mkdirat in the fd of
// its parent, then opened there without following symlinks and fchmod'ed
// through that fd: a symlink swapped in meanwhile makes it fail, never
// leads it out of root.
func MkdirAll(root *os.File, rel string, mode os.FileMode) (*os.File, error) {
	comps, err := components(rel)
	if err != nil {
		return nil, err
	}
	// The deepest existing directory, resolved in root.
	parent, err := Open(root, ".")
	if err != nil {
		return nil, err
	}
	i := 0
	for ; i < len(comps); i++ {
		h, err := Open(root, strings.Join(comps[:i+1], "/"))
		if errors.Is(err, unix.ENOENT) {
			break
		}
		parent.Close()
		if err != nil {
			return nil, err
		}
		parent = h
	}
	for ; i < len(comps); i++ {
		f, err := mkdirAt(parent, comps[i], mode)
		parent.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(comps[:i+1], "/"), err)
		}
		parent = f
	}
	if err := IsDir(parent); err != nil {
		parent.Close()
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return parent, nil
}

// mkdirAt creates directory name in dir (or finds it there, made by a
// racing creator) and returns it opened.
func mkdirAt(dir *os.File, name string, mode os.FileMode) (*os.File, error) {
	dirfd := int(dir.Fd())
	err := unix.Mkdirat(dirfd, name, 0o700)
	created := err == nil
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		// ELOOP or ENOTDIR: a symlink (a dangling one, or one swapped in
		// since mkdirat) or a file is in the way.
		return nil, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	if created {
		if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
			f.Close()
			return nil, &os.PathError{Op: "fchmod", Path: name, Err: err}
		}
	}
	return f, nil
}

// components splits rel into its names. rel must be relative and must not
// go up: a caller that wants ".." resolved in the root uses Open.
func components(rel string) ([]string, error) {
	if path.IsAbs(rel) {
		return nil, fmt.Errorf("%q is not a relative path", rel)
	}
	var out []string
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("%q must not contain '..'", rel)
		}
		out = append(out, c)
	}
	return out, nil
}

// IsDir fails unless f is a directory.
func IsDir(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}
