package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
)

// volumeDir is where an emptyDir lives: <DataDir>/<uid>/volumes/<name>.
func (sb *Sandbox) volumeDir(name string) string {
	return filepath.Join(sb.DataDir, "volumes", name)
}

// makeVolumes creates the emptyDirs (a tmpfs for medium Memory, sized by
// sizeLimit) and checks the hostPaths per their type, creating those of
// the *OrCreate types.
func (m *Manager) makeVolumes(sb *Sandbox) error {
	for i, v := range sb.Pod.Spec.Volumes {
		field := fmt.Sprintf("spec.volumes[%d]", i)
		switch {
		case v.EmptyDir != nil:
			dir := sb.volumeDir(v.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("%s.emptyDir: %w", field, err)
			}
			if v.EmptyDir.Medium == manifest.StorageMediumMemory {
				opts := "mode=0777"
				if v.EmptyDir.SizeLimit != "" {
					n, err := manifest.ParseBytes(v.EmptyDir.SizeLimit)
					if err != nil {
						return fmt.Errorf("%s.emptyDir.sizeLimit: %w", field, err)
					}
					opts += fmt.Sprintf(",size=%d", n)
				}
				if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
					return fmt.Errorf("%s.emptyDir: mounting tmpfs: %w", field, err)
				}
			} else if err := os.Chmod(dir, 0o777); err != nil { // kubelet's emptyDir mode
				return fmt.Errorf("%s.emptyDir: %w", field, err)
			}
			if sc := sb.Pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
				if err := setVolumeOwnership(dir, *sc.FSGroup, sc.FSGroupChangePolicy, false); err != nil {
					return fmt.Errorf("%s.emptyDir: fsGroup: %w", field, err)
				}
			}
		case v.HostPath != nil:
			if err := checkHostPath(v.HostPath); err != nil {
				return fmt.Errorf("%s.hostPath: %w", field, err)
			}
		default:
			return fmt.Errorf("%s: no supported volume source (emptyDir, hostPath)", field)
		}
	}
	return nil
}

// checkHostPath applies a hostPath's type check, as kubelet's hostPath
// volume plugin: the *OrCreate types create what is missing.
func checkHostPath(h *manifest.HostPathVolumeSource) error {
	t := manifest.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	if !filepath.IsAbs(h.Path) {
		return fmt.Errorf("path %q is not absolute", h.Path)
	}
	st, err := os.Stat(h.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	is := func(mode os.FileMode) bool { return exists && st.Mode().Type() == mode }
	fail := func(what string) error { return fmt.Errorf("type %s: %s is not %s", t, h.Path, what) }
	switch t {
	case manifest.HostPathUnset:
		return nil
	case manifest.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(h.Path, 0o755)
		}
		if !st.IsDir() {
			return fail("a directory")
		}
	case manifest.HostPathDirectory:
		if !exists || !st.IsDir() {
			return fail("an existing directory")
		}
	case manifest.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if !st.Mode().IsRegular() {
			return fail("a file")
		}
	case manifest.HostPathFile:
		if !exists || !st.Mode().IsRegular() {
			return fail("an existing file")
		}
	case manifest.HostPathSocket:
		if !is(os.ModeSocket) {
			return fail("a socket")
		}
	case manifest.HostPathCharDev:
		if !is(os.ModeDevice | os.ModeCharDevice) {
			return fail("a character device")
		}
	case manifest.HostPathBlockDev:
		if !is(os.ModeDevice) {
			return fail("a block device")
		}
	default:
		return fmt.Errorf("type: unknown type %q", t)
	}
	return nil
}

// volumeMounts are the bind mounts of a container's volumeMounts; subPath
// is resolved inside the volume (symlinks cannot lead out of it) and
// created as a directory when missing, as kubelet does.
func volumeMounts(sb *Sandbox, c *manifest.Container, field string) ([]specs.Mount, error) {
	vols := map[string]*manifest.Volume{}
	for i := range sb.Pod.Spec.Volumes {
		vols[sb.Pod.Spec.Volumes[i].Name] = &sb.Pod.Spec.Volumes[i]
	}
	var out []specs.Mount
	for i, vm := range c.VolumeMounts {
		f := fmt.Sprintf("%s.volumeMounts[%d]", field, i)
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("%s.name: no volume %q", f, vm.Name)
		}
		src := ""
		switch {
		case v.EmptyDir != nil:
			src = sb.volumeDir(v.Name)
		case v.HostPath != nil:
			src = v.HostPath.Path
		}
		if vm.SubPath != "" {
			p, err := securejoin.SecureJoin(src, vm.SubPath)
			if err != nil {
				return nil, fmt.Errorf("%s.subPath: %w", f, err)
			}
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				if err := mkdirLike(src, p); err != nil {
					return nil, fmt.Errorf("%s.subPath: %w", f, err)
				}
				// Resolve again: a symlink may have raced in.
				if p, err = securejoin.SecureJoin(src, vm.SubPath); err != nil {
					return nil, fmt.Errorf("%s.subPath: %w", f, err)
				}
			}
			src = p
		}
		opts := []string{"rbind", "rprivate"}
		if vm.ReadOnly {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: vm.MountPath, Type: "bind", Source: src, Options: opts})
	}
	return out, nil
}

// mkdirLike creates dir (inside root) and its missing parents with the
// mode of root, as kubelet does for a subPath: an emptyDir's 0777 stays
// writable for a non-root container.
func mkdirLike(root, dir string) error {
	st, err := os.Stat(root)
	if err != nil {
		return err
	}
	var missing []string
	for d := dir; d != root && strings.HasPrefix(d, root+"/"); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range missing {
		// fchmod through an O_NOFOLLOW fd: a symlink swapped in by a
		// container sharing the volume is not followed to the host.
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Fchmod(fd, uint32(st.Mode().Perm()))
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// unmountUnder detaches every mount at or below dir (emptyDir tmpfs),
// deepest first, so RemoveAll cannot walk into a mounted file system.
func unmountUnder(dir string) error {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i].Mountpoint) > len(ms[j].Mountpoint) })
	var errs []error
	for _, mnt := range ms {
		if mnt.Mountpoint != dir && !strings.HasPrefix(mnt.Mountpoint, dir+"/") {
			continue
		}
		if err := unix.Unmount(mnt.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mnt.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
