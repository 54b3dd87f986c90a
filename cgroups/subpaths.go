// subpaths.go resolves `exec --cgroup` sub-cgroups (SubPaths).

package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// SubPaths returns the directories of `exec --cgroup` sub-cgroups: paths
// (a container's Paths) with each hierarchy named by args moved to the
// sub-cgroup below the container's, as runc 1.1 does. An arg is
// "<controller>[,<controller>...]:<path>" or, alone, "<path>" for every
// hierarchy (the only form cgroup v2 has). Hierarchies not named keep the
// container's directory; co-mounted controllers (cpu,cpuacct) share a
// directory, so naming one moves them all. Keys that are not directories
// (those listed in skip) are dropped. The sub-cgroups must exist; that is
// for the caller to find.
func SubPaths(paths map[string]string, args []string, skip ...string) (map[string]string, error) {
	out := make(map[string]string, len(paths))
	for k, p := range paths {
		out[k] = p
	}
	for _, k := range skip {
		delete(out, k)
	}
	moved := map[string]string{} // container directory -> sub path given
	move := func(base, sub string) error {
		if prev, ok := moved[base]; ok {
			if prev == sub {
				return nil
			}
			return fmt.Errorf("invalid --cgroup argument: %s and %s for the same hierarchy", prev, sub)
		}
		dir := path.Join(base, sub)
		if dir != base && !strings.HasPrefix(dir, base+"/") {
			return fmt.Errorf("%s is not a sub cgroup path", sub)
		}
		moved[base] = sub
		for k, p := range paths {
			if _, ok := out[k]; ok && p == base {
				out[k] = dir
			}
		}
		return nil
	}
	for _, a := range args {
		cs := strings.SplitN(a, ":", 3)
		switch {
		case len(cs) > 2:
			return nil, fmt.Errorf("invalid --cgroup argument: %s", a)
		case len(cs) == 1 && len(args) != 1:
			return nil, fmt.Errorf("invalid --cgroup argument: %s (missing <controller>: prefix)", a)
		case len(cs) == 1:
			var bases []string
			for k := range out {
				bases = append(bases, paths[k])
			}
			for _, b := range bases {
				if err := move(b, a); err != nil {
					return nil, err
				}
			}
		default:
			for _, ctrl := range strings.Split(cs[0], ",") {
				if _, ok := out[ctrl]; !ok {
					return nil, fmt.Errorf("unknown controller %s in --cgroup %s", ctrl, a)
				}
				if err := move(paths[ctrl], cs[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}
