package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const defaultMountFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV

const (
	// The atime "enum" flags (mutually exclusive).
	mntAtimeEnumFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	mntAtimeFlags     = mntAtimeEnumFlags | unix.MS_NODIRATIME
	// Flags the kernel locks (MNT_LOCK_*) on mounts inherited by a less
	// privileged user namespace: a remount must keep them.
	mntLockFlags = unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOSUID | mntAtimeFlags
)

type preparer struct {
	root     *root
	userns   bool
	cgroupns bool
}

func (p *preparer) mount(m *mnt) error {
	if m.opts.isBind() {
		if m.tree > 0 {
			return p.attachTree(m)
		}
		return p.bindMount(m)
	}
	if err := p.checkIDOptions(m); err != nil {
		return err
	}
	switch m.fstype {
	case "proc", "sysfs":
		return p.mountProcSys(m)
	case "tmpfs":
		return p.mountTmpfs(m)
	case "cgroup":
		return p.mountCgroup(m)
	case "mqueue":
		err := p.mountOther(m, false)
		if err != nil && p.userns && errors.Is(err, unix.EPERM) {
			// A user namespace without its own ipc namespace may not
			// mount mqueue: bind the host's (runc does the same).
			if _, serr := os.Stat("/dev/mqueue"); serr != nil {
				return fmt.Errorf("mqueue cannot be mounted in a user namespace that shares the host's ipc namespace, and the host has no /dev/mqueue to bind instead: give the container an ipc namespace or drop the mount: %w", err)
			}
			return p.bindFromHost(m, "/dev/mqueue")
		}
		return err
	default:
		return p.mountOther(m, true)
	}
}

// finish applies what has to be done after the mount itself: propagation
// changes and recursive attributes. Both act on a freshly opened fd, since
// the one used for the mount refers to the covered directory.
func (p *preparer) finish(m *mnt) error {
	if len(m.opts.propagation) == 0 && m.opts.recAttr == nil {
		return nil
	}
	h, err := p.root.open(m.dest)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	for _, pf := range m.opts.propagation {
		if err := mountAt("", h, m.dest, "", pf, ""); err != nil {
			return err
		}
	}
	if m.opts.recAttr != nil {
		if err := unix.MountSetattr(h, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, m.opts.recAttr); err != nil {
			return &os.SyscallError{Syscall: "mount_setattr", Err: err}
		}
	}
	return nil
}

func (p *preparer) mountOther(m *mnt, checkProc bool) error {
	procSource := ""
	if checkProc {
		procSource = m.source
	}
	h, err := p.root.target(m.dest, true, procSource)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	if err := mountAt(m.source, h, m.dest, m.fstype, m.opts.flags, m.opts.dataString()); err != nil {
		return err
	}
	return p.finish(m)
}

// mountProcSys mounts proc or sysfs. Like runc, the destination must be a
// real directory (or missing), never a symlink. In a user namespace without
// its own network namespace sysfs cannot be mounted: /sys is rbound instead.
func (p *preparer) mountProcSys(m *mnt) error {
	// The parents are followed inside the rootfs, the last component is
	// not: it must be a directory itself.
	h, err := p.root.openNoFollow(m.dest)
	if errors.Is(err, unix.ENOENT) {
		h, err = p.root.mkdirAll(m.dest)
	}
	if err != nil {
		return err
	}
	defer unix.Close(h)
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("filesystem %q must be mounted on ordinary directory", m.fstype)
	}
	err = mountAt(m.source, h, m.dest, m.fstype, m.opts.flags, m.opts.dataString())
	if err != nil && m.fstype == "sysfs" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		return p.bindFromHost(m, "/sys")
	}
	if err != nil {
		return err
	}
	return p.finish(m)
}

// mountTmpfs mounts a tmpfs. An existing destination directory keeps its
// mode (runc prepends mode=). "ro" is applied by Enter, so that later mounts
// and /dev nodes can still be created below it.
func (p *preparer) mountTmpfs(m *mnt) error {
	data := m.opts.dataString()
	h, err := p.root.open(m.dest)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(h, &st); err != nil {
			unix.Close(h)
			return err
		}
		mode := fmt.Sprintf("mode=%04o", st.Mode&0o7777)
		if data != "" {
			mode += "," + data
		}
		data = mode
	} else if errors.Is(err, os.ErrNotExist) {
		h, err = p.root.mkdirAll(m.dest)
	}
	if err != nil {
		return err
	}
	defer unix.Close(h)
	flags := m.opts.flags &^ unix.MS_RDONLY
	if m.opts.copyUp {
		err = p.tmpfsCopyUp(m, h, flags, data)
	} else {
		err = mountAt(tmpfsSource(m), h, m.dest, "tmpfs", flags, data)
	}
	if err != nil {
		return err
	}
	return p.finish(m)
}

// bindMount bind-mounts m.source, then remounts to apply the flags (a bind
// mount ignores them), keeping flags the kernel has locked if needed.
//
// The source is opened once and bound from its fd: the object whose type
// chose the target (file or directory) is the one mounted, whatever
// happens to the path in between.
func (p *preparer) bindMount(m *mnt) error {
	src, err := unix.Open(m.source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "stat", Path: m.source, Err: err} // runc's message
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.source, Err: err}
	}
	h, err := p.root.target(m.dest, st.Mode&unix.S_IFMT == unix.S_IFDIR, m.source)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	if m.opts.flags&unix.MS_REMOUNT == 0 {
		if err := mountAt(procFd(src), h, m.dest, "", unix.MS_BIND|m.opts.flags&unix.MS_REC, ""); err != nil {
			var me *mountError
			if errors.As(err, &me) {
				me.source = m.source
			}
			return err
		}
	}
	if m.opts.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || m.opts.cleared != 0 {
		if err := p.remountBind(m); err != nil {
			return err
		}
	}
	return p.finish(m)
}

func (p *preparer) remountBind(m *mnt) error {
	h, err := p.root.open(m.dest)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	flags := m.opts.flags | unix.MS_BIND | unix.MS_REMOUNT
	mountErr := mountAt("", h, m.dest, "", flags, "")
	if mountErr == nil {
		return nil
	}
	// Probably locked flags (user namespace): emulate "mount --bind -o
	// remount,..." by keeping the source's lockable flags, unless the user
	// asked to clear one of them or for a different atime mode.
	var st unix.Statfs_t
	if err := unix.Statfs(m.source, &st); err != nil {
		return mountErr
	}
	srcFlags := statfsToMountFlags(st)
	if srcFlags&m.opts.cleared&mntLockFlags != 0 {
		return mountErr
	}
	if m.opts.flags&mntAtimeFlags != 0 && m.opts.flags&mntAtimeFlags != srcFlags&mntAtimeFlags {
		return mountErr
	}
	flags |= srcFlags & mntLockFlags
	return mountAt("", h, m.dest, "", flags, "")
}

func statfsToMountFlags(st unix.Statfs_t) uintptr {
	const stNoSymfollow = 0x2000 // ST_NOSYMFOLLOW, <linux/statfs.h>
	var flags uintptr
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_MANDLOCK, unix.MS_MANDLOCK},
		{unix.ST_SYNCHRONOUS, unix.MS_SYNCHRONOUS},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	} {
		if int64(st.Flags)&f.st == f.st {
			flags |= f.ms
		}
	}
	// MS_STRICTATIME is not reported by statfs: it is the absence of the others.
	if flags&mntAtimeEnumFlags == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return flags
}

// checkProcPath refuses mounts over or inside /proc, except a procfs on
// /proc itself and the few files lxcfs emulates (runc's list). rel is the
// container path a destination resolved to.
func checkProcPath(rel, source string) error {
	if rel != "/proc" && !strings.HasPrefix(rel, "/proc/") {
		return nil
	}
	if rel == "/proc" {
		var s unix.Statfs_t
		if err := unix.Statfs(source, &s); err != nil {
			return &os.PathError{Op: "statfs", Path: source, Err: err}
		}
		if s.Type == unix.PROC_SUPER_MAGIC {
			return nil
		}
		return fmt.Errorf("%q cannot be mounted because it is not of type proc", rel)
	}
	switch rel {
	case "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
		"/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
		"/proc/net/dev", "/proc/sys/kernel/ns_last_pid":
		return nil
	}
	return fmt.Errorf("%q cannot be mounted because it is inside /proc", rel)
}

func tmpfsSource(m *mnt) string {
	if m.source == "" {
		return "tmpfs"
	}
	return m.source
}
