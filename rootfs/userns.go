package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What changes for mounts made inside a user namespace (runc's rules):
// filesystems that need the init user namespace (sysfs without a network
// namespace of our own, mqueue without an ipc namespace of our own) are
// bind-mounted from the host instead, and uid=/gid= options must name ids
// the namespace maps.

// idMap is one line of /proc/self/[ug]id_map: ids [inside, inside+count)
// of our namespace.
type idMap struct{ inside, count uint64 }

// readIDMap reads the mappings of the calling process's user namespace.
func readIDMap(path string) ([]idMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []idMap
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) != 3 {
			continue
		}
		in, err1 := strconv.ParseUint(fl[0], 10, 32)
		n, err2 := strconv.ParseUint(fl[2], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, idMap{in, n})
		}
	}
	return out, sc.Err()
}

func mapped(m []idMap, id uint64) bool {
	for _, e := range m {
		if id >= e.inside && id-e.inside < e.count {
			return true
		}
	}
	return false
}

// checkIDOptions checks the uid=/gid= (and uid/gid-like) options of a
// filesystem mount made in a user namespace: the kernel refuses ids the
// namespace does not map with a bare EINVAL. devpts's gid (5, "tty", in
// the default spec) is dropped when unmapped, as runc does for rootless
// containers: the pts nodes then belong to the creating process's group.
// Any other unmapped id is an error naming the option.
func (p *preparer) checkIDOptions(m *mnt) error {
	if !p.userns || m.opts.isBind() {
		return nil
	}
	keep := m.opts.data[:0:0]
	for _, opt := range m.opts.data {
		key, val, ok := strings.Cut(opt, "=")
		var file string
		switch key {
		case "uid":
			file = "/proc/self/uid_map"
		case "gid":
			file = "/proc/self/gid_map"
		}
		if !ok || file == "" {
			keep = append(keep, opt)
			continue
		}
		id, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			keep = append(keep, opt) // the filesystem reports it
			continue
		}
		maps, err := readIDMap(file)
		if err != nil {
			return err
		}
		if mapped(maps, id) {
			keep = append(keep, opt)
			continue
		}
		if m.fstype == "devpts" && key == "gid" {
			continue
		}
		return fmt.Errorf("mount option %q: %s %d is not mapped in the container's user namespace (linux.%sMappings)", opt, key, id, key)
	}
	m.opts.data = keep
	return nil
}

// bindFromHost replaces a filesystem mount that cannot be made in the
// user namespace by a recursive bind mount of the host's copy at source,
// keeping the mount's flags; "ro" applies to the whole tree, submounts
// included (mount_setattr), so that the host's own submounts are not
// writable through it.
func (p *preparer) bindFromHost(m *mnt, source string) error {
	bm := *m
	bm.source, bm.fstype = source, "bind"
	bm.opts.flags |= unix.MS_BIND | unix.MS_REC
	bm.opts.data = nil
	if bm.opts.flags&unix.MS_RDONLY != 0 {
		a := unix.MountAttr{}
		if bm.opts.recAttr != nil {
			a = *bm.opts.recAttr
		}
		a.Attr_set |= unix.MOUNT_ATTR_RDONLY
		bm.opts.recAttr = &a
	}
	return p.bindMount(&bm)
}
