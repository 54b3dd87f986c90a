package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
)

// root is the container rootfs, held open as an O_PATH directory handle.
// Every path inside it is opened relative to that handle with
// internal/inroot (pathrs-lite), which never lets a symlink or ".." leave
// the root; mounts then target /proc/self/fd/N of the opened handle, so
// the place that was checked is the place that gets mounted on.
type root struct {
	path string // host path, cleaned and symlink-free
	fd   *os.File
}

func openRoot(path string) (*root, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &root{path: path, fd: f}, nil
}

func (r *root) Close() error { return r.fd.Close() }

// resolve returns unsafePath with all symlinks resolved as if r were "/"
// (dangling ones included, which pathrs-lite alone would refuse to
// create through), as an absolute path relative to the rootfs.
func (r *root) resolve(unsafePath string) (string, error) {
	full, err := securejoin.SecureJoin(r.path, unsafePath)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.path, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("path %q resolves outside the rootfs", unsafePath)
	}
	return filepath.Join("/", rel), nil
}

// open returns an O_PATH handle to rel inside the rootfs.
func (r *root) open(rel string) (*os.File, error) {
	return inroot.Open(r.fd, rel)
}

// mkdirAll creates rel (and its parents) inside the rootfs and returns an
// O_PATH handle to it.
func (r *root) mkdirAll(rel string) (*os.File, error) {
	return pathrs.MkdirAllHandle(r.fd, rel, 0o755)
}

// target opens the mount destination dest (a container path), creating a
// directory, or an empty file when isDir is false, if it is missing.
func (r *root) target(dest string, isDir bool) (*os.File, string, error) {
	rel, err := r.resolve(dest)
	if err != nil {
		return nil, "", err
	}
	f, err := r.open(rel)
	if err == nil {
		return f, rel, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	if isDir {
		f, err = r.mkdirAll(rel)
		return f, rel, err
	}
	dir, err := r.mkdirAll(filepath.Dir(rel))
	if err != nil {
		return nil, "", err
	}
	defer dir.Close()
	f, err = createFileAt(dir, filepath.Base(rel))
	return f, rel, err
}

// createFileAt creates an empty regular file name in dir unless something
// other than a symlink already exists there, and returns an O_PATH handle.
func createFileAt(dir *os.File, name string) (*os.File, error) {
	dirfd := int(dir.Fd())
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		_ = unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	fd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("%s is a symlink: %w", name, unix.ELOOP)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func procFd(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// mountError is a failed mount(2), described with the container path.
type mountError struct {
	op     string
	source string
	dest   string
	fstype string
	flags  uintptr
	data   string
	err    error
}

func (e *mountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.op)
	if e.source != "" {
		fmt.Fprintf(&b, " %q", e.source)
	}
	fmt.Fprintf(&b, " on %q", e.dest)
	if e.fstype != "" {
		fmt.Fprintf(&b, " type %q", e.fstype)
	}
	fmt.Fprintf(&b, " (flags %#x", e.flags)
	if e.data != "" {
		fmt.Fprintf(&b, ", data %q", e.data)
	}
	fmt.Fprintf(&b, "): %v", e.err)
	if errors.Is(e.err, unix.EINVAL) && e.data != "" {
		b.WriteString(" (is one of the options unknown to the filesystem?)")
	}
	return b.String()
}

func (e *mountError) Unwrap() error { return e.err }

// mountAt mounts source on the file behind target's handle. dest is the
// container path, for the error message only.
func mountAt(source string, target *os.File, dest, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, procFd(target), fstype, flags, data); err != nil {
		op := "mount"
		switch {
		case flags&unix.MS_REMOUNT != 0:
			op, source = "remount", ""
		case flags&(unix.MS_SHARED|unix.MS_SLAVE|unix.MS_PRIVATE|unix.MS_UNBINDABLE) != 0:
			op, source = "set propagation of", ""
		case flags&unix.MS_BIND != 0:
			op = "bind-mount"
		}
		return &mountError{op: op, source: source, dest: dest, fstype: fstype, flags: flags, data: data, err: err}
	}
	return nil
}
