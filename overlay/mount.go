package overlay

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount describes one container's overlay: the image's layer directories
// and the container's private upper and work directories (which must be
// on the same filesystem).
type Mount struct {
	// Lower lists the layer directories, topmost first (overlayfs's order).
	Lower []string `json:"lower"`
	Upper string   `json:"upper"`
	Work  string   `json:"work"`
	// LinkDir and Links are for kernels without the new mount API's
	// "lowerdir+" (before 6.8): LinkDir/Links[i] is a short symlink to
	// Lower[i], so that mount(2)'s data, limited to one page, holds
	// "lowerdir=l/AB12CD34:..." for hundreds of layers.
	LinkDir string   `json:"linkDir,omitempty"`
	Links   []string `json:"links,omitempty"`
	// Detached says the overlay was made by the runtime (MakeDetached)
	// and travels to the init as a mount fd, which it attaches.
	Detached bool `json:"detached,omitempty"`
}

// MaxLayers is overlayfs's limit on lower layers (OVL_MAX_STACK).
const MaxLayers = 500

func (m *Mount) check() error {
	if len(m.Lower) == 0 {
		return errors.New("overlay: no lower layers (an image needs at least one layer)")
	}
	if len(m.Lower) > MaxLayers {
		return fmt.Errorf("overlay: %d layers, overlayfs takes at most %d", len(m.Lower), MaxLayers)
	}
	if m.Upper == "" || m.Work == "" {
		return errors.New("overlay: no upper or work directory")
	}
	return nil
}

// MountAt mounts the overlay on target with the new mount API (fsopen,
// fsconfig "lowerdir+" per layer: no limit on the number or length of
// layer paths), or, when the kernel lacks "lowerdir+", with mount(2) and
// the short link names. The caller makes sure target is not a shared
// mount point propagating to places it should not reach (the container
// init mounts it in its own mount namespace, after making / rslave).
func (m *Mount) MountAt(target string) error {
	if err := m.check(); err != nil {
		return err
	}
	err := m.mountNewAPI(target)
	if err == nil || !errors.Is(err, errNoLowerdirPlus) {
		return err
	}
	return m.MountLegacy(target)
}

var errNoLowerdirPlus = errors.New("kernel has no overlay lowerdir+ option")

func (m *Mount) mountNewAPI(target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if err == unix.ENOSYS {
			return errNoLowerdirPlus
		}
		return fmt.Errorf("overlay: fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	set := func(key, value string) error {
		if err := unix.FsconfigSetString(fsfd, key, value); err != nil {
			return fmt.Errorf("overlay: fsconfig %s=%s: %w%s", key, value, err, fsLog(fsfd))
		}
		return nil
	}
	// Before 6.5 overlayfs took its options through the legacy fs
	// context, which accepts any key at fsconfig time (an unknown
	// "lowerdir+" fails only at create, and its buffer caps the options at
	// a page): Debian 12's 6.1. A key no kernel knows tells them apart.
	if unix.FsconfigSetString(fsfd, "podrun-no-such-option", "") == nil {
		return errNoLowerdirPlus
	}
	for i, l := range m.Lower {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
			if i == 0 && err == unix.EINVAL {
				return errNoLowerdirPlus
			}
			return fmt.Errorf("overlay: fsconfig lowerdir+=%s: %w%s", l, err, fsLog(fsfd))
		}
	}
	if err := set("upperdir", m.Upper); err != nil {
		return err
	}
	if err := set("workdir", m.Work); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("overlay: creating the filesystem: %w%s", err, fsLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("overlay: fsmount: %w%s", err, fsLog(fsfd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("overlay: move_mount to %s: %w", target, err)
	}
	return nil
}

// fsLog returns the kernel's messages on an fs context, if any.
func fsLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 512)
	for i := 0; i < 8; i++ {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// MountLegacy mounts with mount(2) and relative short link names, from
// LinkDir as working directory (restored afterwards).
func (m *Mount) MountLegacy(target string) error {
	if err := m.check(); err != nil {
		return err
	}
	lower := m.Lower
	if m.LinkDir != "" {
		if len(m.Links) != len(m.Lower) {
			return errors.New("overlay: link names do not match the layers")
		}
		lower = m.Links
	}
	for _, p := range append(append([]string{}, lower...), m.Upper, m.Work) {
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay: path %q contains ':' or ',' (not allowed in mount(2) options)", p)
		}
	}
	data := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + m.Upper + ",workdir=" + m.Work
	if len(data) >= os.Getpagesize() {
		return fmt.Errorf("overlay: mount options are %d bytes, over the page size %d (%d layers)", len(data), os.Getpagesize(), len(lower))
	}
	if m.LinkDir != "" {
		cwd, err := os.Open(".")
		if err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
		defer func() {
			_ = unix.Fchdir(int(cwd.Fd()))
			cwd.Close()
		}()
		if err := unix.Chdir(m.LinkDir); err != nil {
			return fmt.Errorf("overlay: chdir %s: %w", m.LinkDir, err)
		}
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		return fmt.Errorf("overlay: mount on %s: %w", target, err)
	}
	return nil
}

// MountRootfs mounts the overlay on rootfs from inside a new mount
// namespace (the container init's): / becomes rslave first, so the mount
// never propagates to the host, and it goes away with the namespace.
// rootfs.Prepare then bind-mounts it onto itself like any rootfs.
func (m *Mount) MountRootfs(rootfs string) error {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("overlay: making / rslave: %w", err)
	}
	return m.MountAt(rootfs)
}
