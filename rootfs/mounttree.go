package rootfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// attachTree is bindMount for a source the runtime sent as a detached
// copy of its mount (Config.MountFds): move_mount attaches the copy at the
// destination (a bind of the fd's path would be EINVAL: the mount belongs
// to another mount namespace), then the flags are applied by a remount as
// for any bind mount.
func (p *preparer) attachTree(m *mnt) error {
	tree := procFd(m.tree)
	var st unix.Stat_t
	if err := unix.Fstat(m.tree, &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.source, Err: err}
	}
	h, err := p.root.target(m.dest, st.Mode&unix.S_IFMT == unix.S_IFDIR, tree)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	if m.opts.flags&unix.MS_REMOUNT == 0 {
		if err := unix.MoveMount(m.tree, "", h, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return &mountError{op: "bind-mount", source: m.source, dest: m.dest, flags: unix.MS_BIND | m.opts.flags&unix.MS_REC,
				err: &os.SyscallError{Syscall: "move_mount", Err: err}}
		}
	}
	if m.opts.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || m.opts.cleared != 0 {
		// remountBind reads the source's flags (those the kernel may
		// have locked) from its path: the copy has them.
		cp := *m
		cp.source = tree
		if err := p.remountBind(&cp); err != nil {
			return err
		}
	}
	return p.finish(m)
}
