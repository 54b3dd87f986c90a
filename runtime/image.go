package runtime

import (
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/overlay"
)

// acquireImage sets up the rootfs of a bundle written by `podrun bundle
// --image`: its annotations name an image store and layers. The store
// records the container's use of the layers and makes its upper and work
// dirs; the init mounts the overlay at the rootfs inside its own mount
// namespace (so nothing is mounted on the host, and the mount vanishes
// with the namespace). destroy releases the use. A bundle without the
// annotations gets nil.
func (r *Runtime) acquireImage(spec *specs.Spec, id string) (*overlay.Mount, *image.ContainerUse, error) {
	store, imgID, layers, ok, err := image.FromAnnotations(spec.Annotations)
	if !ok || err != nil {
		return nil, nil, err
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
			case specs.UserNamespace:
				return nil, nil, errors.New("image rootfs: user namespaces are not supported with image layers yet (overlayfs's trusted.* xattrs)")
			}
		}
	}
	if !mountNS {
		return nil, nil, errors.New("image rootfs: needs a mount namespace (linux.namespaces)")
	}
	s, err := image.Open(store)
	if err != nil {
		return nil, nil, err
	}
	root, err := filepath.Abs(r.Root)
	if err != nil {
		return nil, nil, err
	}
	m, use, err := s.Acquire(imgID, layers, root, id)
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
