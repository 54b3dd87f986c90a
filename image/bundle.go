package image

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/overlay"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ImageFiles reads /etc/passwd and /etc/group of an image (nil when
// absent); SpecFromImage takes them to resolve the image's User.
type ImageFiles struct {
	Passwd, Group []byte
}

// SpecFromImage turns base (a default runtime spec) into the spec of a
// container of an image: process args (Entrypoint then Cmd), env (the
// image's, with a default PATH when it sets none), cwd, user (resolved in
// the image's /etc/passwd and /etc/group, with the user's supplementary
// groups), a writable root, the image's volumes as tmpfs mounts holding a
// copy of the image's content there (tmpcopyup), and annotations: the
// image's labels, its StopSignal (org.opencontainers.image.stopSignal),
// os and architecture.
func SpecFromImage(base *specs.Spec, c *Config, f ImageFiles) (*specs.Spec, error) {
	s := *base
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	p := *s.Process
	s.Process = &p
	rc := c.Config
	p.Args = append(append([]string{}, rc.Entrypoint...), rc.Cmd...)
	if len(p.Args) == 0 {
		return nil, errors.New("the image has no Entrypoint or Cmd: nothing to run")
	}
	p.Env = append([]string{}, rc.Env...)
	hasPath := false
	for _, e := range p.Env {
		if strings.HasPrefix(e, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		p.Env = append([]string{defaultPath}, p.Env...)
	}
	if p.Terminal {
		p.Env = append(p.Env, "TERM=xterm")
	}
	p.Cwd = "/"
	if rc.WorkingDir != "" {
		if !path.IsAbs(rc.WorkingDir) {
			return nil, fmt.Errorf("image WorkingDir %q is not absolute", rc.WorkingDir)
		}
		p.Cwd = path.Clean(rc.WorkingDir)
	}
	u, err := ResolveUser(rc.User, f.Passwd, f.Group)
	if err != nil {
		return nil, err
	}
	p.User = u
	s.Root = &specs.Root{Path: "rootfs", Readonly: false}

	ann := map[string]string{}
	for k, v := range base.Annotations {
		ann[k] = v
	}
	for k, v := range rc.Labels {
		ann[k] = v
	}
	if rc.StopSignal != "" {
		ann[ocispec.AnnotationStopSignal] = rc.StopSignal
	}
	if c.OS != "" {
		ann["org.opencontainers.image.os"] = c.OS
	}
	if c.Architecture != "" {
		ann["org.opencontainers.image.architecture"] = c.Architecture
	}
	s.Annotations = ann

	vols := make([]string, 0, len(rc.Volumes))
	for v := range rc.Volumes {
		if !path.IsAbs(v) {
			return nil, fmt.Errorf("image volume %q is not an absolute path", v)
		}
		vols = append(vols, path.Clean(v))
	}
	sort.Strings(vols)
	s.Mounts = append([]specs.Mount{}, base.Mounts...)
	for _, v := range vols {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: v, Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=755", "tmpcopyup"},
		})
	}
	return &s, nil
}

type passwdEntry struct {
	name     string
	uid, gid uint32
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid)})
	}
	return out
}

func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out
}

// ResolveUser resolves an image's User ("", "name", "uid", "name:group",
// "uid:gid" and mixes) against its /etc/passwd and /etc/group, as docker
// does: a user name must exist; a numeric uid need not (gid 0 then); a
// group given by name must exist. Without an explicit group the user gets
// the supplementary groups /etc/group lists it in.
func ResolveUser(user string, passwd, group []byte) (specs.User, error) {
	users := parsePasswd(passwd)
	groups := parseGroup(group)
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	if userPart == "" {
		userPart = "0"
	}
	var u specs.User
	name := ""
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range users {
			if e.uid == u.UID {
				u.GID, name = e.gid, e.name
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userPart {
				u.UID, u.GID, name, found = e.uid, e.gid, e.name, true
				break
			}
		}
		if !found {
			return specs.User{}, fmt.Errorf("image user %q: no such user in the image's /etc/passwd", userPart)
		}
	}
	if hasGroup && groupPart != "" {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return specs.User{}, fmt.Errorf("image user %q: no such group %q in the image's /etc/group", user, groupPart)
			}
		}
		return u, nil
	}
	if name != "" {
		for _, g := range groups {
			if g.gid == u.GID {
				continue
			}
			for _, m := range g.members {
				if m == name {
					u.AdditionalGids = append(u.AdditionalGids, g.gid)
					break
				}
			}
		}
	}
	return u, nil
}

// ReadImageFile reads a file of an image through its layers (topmost
// first) as overlayfs would show it: a whiteout or a non-directory on the
// way hides it, an opaque directory on the way hides lower layers.
func (s *Store) ReadImageFile(img *Image, name string) ([]byte, error) {
	dirs := make([]string, 0, len(img.Layers))
	for i := len(img.Layers) - 1; i >= 0; i-- {
		d, err := s.LayerDir(img.Layers[i])
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
	}
	return ReadLayeredFile(dirs, name)
}

// maxImageFile bounds what ReadLayeredFile reads: the image decides the
// size of its /etc/passwd.
const maxImageFile = 4 << 20

// ReadLayeredFile reads name from a stack of layer dirs, topmost first, as
// the image's merged root shows it. Symlinks are followed inside the image
// (an absolute target starts again at the image's root, ".." stops there),
// never on the host: every component is looked at with lstat.
func ReadLayeredFile(dirs []string, name string) ([]byte, error) {
	p := path.Clean("/" + name)
	for hops := 0; hops <= 40; hops++ {
		host, next, err := layeredEntry(dirs, p)
		if err != nil {
			if errors.Is(err, errNotRegular) {
				return nil, fmt.Errorf("%s is not a regular file in the image", name)
			}
			return nil, err
		}
		if host == "" {
			p = next
			continue
		}
		f, err := os.OpenFile(host, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxImageFile+1))
		if err == nil && len(b) > maxImageFile {
			err = fmt.Errorf("%s is larger than %d bytes in the image", name, maxImageFile)
		}
		return b, err
	}
	return nil, fmt.Errorf("%s: too many levels of symbolic links in the image", name)
}

var errNotRegular = errors.New("not a regular file")

// layeredEntry finds image path p (clean, absolute) in the topmost layer
// holding it. It returns the host path of a regular file, or, when a
// component of p is a symlink, the image path p leads to through it.
func layeredEntry(dirs []string, p string) (host, next string, err error) {
	comps := strings.Split(strings.Trim(p, "/"), "/")
	for _, dir := range dirs {
		hp := dir
		opaque := false
		for i, c := range comps {
			hp = filepath.Join(hp, c)
			var st unix.Stat_t
			if err := unix.Lstat(hp, &st); err != nil {
				break // not in this layer: look below
			}
			isWhiteout := st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
			last := i == len(comps)-1
			switch {
			case isWhiteout:
				return "", "", fs.ErrNotExist
			case st.Mode&unix.S_IFMT == unix.S_IFLNK:
				target, err := os.Readlink(hp)
				if err != nil {
					return "", "", err
				}
				if !path.IsAbs(target) {
					target = path.Join("/", path.Join(comps[:i]...), target)
				}
				return "", path.Clean("/" + path.Join(append([]string{target}, comps[i+1:]...)...)), nil
			case last && st.Mode&unix.S_IFMT == unix.S_IFREG:
				return hp, "", nil
			case last:
				return "", "", errNotRegular
			case st.Mode&unix.S_IFMT != unix.S_IFDIR:
				return "", "", fs.ErrNotExist
			}
			buf := make([]byte, 2)
			if n, err := unix.Lgetxattr(hp, overlay.OpaqueXattr, buf); err == nil && string(buf[:n]) == "y" {
				opaque = true
			}
		}
		if opaque {
			return "", "", fs.ErrNotExist
		}
	}
	return "", "", fs.ErrNotExist
}

// WriteBundle writes an OCI bundle for img into dir: config.json (from
// base and the image config, with the annotations that make the runtime
// mount the image's overlay as the rootfs) and an empty rootfs/.
func (s *Store) WriteBundle(img *Image, name string, base *specs.Spec, dir string) (*specs.Spec, error) {
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	for _, l := range img.Layers {
		if !s.hasLayer(l) {
			return nil, fmt.Errorf("image %s: layer %s is missing from the store", img.ShortID(), l)
		}
	}
	var f ImageFiles
	if f.Passwd, err = s.ReadImageFile(img, "/etc/passwd"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if f.Group, err = s.ReadImageFile(img, "/etc/group"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	spec, err := SpecFromImage(base, cfg, f)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	spec.Annotations[AnnotationStore] = s.Dir
	spec.Annotations[AnnotationImage] = img.ID
	spec.Annotations[AnnotationLayers] = strings.Join(img.Layers, ",")
	if name != "" {
		spec.Annotations[AnnotationName] = name
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.json")
	if _, err := os.Stat(cfgPath); err == nil {
		return nil, fmt.Errorf("%s exists: remove it first", cfgPath)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteSync(cfgPath, append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	return spec, nil
}
