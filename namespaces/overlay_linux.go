package namespaces

import (
	"errors"
	"os"

	"github.com/podrun/podrun/overlay"
)

// SendConfigWithMount sends the child its configuration with mnt, an
// overlay made by the runtime (overlay.Mount.MakeDetached), attached to
// the message; the init attaches it at its rootfs.
func (c *Child) SendConfigWithMount(cfg *InitConfig, mnt *os.File) error {
	pl, err := newPlan(cfg)
	if err != nil {
		return err
	}
	return c.conn.sendFd(message{Type: msgConfig, Plan: pl}, mnt)
}

// mountOverlay mounts an image rootfs in the init: the overlay it was
// sent, or one it makes itself.
func mountOverlay(c *conn, cfg *Plan) error {
	if !cfg.Overlay.Detached {
		return cfg.Overlay.MountRootfs(cfg.Rootfs)
	}
	mnt, ok := c.r.takeFd()
	if !ok {
		return errors.New("image rootfs: the runtime sent no overlay mount")
	}
	defer mnt.Close()
	return overlay.Attach(mnt, cfg.Rootfs)
}
