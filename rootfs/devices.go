package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
)

// device is a device node to create in the container.
type device struct {
	Path         string
	Type         uint32 // unix.S_IFCHR, unix.S_IFBLK or unix.S_IFIFO
	Major, Minor int64
	Mode         uint32 // permission bits (07777)
	UID, GID     uint32
}

// defaultDevices are the nodes every container gets (config-linux.md
// "Default Devices"; /dev/ptmx is a symlink made separately), in runc's order.
var defaultDevices = []device{
	{Path: "/dev/null", Type: unix.S_IFCHR, Major: 1, Minor: 3, Mode: 0o666},
	{Path: "/dev/random", Type: unix.S_IFCHR, Major: 1, Minor: 8, Mode: 0o666},
	{Path: "/dev/full", Type: unix.S_IFCHR, Major: 1, Minor: 7, Mode: 0o666},
	{Path: "/dev/tty", Type: unix.S_IFCHR, Major: 5, Minor: 0, Mode: 0o666},
	{Path: "/dev/zero", Type: unix.S_IFCHR, Major: 1, Minor: 5, Mode: 0o666},
	{Path: "/dev/urandom", Type: unix.S_IFCHR, Major: 1, Minor: 9, Mode: 0o666},
}

// deviceList returns the default devices (minus those the spec redefines:
// the spec's entry wins, as in runc) followed by linux.devices.
// /dev/ptmx is dropped: it is always the pts/ptmx symlink.
func deviceList(spec *specs.Spec) ([]device, error) {
	var specDevs []specs.LinuxDevice
	if spec != nil && spec.Linux != nil {
		specDevs = spec.Linux.Devices
	}
	inSpec := make(map[string]bool)
	for _, d := range specDevs {
		inSpec[path.Clean(d.Path)] = true
	}
	var out []device
	for _, d := range defaultDevices {
		if !inSpec[d.Path] {
			out = append(out, d)
		}
	}
	for _, d := range specDevs {
		if !path.IsAbs(d.Path) {
			return nil, fmt.Errorf("device path %q is not absolute", d.Path)
		}
		dev := device{Path: path.Clean(d.Path), Major: d.Major, Minor: d.Minor, Mode: 0o666}
		switch d.Type {
		case "c", "u":
			dev.Type = unix.S_IFCHR
		case "b":
			dev.Type = unix.S_IFBLK
		case "p":
			dev.Type = unix.S_IFIFO
			dev.Major, dev.Minor = 0, 0
		default:
			return nil, fmt.Errorf("device %q: invalid type %q (want c, b, u or p)", d.Path, d.Type)
		}
		if d.FileMode != nil {
			dev.Mode = uint32(*d.FileMode) & 0o7777
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		if dev.Path == "/dev/ptmx" {
			continue
		}
		out = append(out, dev)
	}
	return out, nil
}

func (d *device) rdev() int {
	return int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
}

// createDevice makes d inside the rootfs: mknod, or (in a user namespace,
// or when mknod is not permitted) a bind mount of the host node onto an
// empty file, like runc. A symlink at d.Path is followed inside the rootfs.
func (r *root) createDevice(d device, bind bool) error {
	dirfd, base, err := inroot.Parent(r.fd, d.Path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if bind {
		return r.bindDevice(d, dirfd, base)
	}
	err = unix.Mknodat(dirfd, base, d.Type|d.Mode, d.rdev())
	switch {
	case err == nil:
	case errors.Is(err, unix.EEXIST):
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: d.Path, Err: err}
		}
		if st.Mode&unix.S_IFMT != d.Type || (d.Type != unix.S_IFIFO && st.Rdev != uint64(d.rdev())) {
			return fmt.Errorf("device %s: a different file already exists at that path", d.Path)
		}
	case errors.Is(err, unix.EPERM):
		return r.bindDevice(d, dirfd, base)
	default:
		return &os.PathError{Op: "mknod", Path: d.Path, Err: err}
	}
	// mknod is subject to the umask: set the exact mode, then the owner.
	if err := unix.Fchmodat(dirfd, base, d.Mode, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: d.Path, Err: err}
	}
	if err := unix.Fchownat(dirfd, base, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chown", Path: d.Path, Err: err}
	}
	return nil
}

func (r *root) bindDevice(d device, dirfd int, base string) error {
	target, err := createFileAt(dirfd, base)
	if err != nil {
		return &os.PathError{Op: "create", Path: d.Path, Err: err}
	}
	defer unix.Close(target)
	return mountAt(d.Path, target, d.Path, "", unix.MS_BIND, "")
}

// createFileAt creates an empty regular file name in dirfd unless
// something other than a symlink already exists there, and returns an
// O_PATH fd to it.
func createFileAt(dirfd int, name string) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		_ = unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	fd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("%s is a symlink: %w", name, unix.ELOOP)
	}
	return fd, nil
}

// setupPtmx makes /dev/ptmx a symlink to pts/ptmx.
func (r *root) setupPtmx(dev int) error {
	if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
		return &os.PathError{Op: "symlink", Path: "/dev/ptmx", Err: err}
	}
	return nil
}

// setupDevSymlinks creates /dev/fd, /dev/std{in,out,err} and (when the
// kernel has it) /dev/core in the container's /dev (the fd dev). Existing
// entries are left alone, like runc.
func (r *root) setupDevSymlinks(dev int) error {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: "/dev/" + l[1], Err: err}
		}
	}
	return nil
}
