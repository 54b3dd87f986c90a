// Package exeseal hands out an executable handle on the running podrun
// binary that cannot be used to write the host's copy (CVE-2019-5736).
//
// podrun re-executes itself as the container init and the exec child. While
// it runs inside the container, /proc/<pid>/exe of that process is reachable
// from the container; if it named the host binary, a process there could
// reopen it for writing once podrun is gone. So the re-exec goes through a
// view of the binary that is read-only by construction:
//
//   - a detached overlayfs made only of lower layers (the binary's directory),
//     which the kernel cannot write to at all and which is mounted nowhere
//     (fsmount without move_mount): opening it for writing fails with EROFS
//     whatever the caller's privileges. Costs a superblock, not a copy.
//   - else a memfd copy of the binary, sealed against every write (runc's
//     fallback too), which costs a copy of the binary per start.
package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Method says how a handle was made.
type Method string

// The methods, in the order Open tries them.
const (
	Overlay Method = "overlayfs" // detached lower-only overlayfs: O_PATH handle, no copy
	Memfd   Method = "memfd"     // sealed memfd copy of the binary
)

// ErrUnsealed is returned when no sealing method worked.
var ErrUnsealed = errors.New("exeseal: cannot make a read-only copy of the podrun binary")

// Open returns a close-on-exec handle on a read-only view of the binary at
// self (normally "/proc/self/exe"): O_PATH on the overlay, or the sealed
// memfd itself. Exec it through /proc/self/fd/<fd>; the caller closes it
// once the child has exec'd. It takes the handle Prepare(self) made, if any.
func Open(self string) (*os.File, Method, error) {
	if p := takePrepared(self); p != nil {
		<-p.done
		return p.f, p.m, p.err
	}
	return open(self)
}

func open(self string) (*os.File, Method, error) {
	f, oerr := overlayHandle(self)
	if oerr == nil {
		return f, Overlay, nil
	}
	f, merr := memfdHandle(self)
	if merr == nil {
		return f, Memfd, nil
	}
	return nil, "", fmt.Errorf("%w: overlayfs: %v; memfd: %v", ErrUnsealed, oerr, merr)
}

// pending is a handle being made by Prepare.
type pending struct {
	self string
	done chan struct{} // closed when f, m, err are set
	f    *os.File
	m    Method
	err  error
}

var (
	preparedMu sync.Mutex
	prepared   *pending
)

// Prepare starts making the handle of self in the background; the next
// Open(self) takes it. Making the overlay ends with closing its mount fd,
// which dissolves a detached mount namespace, and the kernel's
// namespace_unlock then waits for an expedited RCU grace period: about
// 0.3 ms on an idle host, tens of ms when many containers start at once
// (the grace periods of all of them queue in exp_funnel_lock). A caller
// with other work to do before it needs the handle (Create: the spec, the
// state dir, the cgroups) calls Prepare first, so that the wait overlaps
// that work. At most one handle is pending: Prepare does nothing while one
// is, and one no Open takes stays open until the process exits.
func Prepare(self string) {
	preparedMu.Lock()
	defer preparedMu.Unlock()
	if prepared != nil {
		return
	}
	p := &pending{self: self, done: make(chan struct{})}
	prepared = p
	go func() {
		p.f, p.m, p.err = open(self)
		close(p.done)
	}()
}

// takePrepared hands out the pending handle of self, once.
func takePrepared(self string) *pending {
	preparedMu.Lock()
	defer preparedMu.Unlock()
	p := prepared
	if p == nil || p.self != self {
		return nil
	}
	prepared = nil
	return p
}

// overlayHandle opens the binary through a detached, lower-only overlayfs
// of its directory.
func overlayHandle(self string) (_ *os.File, retErr error) {
	path, err := os.Readlink(self)
	if err != nil {
		// self is a plain path, not a /proc magic link.
		path = self
	}
	if strings.HasSuffix(path, " (deleted)") || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("binary path %q is not usable", path)
	}
	dir, name := filepath.Split(path)
	mnt, err := sealedDir(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "openat overlay", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), "podrun (sealed overlay)")
	defer func() {
		if retErr != nil {
			f.Close()
		}
	}()
	// The same program as ours: a different file in the binary's
	// directory (a rename under our feet) would be executed instead.
	if err := sameFile(self, f); err != nil {
		return nil, err
	}
	return f, nil
}

// sealedDir mounts a detached, read-only overlayfs of dir. Two lower layers
// and no upper one: overlayfs then is read-only for good (it refuses a
// single lower layer). The second layer is /dev, always mounted and below
// dir, so nothing there masks the binary (sameFile checks it anyway), as
// runc uses its state dir. Only where /dev overlaps dir (a binary under
// /dev) is it an empty detached tmpfs (Linux 6.15 and later; before, overlayfs
// takes no detached mount as a layer: "failed to clone lowerpath").
//
// /dev comes first because the tmpfs costs a second superblock and, when
// its fd is closed, a second dissolved mount namespace, whose
// namespace_unlock waits for an expedited RCU grace period: one more per
// create or exec, all of them serialised host-wide (exp_funnel_lock) when
// many containers start at once.
func sealedDir(dir string) (int, error) {
	mnt, err := lowerOnly(dir, "/dev")
	if err == nil {
		return mnt, nil
	}
	empty, terr := emptyTmpfs()
	if terr != nil {
		return -1, fmt.Errorf("%w; empty tmpfs as second layer: %v", err, terr)
	}
	defer unix.Close(empty)
	mnt, terr = lowerOnly(dir, fmt.Sprintf("/proc/self/fd/%d", empty))
	if terr != nil {
		return -1, fmt.Errorf("%w; with an empty tmpfs as second layer: %v", err, terr)
	}
	return mnt, nil
}

// lowerOnly makes a detached read-only overlayfs of two lower layers, top
// first. One "lowerdir" string, not "lowerdir+" (Linux 6.8; before 6.5 the
// legacy fs context accepts that key at fsconfig and fails at create).
func lowerOnly(top, bottom string) (int, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, &os.SyscallError{Syscall: "fsopen overlay", Err: err}
	}
	defer unix.Close(ctx)
	esc := strings.NewReplacer(`\`, `\\`, ":", `\:`)
	if err := unix.FsconfigSetString(ctx, "lowerdir", esc.Replace(top)+":"+esc.Replace(bottom)); err != nil {
		return -1, &os.SyscallError{Syscall: "fsconfig lowerdir", Err: err}
	}
	// Neither xino nor the index is needed for a read-only view.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	_ = unix.FsconfigSetString(ctx, "index", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, &os.SyscallError{Syscall: "fsconfig create", Err: err}
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, &os.SyscallError{Syscall: "fsmount", Err: err}
	}
	return mnt, nil
}

// emptyTmpfs returns a detached, empty, read-only tmpfs mount.
func emptyTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, &os.SyscallError{Syscall: "fsopen tmpfs", Err: err}
	}
	defer unix.Close(ctx)
	_ = unix.FsconfigSetString(ctx, "size", "4k")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, &os.SyscallError{Syscall: "fsconfig create tmpfs", Err: err}
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, &os.SyscallError{Syscall: "fsmount tmpfs", Err: err}
	}
	return mnt, nil
}

// sameFile checks that the overlay handle shows the bytes of self: overlayfs
// reports the lower file's inode number, but its own device, so compare
// size, inode and modification time.
func sameFile(self string, f *os.File) error {
	var a, b unix.Stat_t
	if err := unix.Stat(self, &a); err != nil {
		return &os.PathError{Op: "stat", Path: self, Err: err}
	}
	if err := unix.Fstat(int(f.Fd()), &b); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if a.Ino != b.Ino || a.Size != b.Size || a.Mtim != b.Mtim || b.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("the overlay does not show the running binary")
	}
	return nil
}

// memfdSeals forbid every change to the copy, and further seal changes.
const memfdSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// memfdHandle copies the binary into a sealed memfd.
func memfdHandle(self string) (_ *os.File, retErr error) {
	src, err := os.Open(self)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("podrun", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 do not know MFD_EXEC (and are exec by default).
		fd, err = unix.MemfdCreate("podrun", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, &os.SyscallError{Syscall: "memfd_create", Err: err}
	}
	f := os.NewFile(uintptr(fd), "podrun (sealed memfd)")
	defer func() {
		if retErr != nil {
			f.Close()
		}
	}()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	// copy_file_range/sendfile where the kernel can; plain copy otherwise.
	if n, err := io.Copy(f, src); err != nil || n != st.Size() {
		return nil, fmt.Errorf("copying the binary to a memfd: %d of %d bytes: %v", n, st.Size(), err)
	}
	if err := unix.Fchmod(fd, 0o555); err != nil {
		return nil, &os.SyscallError{Syscall: "fchmod memfd", Err: err}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, memfdSeals); err != nil {
		return nil, &os.SyscallError{Syscall: "fcntl F_ADD_SEALS", Err: err}
	}
	return f, nil
}
