package runtime

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A container without a mount namespace of its own has its mounts made in
// ours (as runc makes them), all below a bind mount of the rootfs on
// itself: delete detaches that one and nothing else, counting the mounts
// stacked at the rootfs path against those there before create (an
// overlay a shim mounted there stays).

// mountsAt counts the mounts whose mount point is exactly path (resolved).
func mountsAt(path string) (int, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(p))
	if err != nil {
		return 0, err
	}
	return len(infos), nil
}

// unmountRootfs detaches the mounts stacked at rootfs above the before
// that were there at create.
func unmountRootfs(rootfs string, before int) error {
	for i := 0; i < 16; i++ {
		n, err := mountsAt(rootfs)
		if errors.Is(err, unix.ENOENT) || (err == nil && n <= before) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rootfs mounts: %w", err)
		}
		if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting the rootfs %s: %w", rootfs, err)
		}
	}
	return fmt.Errorf("unmounting the rootfs %s: mounts keep coming back", rootfs)
}
