// paths.go resolves linux.cgroupsPath to the container's directory in
// every hierarchy of the host, and discovers the host's cgroup layout.

package cgroups

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"

	cg "github.com/containerd/cgroups/v3"
	"github.com/moby/sys/mountinfo"
)

// unifiedMountpoint is where a unified (v2 only) host mounts cgroup2.
const unifiedMountpoint = "/sys/fs/cgroup"

// hierarchyMount is one mounted cgroup hierarchy, from mountinfo.
type hierarchyMount struct {
	mountpoint string   // e.g. /sys/fs/cgroup/memory
	root       string   // the hierarchy's directory mounted there, usually "/"
	v2         bool     // cgroup2 (the unified hierarchy)
	opts       []string // v1: superblock options, holding the controllers
}

// host is the cgroup layout of the host, discovered once per process.
type host struct {
	mode   Mode
	mounts []hierarchyMount
}

// currentHost discovers the layout once: the mode with statfs, then, on
// v1/hybrid hosts only, one read of /proc/self/mountinfo.
var currentHost = sync.OnceValues(discoverHost)

func discoverHost() (*host, error) {
	mode := HostMode()
	switch mode {
	case Unavailable:
		return nil, fmt.Errorf("%w: no cgroup filesystem at %s", ErrNotMounted, unifiedMountpoint)
	case Unified:
		// No mountinfo walk: like runc, take the unified mount at
		// /sys/fs/cgroup as showing the whole (namespaced) hierarchy.
		return &host{mode: mode, mounts: []hierarchyMount{{mountpoint: unifiedMountpoint, root: "/", v2: true}}}, nil
	}
	mi, err := readFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseHost(mode, bytes.NewReader(mi))
}

// parseHost reads the cgroup mounts of a v1 or hybrid host from mountinfo
// content. cgroup2 mounts count only on a hybrid host.
func parseHost(mode Mode, mountInfo io.Reader) (*host, error) {
	infos, err := mountinfo.GetMountsFromReader(mountInfo, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	h := &host{mode: mode}
	for _, mi := range infos {
		m := hierarchyMount{mountpoint: mi.Mountpoint, root: mi.Root}
		if mi.FSType == "cgroup2" {
			if mode != Hybrid {
				continue
			}
			m.v2 = true
		} else {
			if mode == Unified {
				continue
			}
			m.opts = strings.Split(mi.VFSOptions, ",")
		}
		h.mounts = append(h.mounts, m)
	}
	return h, nil
}

// resolve computes the container's absolute cgroup directory in every
// hierarchy of h, keyed as in Manager.Paths. own is the content of the
// caller's /proc/self/cgroup. It is a pure function.
func resolve(cgroupsPath, id string, h *host, own []byte) (map[string]string, error) {
	inner, relative, err := innerPath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	ownV1, ownV2, err := cg.ParseCgroupFromReaderUnified(bytes.NewReader(own))
	if err != nil {
		return nil, fmt.Errorf("parse /proc/self/cgroup: %w", err)
	}
	paths := make(map[string]string)
	hidden := make(map[string]error) // hierarchies whose only mounts do not show the caller's cgroup
	add := func(key, ownPath string, m hierarchyMount) {
		if _, done := paths[key]; done {
			return
		}
		if !relative {
			paths[key] = filepath.Join(m.mountpoint, inner)
			return
		}
		rel, err := underRoot(ownPath, m.root)
		if err != nil {
			name := key
			if m.v2 {
				name = "cgroup2"
			}
			hidden[key] = fmt.Errorf("%w: %s (%s mounted at %s)", ErrNotMounted, err, name, m.mountpoint)
			return
		}
		if m.v2 && h.mode == Unified {
			// As runc: on pure v2 a relative path hangs off the PARENT of
			// the caller's cgroup. The caller's own cgroup has processes
			// (at least the caller), so no-internal-processes would forbid
			// enabling controllers for a child of it.
			rel = path.Dir(rel)
		}
		paths[key] = filepath.Join(m.mountpoint, rel, inner)
	}
	for _, m := range h.mounts {
		if m.v2 {
			if ownV2 != "" {
				add(UnifiedKey, ownV2, m)
			}
			continue
		}
		for _, opt := range m.opts {
			if ownPath, ok := ownV1[opt]; ok {
				add(opt, ownPath, m)
			}
		}
	}
	for key, err := range hidden {
		if _, ok := paths[key]; !ok {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: the caller is in no mounted cgroup hierarchy (mode %s)", ErrNotMounted, modeName(h.mode))
	}
	if h.mode == Unified {
		if _, ok := paths[UnifiedKey]; !ok {
			return nil, fmt.Errorf("%w: no cgroup v2 entry in /proc/self/cgroup", ErrNotMounted)
		}
	}
	return paths, nil
}

// innerPath validates cgroupsPath (or, when empty, id) and returns it
// cleaned and absolute ("/a/b"), and whether it is relative to the caller's
// cgroup. Paths that climb above their base with ".." are refused, and so
// are paths that name the base itself (the hierarchy root or the caller's
// own cgroup: Destroy would remove them).
func innerPath(cgroupsPath, id string) (string, bool, error) {
	p := cgroupsPath
	if p == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsRune(id, '/') {
			return "", false, fmt.Errorf("%w: empty, so the container id %q names the cgroup, and it is not a valid directory name", ErrInvalidPath, id)
		}
		p = id
	}
	relative := !strings.HasPrefix(p, "/")
	base := "the caller's cgroup"
	if !relative {
		base = "the hierarchy root"
	}
	depth := 0
	for _, e := range strings.Split(p, "/") {
		switch e {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false, fmt.Errorf("%w: \"..\" escapes %s", ErrInvalidPath, base)
			}
		default:
			depth++
		}
	}
	if depth == 0 {
		return "", false, fmt.Errorf("%w: names %s itself", ErrInvalidPath, base)
	}
	return path.Clean("/" + p), relative, nil
}

// underRoot expresses the cgroup path p (from /proc/self/cgroup) relative
// to the directory root of its hierarchy that a mount shows.
func underRoot(p, root string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.Contains(p+"/", "/../") {
		// A cgroup outside our cgroup namespace shows as "/../x".
		return "", fmt.Errorf("the caller's cgroup %q is outside the cgroup namespace", p)
	}
	switch {
	case root == "/":
		return p, nil
	case p == root:
		return "/", nil
	case strings.HasPrefix(p, root+"/"):
		return p[len(root):], nil
	}
	return "", fmt.Errorf("the caller's cgroup %q is not under the mounted root %q", p, root)
}

// checkLoadedPath sanity-checks a directory from a saved Paths map.
func checkLoadedPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return fmt.Errorf("%w: not a clean absolute directory", ErrInvalidPath)
	}
	return nil
}

func modeName(m Mode) string {
	switch m {
	case Legacy:
		return "v1"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "v2"
	}
	return "unavailable"
}
