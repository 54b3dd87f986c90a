package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/overlay"
)

// acquireImage sets up an image rootfs: img, the caller's (CreateOpts.Image),
// or else the one the annotations of a bundle written by `podrun bundle
// --image` name. The store records the container's use of the layers and
// makes its upper and work dirs; the init mounts the overlay at the rootfs
// inside its own mount namespace (so nothing is mounted on the host, and
// the mount vanishes with the namespace). destroy releases the use. A
// container without an image rootfs gets nil.
func (r *Runtime) acquireImage(spec *specs.Spec, img *image.Rootfs, id string) (*overlay.Mount, *image.ContainerUse, error) {
	if img == nil && spec.Annotations[image.AnnotationStore] == "" {
		return nil, nil, nil
	}
	mountNS := false
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			switch ns.Type {
			case specs.MountNamespace:
				if ns.Path != "" {
					return nil, nil, errors.New("image rootfs: needs a new mount namespace, not a joined one (the overlay would be mounted in it)")
				}
				mountNS = true
			}
		}
	}
	if !mountNS {
		return nil, nil, errors.New("image rootfs: needs a mount namespace (linux.namespaces)")
	}
	if img == nil {
		var err error
		if img, err = image.RootfsFromAnnotations(spec.Annotations); err != nil {
			return nil, nil, err
		}
	}
	root, err := filepath.Abs(r.Root)
	if err != nil {
		return nil, nil, err
	}
	m, use, err := img.Store.Acquire(img.Image, img.Layers, root, id)
	if err != nil {
		return nil, nil, fmt.Errorf("image rootfs: %w", err)
	}
	return m, use, nil
}

// releaseImage frees the container's upper and work dirs and its use of
// the image's layers.
func (c *Container) releaseImage() error {
	if c.State.Image == nil {
		return nil
	}
	if err := image.Release(c.State.Image); err != nil {
		return err
	}
	c.State.Image = nil
	return nil
}

// sendConfig sends the init its configuration (the caller wraps errors
// with initFailed). An image rootfs in a user
// namespace travels along as an overlay made here, with idmapped layers
// (overlay.Mount.MakeDetached): the init, root of its user namespace only,
// could not use overlayfs's trusted.* xattrs nor read the layers as its
// own files.
func sendConfig(child *namespaces.Child, cfg *namespaces.InitConfig) error {
	ovl := cfg.Overlay
	pid := child.Pid()
	userns := fmt.Sprintf("/proc/%d/ns/user", pid)
	if ovl == nil || sameNS(userns, "/proc/self/ns/user") {
		return child.SendConfig(cfg)
	}
	ns, err := os.Open(userns)
	if err != nil {
		return fmt.Errorf("image rootfs: %w", err)
	}
	defer ns.Close()
	uid, err := hostRoot(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		return err
	}
	gid, err := hostRoot(fmt.Sprintf("/proc/%d/gid_map", pid))
	if err != nil {
		return err
	}
	mnt, err := ovl.MakeDetached(ns, uid, gid)
	if err != nil {
		return fmt.Errorf("image rootfs: %w", err)
	}
	defer mnt.Close()
	ovl.Detached = true
	return child.SendConfigWithMount(cfg, mnt)
}

// sameNS reports whether two namespace files are the same namespace.
func sameNS(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

// hostRoot returns the host id that id 0 of a process's user namespace
// maps to, from its /proc/<pid>/[ug]id_map read from here.
func hostRoot(mapFile string) (int, error) {
	b, err := os.ReadFile(mapFile)
	if err != nil {
		return 0, fmt.Errorf("image rootfs: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "0" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("image rootfs: %s maps no root", mapFile)
}
