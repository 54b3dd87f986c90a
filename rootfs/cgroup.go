package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

func isCgroup2Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

func (p *preparer) mountCgroup(m *mnt) error {
	if isCgroup2Unified() {
		return p.mountCgroup2(m)
	}
	return p.mountCgroup1(m)
}

// mountCgroup2 mounts cgroup2; if the kernel refuses (user namespace
// without a cgroup namespace) it binds the host hierarchy instead (the
// container's own cgroup when there is a cgroup namespace), like runc.
func (p *preparer) mountCgroup2(m *mnt) error {
	h, err := p.root.target(m.dest, true, "")
	if err != nil {
		return err
	}
	defer unix.Close(h)
	err = mountAt(m.source, h, m.dest, "cgroup2", m.opts.flags, m.opts.dataString())
	if err == nil {
		return p.finish(m)
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
		return err
	}
	bm := *m
	bm.source, bm.fstype = cgroupRoot, "bind"
	bm.opts.flags |= unix.MS_BIND
	bm.opts.data = nil
	if p.cgroupns {
		if own, err := ownCgroups(); err == nil && own[""] != "" {
			bm.source = filepath.Join(cgroupRoot, own[""])
		}
	}
	return p.bindMount(&bm)
}

// mountCgroup1 builds runc's cgroup v1 layout: a tmpfs at the destination
// and one directory per mounted v1 hierarchy below it. With a cgroup
// namespace each hierarchy is mounted afresh (it then shows the
// container's cgroup as its root); without one, the container's own cgroup
// directories are bind-mounted from the host. Co-mounted controllers get
// symlinks (cpu -> cpu,cpuacct).
func (p *preparer) mountCgroup1(m *mnt) error {
	hier, err := cgroupV1Hierarchies()
	if err != nil {
		return err
	}
	tm := mnt{source: "tmpfs", dest: m.dest, fstype: "tmpfs", opts: mountOptions{
		flags:       defaultMountFlags,
		data:        []string{"mode=755"},
		propagation: m.opts.propagation,
	}}
	if err := p.mountTmpfs(&tm); err != nil {
		return err
	}
	for _, hy := range hier {
		dest := path.Join(m.dest, filepath.Base(hy.mountpoint))
		if p.cgroupns {
			flags := uintptr(defaultMountFlags) | m.opts.flags&unix.MS_RDONLY
			source := "cgroup"
			if strings.HasPrefix(hy.controllers, "name=") {
				source = strings.TrimPrefix(hy.controllers, "name=")
			}
			h, err := p.root.target(dest, true, "")
			if err != nil {
				return err
			}
			err = mountAt(source, h, dest, "cgroup", flags, hy.controllers)
			unix.Close(h)
			if err != nil {
				return err
			}
			continue
		}
		bm := mnt{source: hy.ownPath, dest: dest, fstype: "bind", opts: m.opts}
		bm.opts.flags |= unix.MS_BIND | unix.MS_REC
		bm.opts.data = nil
		bm.opts.recAttr = nil
		if err := p.bindMount(&bm); err != nil {
			return err
		}
	}
	dir, err := p.root.open(m.dest)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	for _, hy := range hier {
		base := filepath.Base(hy.mountpoint)
		if !strings.Contains(base, ",") {
			continue
		}
		for _, ss := range strings.Split(base, ",") {
			if err := unix.Symlinkat(base, dir, ss); err != nil && !errors.Is(err, unix.EEXIST) {
				return &os.PathError{Op: "symlink", Path: path.Join(m.dest, ss), Err: err}
			}
		}
	}
	if m.opts.flags&unix.MS_RDONLY != 0 {
		if err := mountAt("", dir, m.dest, "", defaultMountFlags|unix.MS_RDONLY|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
			return err
		}
	}
	return nil
}

type cgroupHierarchy struct {
	mountpoint  string // host mount point, e.g. /sys/fs/cgroup/cpu,cpuacct
	controllers string // as in /proc/self/cgroup: "cpu,cpuacct" or "name=systemd"
	ownPath     string // host path of our own cgroup in that hierarchy
}

// cgroupV1Hierarchies pairs each line of /proc/self/cgroup with the v1
// mount that carries its controllers.
func cgroupV1Hierarchies() ([]cgroupHierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, err
	}
	own, err := ownCgroupLines()
	if err != nil {
		return nil, err
	}
	var out []cgroupHierarchy
	seen := make(map[string]bool)
	for _, l := range own {
		if l.controllers == "" {
			continue // the v2 line of a hybrid host
		}
		for _, mi := range mounts {
			if seen[mi.Mountpoint] || !hasAllOptions(mi.VFSOptions, strings.Split(l.controllers, ",")) {
				continue
			}
			rel, err := filepath.Rel(mi.Root, l.path)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue // our cgroup is not visible through this mount
			}
			seen[mi.Mountpoint] = true
			out = append(out, cgroupHierarchy{
				mountpoint:  mi.Mountpoint,
				controllers: l.controllers,
				ownPath:     filepath.Join(mi.Mountpoint, rel),
			})
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy is mounted")
	}
	return out, nil
}

func hasAllOptions(opts string, want []string) bool {
	have := make(map[string]bool)
	for _, o := range strings.Split(opts, ",") {
		have[o] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

type cgroupLine struct{ controllers, path string }

func ownCgroupLines() ([]cgroupLine, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupLine
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("bad /proc/self/cgroup line %q", s.Text())
		}
		out = append(out, cgroupLine{controllers: parts[1], path: parts[2]})
	}
	return out, s.Err()
}

// ownCgroups maps controller lists ("" for v2) to our cgroup path.
func ownCgroups() (map[string]string, error) {
	lines, err := ownCgroupLines()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, l := range lines {
		m[l.controllers] = l.path
	}
	return m, nil
}
