// unified.go is linux.resources.unified (cgroup v2 only): the check of its
// keys, the controllers its keys need enabled, and its files, written
// after every converted setting so that they override them, as in runc.

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// unifiedKeyRe is compiled on first use: only specs with linux.resources.unified
// need it, and every podrun process would pay the compile at package init.
var unifiedKeyRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z_][a-z0-9_]*\.[A-Za-z0-9_.]+$`)
})

func validateUnified(r *specs.LinuxResources, env *hostEnv) error {
	if len(r.Unified) == 0 {
		return nil
	}
	if !env.v2 {
		return &ResourceError{Field: "unified", Err: ErrV1NoUnified}
	}
	for k, v := range r.Unified {
		f := fmt.Sprintf("unified[%q]", k)
		if strings.Contains(k, "/") {
			return fieldErr(f, "must be a file name (no slashes)")
		}
		if !unifiedKeyRe().MatchString(k) || strings.HasSuffix(k, ".") {
			return fieldErr(f, "must be a cgroup file name of the form <controller>.<name>")
		}
		switch k {
		case "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill":
			return fieldErr(f, "is not a resource setting")
		}
		if strings.ContainsRune(v, 0) {
			return fieldErr(f, "value holds a NUL byte")
		}
	}
	return nil
}

// unifiedControllers adds to need the controllers that r.Unified's keys
// name; keys of no controller available to dir must be core files
// ("cgroup.*", "*.pressure") present in dir.
func unifiedControllers(dir string, r *specs.LinuxResources, need map[string]string) error {
	var avail map[string]bool
	for k := range r.Unified {
		ctrl, _, _ := strings.Cut(k, ".")
		if ctrl == "cgroup" {
			continue
		}
		if avail == nil {
			avail = wordSet(filepath.Join(filepath.Dir(dir), "cgroup.controllers"))
		}
		if avail[ctrl] {
			if _, ok := need[ctrl]; !ok {
				need[ctrl] = fmt.Sprintf("unified[%q]", k)
			}
		} else if !fileExists(dir, k) {
			return fieldErr(fmt.Sprintf("unified[%q]", k), "controller %q not available in %s", ctrl, filepath.Dir(dir))
		}
	}
	return nil
}

// setUnified writes r.Unified's files in key order.
func setUnified(dir string, r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := fmt.Sprintf("unified[%q]", k)
		err := writeFile(filepath.Join(dir, k), []byte(r.Unified[k]))
		if errors.Is(err, fs.ErrNotExist) {
			return fieldErr(f, "no such file in %s", dir)
		}
		if err != nil {
			return &ResourceError{Field: f, Err: err}
		}
	}
	return nil
}
