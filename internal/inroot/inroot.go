// Package inroot opens and creates paths inside a directory held open by
// fd (a container rootfs, a volume), so that a symlink, ".." or magic link
// put there by someone else who can write to it — concurrently too — never
// leads the operation out of it. Paths are resolved by the kernel as if
// the root were "/" (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, Linux
// 5.6+), one system call per path; missing components are made one at a
// time in an fd of their parent resolved the same way. Callers then use
// the returned handle (/proc/thread-self/fd/N), never the path again, so
// what was checked is what gets used: kubelet's fix for subPath since
// CVE-2017-1002101, runc's for its mount targets.
package inroot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds the symlinks Create follows by hand (the kernel's
// own limit for a path walk is 40).
const maxSymlinks = 40

// ErrNoOpenat2 is returned on kernels without openat2 (before 5.6).
var ErrNoOpenat2 = errors.New("openat2 is not available: Linux 5.6 or later is required to resolve paths inside a root safely")

// OpenFd returns an fd (O_CLOEXEC added to flags) to p resolved inside the
// directory root as if root were "/": symlinks (absolute ones too) and
// ".." stay in root, magic links (/proc/self/fd/N and the like) are
// refused with ELOOP. With O_NOFOLLOW|O_PATH a symlink in the last
// component is opened itself.
func OpenFd(root int, p string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if p == "" {
		p = "."
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(root, p, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS):
			return -1, ErrNoOpenat2
		case (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 32:
			// A rename or mount raced with a ".." of the walk: the
			// kernel asks to retry rather than risk a wrong answer.
			continue
		}
		return -1, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
}

// Open returns an O_PATH handle to rel resolved inside root as if root
// were "/" (see OpenFd).
func Open(root *os.File, rel string) (*os.File, error) {
	fd, err := OpenFd(int(root.Fd()), rel, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// Kind is what Create makes at the end of a path.
type Kind int

const (
	Dir  Kind = iota // a directory
	File             // an empty regular file
)

// Create returns an O_PATH fd to p resolved inside root as OpenFd does,
// first creating what is missing: directories (mode 0755, less the umask)
// on the way and, at the end, a directory or an empty file (0644) as kind
// says. allow, if not nil, is asked before anything is made, with the
// directory and the name to make there; its error stops Create. Unlike OpenFd alone, a dangling symlink on the way (the last
// component too) is followed inside root and its target created, as runc
// does for mount destinations. If the path exists, Create is one openat2
// and returns whatever is there, whatever its type.
//
// Every step is resolved from root by the kernel; names are created with
// mkdirat / openat(O_CREAT|O_EXCL|O_NOFOLLOW) in an fd of their parent, so
// a symlink swapped in at any time is either followed inside root or
// makes the creation fail, never leads it out.
func Create(root int, p string, kind Kind, allow func(dirfd int, name string) error) (int, error) {
	fd, err := OpenFd(root, p, unix.O_PATH)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	// Mostly only the last component is missing (a mount point in a fresh
	// tmpfs): make it in its parent, then open it as any path.
	if comps := components(p); len(comps) > 0 && comps[len(comps)-1] != ".." {
		n := len(comps) - 1
		err := makeAt(root, strings.Join(comps[:n], "/"), comps[n], kind == File, allow)
		if err == nil {
			fd, err = OpenFd(root, p, unix.O_PATH)
		}
		if !errors.Is(err, unix.ENOENT) {
			return fd, err
		}
		// A parent is missing too, or the last component is a dangling
		// symlink: walk it.
	}
	links := 0
	for {
		next, err := createOnce(root, p, kind, allow)
		if err != nil {
			return -1, err
		}
		if next == "" {
			return OpenFd(root, p, unix.O_PATH)
		}
		if links++; links > maxSymlinks {
			return -1, &os.PathError{Op: "create", Path: p, Err: unix.ELOOP}
		}
		p = next
	}
}

// Parent returns an O_PATH fd of the directory that holds the last
// component of p and that component's name, once a symlink there (a
// dangling one too) is followed inside root: where mknodat or symlinkat
// of p must act. Missing directories on the way are created as Create
// does. A last component ".." is returned as the directory itself and
// ".".
func Parent(root int, p string) (int, string, error) {
	for links := 0; ; links++ {
		if links > maxSymlinks {
			return -1, "", &os.PathError{Op: "create", Path: p, Err: unix.ELOOP}
		}
		comps := components(p)
		if len(comps) == 0 || comps[len(comps)-1] == ".." {
			fd, err := Create(root, p, Dir, nil)
			return fd, ".", err
		}
		dir, name := strings.Join(comps[:len(comps)-1], "/"), comps[len(comps)-1]
		dfd, err := Create(root, dir, Dir, nil)
		if err != nil {
			return -1, "", err
		}
		fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			return dfd, name, nil
		}
		if err != nil {
			unix.Close(dfd)
			return -1, "", &os.PathError{Op: "open", Path: p, Err: err}
		}
		target, err := readlinkFd(fd)
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return dfd, name, nil // not a symlink
		}
		unix.Close(dfd)
		if err != nil {
			return -1, "", &os.PathError{Op: "readlink", Path: p, Err: err}
		}
		if !path.IsAbs(target) {
			target = dir + "/" + target
		}
		p = target
	}
}

// createOnce makes the missing components of p from the first one on. It
// stops at a dangling symlink and returns the path with it replaced by its
// target (to be walked afresh), or "" once the whole path exists.
func createOnce(root int, p string, kind Kind, allow func(int, string) error) (string, error) {
	comps := components(p)
	made := -1 // the component last made, looked at once more
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		if c == ".." {
			continue // always exists; the kernel clamps it at root
		}
		prefix := strings.Join(comps[:i+1], "/")
		fd, err := OpenFd(root, prefix, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) && made != i {
			last := i == len(comps)-1
			if err := makeAt(root, strings.Join(comps[:i], "/"), c, last && kind == File, allow); err != nil {
				return "", err
			}
			// Look again: what is there now (ours, or a symlink a
			// racer put first) is judged like anything found.
			made = i
			i--
			continue
		}
		if err != nil {
			return "", err
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(fd)
			if err != nil {
				return "", &os.PathError{Op: "fstat", Path: prefix, Err: err}
			}
			continue
		}
		// A symlink: if it leads somewhere, the kernel follows it in
		// the next prefixes; a dangling one is replaced by its target.
		if live, err := OpenFd(root, prefix, unix.O_PATH); err == nil {
			unix.Close(live)
			unix.Close(fd)
			continue
		} else if !errors.Is(err, unix.ENOENT) {
			unix.Close(fd)
			return "", err
		}
		target, err := readlinkFd(fd)
		unix.Close(fd)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: prefix, Err: err}
		}
		if !path.IsAbs(target) {
			target = strings.Join(comps[:i], "/") + "/" + target
		}
		if rest := comps[i+1:]; len(rest) > 0 {
			target += "/" + strings.Join(rest, "/")
		}
		return target, nil
	}
	return "", nil
}

// makeAt creates name in the directory dir (resolved in root): a
// directory, or an empty file when file is set, if allow allows. Something
// already there (made by a racing creator, or a symlink swapped in) is
// left for the caller's next open to judge.
func makeAt(root int, dir, name string, file bool, allow func(int, string) error) error {
	dfd, err := OpenFd(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if allow != nil {
		if err := allow(dfd, name); err != nil {
			return err
		}
	}
	if file {
		fd, err := unix.Openat(dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return unix.Close(fd)
		}
		if !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "create", Path: path.Join(dir, name), Err: err}
		}
		return nil
	}
	if err := unix.Mkdirat(dfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdir", Path: path.Join(dir, name), Err: err}
	}
	return nil
}

// components splits p into its names, keeping ".." (the kernel resolves
// it against what the names before it really are).
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// readlinkFd reads the symlink an O_PATH|O_NOFOLLOW fd refers to.
func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n == len(buf) {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// ProcFd is the path of fd in /proc/thread-self/fd: what mount(2) and
// friends are given to act on the object behind an fd.
func ProcFd(fd int) string {
	return "/proc/thread-self/fd/" + strconv.Itoa(fd)
}

// MkdirAll returns a handle to the directory rel inside root (resolved as
// Open does), first creating the missing directories with exactly mode
// (not masked by the umask). Each one is made with mkdirat in the fd of
// its parent, then opened there without following symlinks and fchmod'ed
// through that fd: a symlink swapped in meanwhile makes it fail, never
// leads it out of root. Unlike Create, a dangling symlink is an error.
func MkdirAll(root *os.File, rel string, mode os.FileMode) (*os.File, error) {
	comps, err := relComponents(rel)
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

// relComponents splits rel into its names. rel must be relative and must
// not go up: a caller that wants ".." resolved in the root uses Open.
func relComponents(rel string) ([]string, error) {
	if path.IsAbs(rel) {
		return nil, fmt.Errorf("%q is not a relative path", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return nil, fmt.Errorf("%q must not contain '..'", rel)
		}
	}
	return components(rel), nil
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
