package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/namespaces"
)

// checkUserNS checks, for a container with a new user namespace, what
// would otherwise fail deep in the init with a bare EINVAL or EACCES: the
// ids the init and the process need are mapped, and the container's root
// can reach the rootfs on the host.
func checkUserNS(spec *specs.Spec, rootfs string) error {
	l := spec.Linux
	if l == nil || !namespaces.Has(l.Namespaces, specs.UserNamespace) ||
		namespaces.Path(l.Namespaces, specs.UserNamespace) != "" {
		return nil
	}
	hostUID, ok := toHost(l.UIDMappings, 0)
	if !ok {
		return fmt.Errorf("linux.uidMappings: container uid 0 (root, which runs the init) is not mapped")
	}
	hostGID, ok := toHost(l.GIDMappings, 0)
	if !ok {
		return fmt.Errorf("linux.gidMappings: container gid 0 (root, which runs the init) is not mapped")
	}
	u := spec.Process.User
	if _, ok := toHost(l.UIDMappings, u.UID); !ok {
		return fmt.Errorf("process.user.uid: uid %d is not mapped by linux.uidMappings", u.UID)
	}
	if _, ok := toHost(l.GIDMappings, u.GID); !ok {
		return fmt.Errorf("process.user.gid: gid %d is not mapped by linux.gidMappings", u.GID)
	}
	for i, g := range u.AdditionalGids {
		if _, ok := toHost(l.GIDMappings, g); !ok {
			return fmt.Errorf("process.user.additionalGids[%d]: gid %d is not mapped by linux.gidMappings", i, g)
		}
	}
	return rootfsReachable(rootfs, hostUID, hostGID, l)
}

// toHost maps a container id to the host.
func toHost(m []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return e.HostID + id - e.ContainerID, true
		}
	}
	return 0, false
}

// fromHost reports whether a host id is mapped into the container.
func fromHost(m []specs.LinuxIDMapping, id uint32) bool {
	for _, e := range m {
		if id >= e.HostID && id-e.HostID < e.Size {
			return true
		}
	}
	return false
}

// rootfsReachable checks that every directory from / down to the rootfs
// is searchable by the container's root, host uid:gid. Its capabilities
// only count for files whose owner and group both are mapped; otherwise
// it is an ordinary user there, as for pivot_root.
func rootfsReachable(rootfs string, uid, gid uint32, l *specs.Linux) error {
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	p := "/"
	for _, c := range append([]string{""}, strings.Split(strings.TrimPrefix(real, "/"), "/")...) {
		p = filepath.Join(p, c)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("root.path: %w", &os.PathError{Op: "stat", Path: p, Err: err})
		}
		mode := st.Mode & 0o777
		switch {
		case fromHost(l.UIDMappings, st.Uid) && fromHost(l.GIDMappings, st.Gid):
			continue
		case st.Uid == uid:
			if mode&0o100 != 0 {
				continue
			}
		case st.Gid == gid:
			if mode&0o010 != 0 {
				continue
			}
		case mode&0o001 != 0:
			continue
		}
		return fmt.Errorf("root.path: rootfs %s: not accessible to uid %d (container root): %s is mode %04o owned by %d:%d, which the user namespace does not map; chown the rootfs to the mapped ids (chown -R %d:%d) and make its parent directories searchable (chmod o+x), or map the owner in linux.uidMappings/gidMappings",
			rootfs, uid, p, mode, st.Uid, st.Gid, uid, gid)
	}
	return nil
}
