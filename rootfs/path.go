package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
)

// root is the container rootfs, held open as an O_PATH directory fd.
// Every path inside it is resolved by the kernel relative to that fd with
// internal/inroot (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, one
// system call), which never lets a symlink or ".." leave the root; mounts
// then target /proc/thread-self/fd/N of the opened fd, so the place that
// was checked is the place that gets mounted on. fds stay raw ints: the
// init holds each for a few system calls.
type root struct {
	path string // host path, cleaned and symlink-free
	fd   int
}

func openRoot(path string) (*root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &root{path: path, fd: fd}, nil
}

func (r *root) Close() error { return unix.Close(r.fd) }

// open returns an O_PATH fd to the container path p.
func (r *root) open(p string) (int, error) {
	return inroot.OpenFd(r.fd, p, unix.O_PATH)
}

// openNoFollow is open without following a symlink in the last component.
func (r *root) openNoFollow(p string) (int, error) {
	return inroot.OpenFd(r.fd, p, unix.O_PATH|unix.O_NOFOLLOW)
}

// mkdirAll returns an O_PATH fd to the container path p, creating the
// missing directories (dangling symlinks on the way are followed inside
// the rootfs and their targets made, as runc does).
func (r *root) mkdirAll(p string) (int, error) {
	return inroot.Create(r.fd, p, inroot.Dir, nil)
}

// target opens the mount destination dest (a container path), creating a
// directory, or an empty file when isDir is false, if it is missing. If
// source is not "", the destination is refused (before anything is made
// for it too) when it resolves into /proc (see checkProcPath).
func (r *root) target(dest string, isDir bool, source string) (int, error) {
	kind := inroot.File
	if isDir {
		kind = inroot.Dir
	}
	var allow func(int, string) error
	if source != "" {
		allow = func(dirfd int, name string) error {
			rel, err := r.rel(dirfd)
			if err != nil {
				return err
			}
			return checkProcPath(path.Join(rel, name), source)
		}
	}
	fd, err := inroot.Create(r.fd, dest, kind, allow)
	if err != nil || source == "" {
		return fd, err
	}
	rel, err := r.rel(fd)
	if err == nil {
		err = checkProcPath(rel, source)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// rel is the container path of the object behind fd (an fd from open,
// so inside the rootfs): what a destination resolved to.
func (r *root) rel(fd int) (string, error) {
	p, err := os.Readlink(procFd(fd))
	if err != nil {
		return "", err
	}
	if p == r.path {
		return "/", nil
	}
	if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(r.path, "/")+"/"); ok {
		return "/" + rel, nil
	}
	return "", fmt.Errorf("%s is not in the rootfs %s", p, r.path)
}

// isSymlink reports whether fd (from openNoFollow) is a symlink.
func isSymlink(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFLNK, nil
}

func procFd(fd int) string { return inroot.ProcFd(fd) }

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

// mountAt mounts source on the file behind the fd target. dest is the
// container path, for the error message only.
func mountAt(source string, target int, dest, fstype string, flags uintptr, data string) error {
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
