// Package rootfs prepares a container's root filesystem (propagation, spec
// mounts, devices) inside the init's new mount namespace and then jails the
// init in it (pivot_root, masked/readonly paths, read-only root) like runc.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/lsm"
)

// Config describes the rootfs to prepare. The same Config must be passed to
// Prepare and then to Enter.
type Config struct {
	// Rootfs is the absolute host path of the root filesystem (root.path
	// already resolved against the bundle).
	Rootfs string
	// BundleDir is the bundle directory; relative bind-mount sources are
	// resolved against it.
	BundleDir string
	// Spec supplies mounts, root.readonly and the linux devices, masked and
	// readonly paths, rootfsPropagation and namespaces.
	Spec *specs.Spec
	// MountFds, when set, has one entry per Spec.Mounts: -1, or the fd of
	// a detached copy of a bind mount's source (open_tree with
	// OPEN_TREE_CLONE, recursive for rbind) that the runtime made before
	// the init entered its user namespace, from where the source's path
	// may not be reachable (runc's mountFds). Prepare attaches it at the
	// destination instead of bind-mounting the path, and closes every one
	// of them: they reach host paths, and the container could find them
	// in the init (/proc/1/fd).
	MountFds []int
	// NoPivot moves the rootfs onto "/" and chroots instead of pivot_root
	// (runc's --no-pivot).
	NoPivot bool
	// SharedMountNS: the container has no mount namespace of its own and
	// the mounts are made in the runtime's, as runc does. Prepare then
	// leaves the propagation of / and of the rootfs's parent alone (they
	// are the host's), and Enter chroots into the rootfs. The rootfs bind
	// mount on itself holds every mount, so one detaching unmount of the
	// rootfs removes them (the runtime does at delete); masked and
	// readonly paths are refused before (they would be host paths).
	SharedMountNS bool
}

// mnt is a spec mount with its options parsed and its source resolved.
type mnt struct {
	source string
	// tree is the fd of a detached copy of source to attach (see
	// Config.MountFds), or 0 for none (fds 0-2 are stdio).
	tree   int
	dest   string // cleaned, absolute container path
	fstype string
	opts   mountOptions
	// ignored are the filesystem options of a bind mount, which mount(2)
	// ignores for MS_BIND; runc passes them on, podrun drops them with a
	// warning (see Validate).
	ignored []string
}

func (c *Config) rootfsPath() (string, error) {
	if c == nil || c.Spec == nil {
		return "", errors.New("rootfs: no spec")
	}
	if !filepath.IsAbs(c.Rootfs) {
		return "", fmt.Errorf("rootfs path %q is not absolute", c.Rootfs)
	}
	p, err := filepath.EvalSymlinks(c.Rootfs)
	if err != nil {
		return "", fmt.Errorf("rootfs: %w", err)
	}
	return filepath.Clean(p), nil
}

func (c *Config) rootPropagation() (uintptr, error) {
	if c.Spec.Linux == nil {
		return 0, nil
	}
	prop, err := parseRootfsPropagation(c.Spec.Linux.RootfsPropagation)
	if err != nil {
		return 0, err
	}
	if c.NoPivot && prop&unix.MS_PRIVATE != 0 {
		return 0, errors.New("rootfsPropagation of [r]private is not safe without pivot_root")
	}
	return prop, nil
}

func (c *Config) hasNamespace(t specs.LinuxNamespaceType) bool {
	if c.Spec.Linux == nil {
		return false
	}
	for _, ns := range c.Spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func (c *Config) parseMount(m specs.Mount) (mnt, error) {
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return mnt{}, err
	}
	if m.Type == "bind" {
		o.flags |= unix.MS_BIND
	}
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return mnt{}, errors.New("uidMappings/gidMappings (id-mapped mounts) are not supported")
	}
	dest := m.Destination
	if dest == "" {
		return mnt{}, errors.New("mount destination is empty")
	}
	if !path.IsAbs(dest) {
		dest = "/" + dest // runc's behaviour for relative destinations
	}
	res := mnt{source: m.Source, dest: path.Clean(dest), fstype: m.Type, opts: o}
	if o.isBind() {
		res.ignored, res.opts.data = o.data, nil
		if res.source == "" {
			return mnt{}, errors.New("bind mount has no source")
		}
		if !filepath.IsAbs(res.source) {
			res.source = filepath.Join(c.BundleDir, res.source)
		}
	}
	if o.copyUp && (o.isBind() || m.Type != "tmpfs") {
		return mnt{}, errors.New(`mount option "tmpcopyup" is only valid for tmpfs`)
	}
	// linux.mountLabel labels the filesystems podrun makes (validated to
	// be set only where SELinux is enabled).
	if l := c.Spec.Linux; l != nil && l.MountLabel != "" && !o.isBind() && lsm.Labelable(m.Type) {
		res.opts.data = append(slices.Clip(res.opts.data), lsm.MountContext(l.MountLabel))
	}
	return res, nil
}

// IsBindMount reports whether a spec mount is a bind mount as the init
// reads it: type "bind" or a bind/rbind option.
func IsBindMount(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// needsSetupDev reports whether the default /dev content must be created:
// runc's rule is "unless /dev is a bind mount".
func needsSetupDev(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if IsBindMount(m) && path.Clean("/"+m.Destination) == "/dev" {
			return false
		}
	}
	return true
}

func mountErr(m specs.Mount, err error) error {
	return fmt.Errorf("error mounting %q to rootfs at %q: %w", m.Source, m.Destination, err)
}

// Prepare runs before pivot_root, in the init's new mount namespace. It
// makes / rslave (or linux.rootfsPropagation) so nothing propagates to the
// host, makes the rootfs's parent mount private, bind-mounts the rootfs
// onto itself, performs the spec mounts in order (destinations are resolved
// inside the rootfs, never through a symlink out of it) and, unless /dev is
// a bind mount, creates the default and linux.devices nodes, /dev/ptmx and
// the /dev symlinks. Mount option errors are reported before anything is
// mounted.
func Prepare(c *Config) error {
	defer func() {
		for _, fd := range c.MountFds {
			if fd > 2 {
				unix.Close(fd)
			}
		}
	}()
	rootfs, err := c.rootfsPath()
	if err != nil {
		return err
	}
	prop, err := c.rootPropagation()
	if err != nil {
		return err
	}
	mounts := make([]mnt, len(c.Spec.Mounts))
	for i, m := range c.Spec.Mounts {
		if mounts[i], err = c.parseMount(m); err != nil {
			return mountErr(m, err)
		}
		if i < len(c.MountFds) && c.MountFds[i] > 2 && mounts[i].opts.isBind() {
			mounts[i].tree = c.MountFds[i]
		}
	}
	setupDev := needsSetupDev(c.Spec)
	var devs []device
	if setupDev {
		if devs, err = deviceList(c.Spec); err != nil {
			return fmt.Errorf("error creating device nodes: %w", err)
		}
	}

	if c.SharedMountNS {
		if err := unix.Mount(rootfs, rootfs, "bind", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("error preparing rootfs: bind-mount %q onto itself: %w", rootfs, err)
		}
		return c.populate(rootfs, mounts, setupDev, devs)
	}
	// Propagation first: from here on, nothing we mount reaches the host.
	flag := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if prop != 0 {
		flag = prop
	}
	if flag&unix.MS_UNBINDABLE != 0 {
		// An unbindable tree would refuse the rootfs bind mount below:
		// start private and let Enter make the new root unbindable.
		flag = unix.MS_PRIVATE | flag&unix.MS_REC
	}
	if err := unix.Mount("", "/", "", flag, ""); err != nil {
		return fmt.Errorf("error preparing rootfs: set propagation of /: %w", err)
	}
	if err := rootfsParentMountPrivate(rootfs); err != nil {
		return fmt.Errorf("error preparing rootfs: %w", err)
	}
	if err := unix.Mount(rootfs, rootfs, "bind", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("error preparing rootfs: bind-mount %q onto itself: %w", rootfs, err)
	}
	return c.populate(rootfs, mounts, setupDev, devs)
}

// populate performs the spec mounts and creates the device nodes in the
// rootfs bind mount.
func (c *Config) populate(rootfs string, mounts []mnt, setupDev bool, devs []device) error {
	r, err := openRoot(rootfs)
	if err != nil {
		return fmt.Errorf("error preparing rootfs: %w", err)
	}
	defer r.Close()
	p := &preparer{
		root:     r,
		userns:   c.hasNamespace(specs.UserNamespace) || runningInUserNS(),
		cgroupns: c.hasNamespace(specs.CgroupNamespace),
	}
	for i := range mounts {
		if err := p.mount(&mounts[i]); err != nil {
			return mountErr(c.Spec.Mounts[i], err)
		}
	}
	if setupDev {
		for _, d := range devs {
			if err := r.createDevice(d, p.userns); err != nil {
				return fmt.Errorf("error creating device nodes: %w", err)
			}
		}
		dev, err := r.mkdirAll("/dev")
		if err != nil {
			return fmt.Errorf("error setting up ptmx: %w", err)
		}
		defer unix.Close(dev)
		if err := r.setupPtmx(dev); err != nil {
			return fmt.Errorf("error setting up ptmx: %w", err)
		}
		if err := r.setupDevSymlinks(dev); err != nil {
			return fmt.Errorf("error setting up /dev symlinks: %w", err)
		}
	}
	return nil
}

// rootfsParentMountPrivate makes the mount containing rootfs private if it
// is shared: pivot_root refuses a shared parent, and the rootfs bind mount
// must not propagate anywhere.
func rootfsParentMountPrivate(rootfs string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(rootfs))
	if err != nil {
		return err
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) > len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil {
		return fmt.Errorf("could not find the parent mount of %s", rootfs)
	}
	for _, opt := range strings.Fields(parent.Optional) {
		if strings.HasPrefix(opt, "shared:") {
			if err := unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make %q private: %w", parent.Mountpoint, err)
			}
			break
		}
	}
	return nil
}

// runningInUserNS reports whether we already are in a non-initial user
// namespace (then mknod is impossible whatever the spec says).
func runningInUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
