package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
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
	objs, err := sb.objects()
	if err != nil {
		return err
	}
	for i, v := range sb.Pod.Spec.Volumes {
		field := fmt.Sprintf("spec.volumes[%d]", i)
		if ok, _ := objectVolume(&v); ok {
			if err := m.makeObjectVolume(sb, &v, objs); err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
			continue
		}
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
		case v.PersistentVolumeClaim != nil:
			dir, err := ensureClaim(sb.ClaimsDir, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return fmt.Errorf("%s.persistentVolumeClaim: %w", field, err)
			}
			if sc := sb.Pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
				if err := setVolumeOwnership(dir, *sc.FSGroup, sc.FSGroupChangePolicy, v.PersistentVolumeClaim.ReadOnly); err != nil {
					return fmt.Errorf("%s.persistentVolumeClaim: fsGroup: %w", field, err)
				}
			}
		default:
			return fmt.Errorf("%s: no supported volume source (emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI, projected)", field)
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

// volumeMounts are the bind mounts of a container's volumeMounts. A
// subPath is opened by fd inside its volume (symlinks and ".." resolve
// inside it, as if it were "/"), created as a directory with the volume's
// mode when missing, as kubelet does, and bind-mounted from that fd onto
// a root-only staging path in st (kubelet's volume-subpaths): the
// container binds the staging path, never a path that a container sharing
// the volume can swap for a symlink between the check and the mount
// (CVE-2017-1002101, CVE-2021-25741).
func volumeMounts(sb *Sandbox, c *manifest.Container, field string, st subPathStage) ([]specs.Mount, error) {
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
		readOnly := vm.ReadOnly
		switch {
		case v.EmptyDir != nil:
			src = sb.volumeDir(v.Name)
		case v.HostPath != nil:
			src = v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			src = claimData(sb.ClaimsDir, v.PersistentVolumeClaim.ClaimName)
		default: // configMap, secret, downwardAPI, projected
			src = sb.volumeDir(v.Name)
			// kubelet mounts them read-only whatever readOnly says.
			readOnly = true
			if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
				// Not made: its payload failed (makeObjectVolume).
				objs, err := sb.objects()
				if err == nil {
					_, err = volumePayload(sb, v, objs)
				}
				if err == nil {
					err = errors.New("volume was not set up")
				}
				return nil, fmt.Errorf("%s: MountVolume.SetUp failed for volume %q : %w", f, v.Name, err)
			}
		}
		if vm.SubPath != "" {
			p, err := st.stage(src, vm.SubPath, i)
			if err != nil {
				return nil, fmt.Errorf("%s.subPath: %w", f, err)
			}
			src = p
		}
		opts := []string{"rbind", "rprivate"}
		if readOnly || (v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly) {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: vm.MountPath, Type: "bind", Source: src, Options: opts})
	}
	return out, nil
}

// subPathStage holds the staging bind mounts of one container's subPaths,
// <DataDir>/volume-subpaths/<container id>/<volumeMounts index>, from
// before its spec is made until runtime.Create has returned: its init has
// bound them into its own mount namespace by then, so release unmounts
// them and removes the directory. Destroy's unmountUnder(DataDir) removes
// any left by a crash.
type subPathStage struct {
	dir string
}

// subPathStageOf is the staging dir of container id (one attempt).
func subPathStageOf(sb *Sandbox, id string) subPathStage {
	return subPathStage{dir: filepath.Join(sb.DataDir, "volume-subpaths", id)}
}

// stage opens subPath inside the volume at root by fd (creating it, as a
// directory with root's mode, when missing) and bind-mounts that fd on the
// staging path of volumeMounts[index], which it returns.
func (st subPathStage) stage(root, subPath string, index int) (string, error) {
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h, err := inroot.Open(r, subPath)
	if errors.Is(err, os.ErrNotExist) {
		var rst unix.Stat_t
		if err := unix.Fstat(int(r.Fd()), &rst); err != nil {
			return "", err
		}
		h, err = inroot.MkdirAll(r, subPath, os.FileMode(rst.Mode&0o777))
	}
	if err != nil {
		return "", err
	}
	defer h.Close()
	isDir := inroot.IsDir(h) == nil
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return "", err
	}
	target := filepath.Join(st.dir, strconv.Itoa(index))
	if isDir {
		err = os.Mkdir(target, 0o700)
	} else {
		var t *os.File
		if t, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600); err == nil {
			err = t.Close()
		}
	}
	if err != nil {
		return "", err
	}
	// The fd is what was resolved inside the volume; /proc/self/fd/N binds
	// exactly that object, whatever the path holds by now.
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(int(h.Fd())), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", &os.PathError{Op: "bind-mount subPath", Path: subPath, Err: err}
	}
	return target, nil
}

// release unmounts and removes the staging mounts.
func (st subPathStage) release() error {
	if _, err := os.Lstat(st.dir); errors.Is(err, os.ErrNotExist) {
		return nil // nothing staged: spare reading the mount table
	}
	if err := unmountUnder(st.dir); err != nil {
		return err
	}
	// volume-subpaths itself stays (Destroy removes it): removing it here
	// could race another container's stage making its own dir in it.
	return os.RemoveAll(st.dir)
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
		if err := unix.Unmount(mnt.Mountpoint, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mnt.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
