package rootfs

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate checks, without touching any file, what Prepare and Enter would
// refuse in the spec: mount options and sources, linux.devices,
// linux.rootfsPropagation, masked and readonly paths. The runtime calls it
// before anything of the container exists, so a bad value leaves nothing
// behind; errors name the field. It returns a warning for each bind mount
// with filesystem options, which Prepare leaves out as mount(2) ignores
// them for a bind (runc accepts and passes them).
func Validate(spec *specs.Spec) (warnings []string, err error) {
	c := &Config{Spec: spec}
	for i, m := range spec.Mounts {
		pm, err := c.parseMount(m)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (%q): %w", i, m.Destination, err)
		}
		if len(pm.ignored) > 0 {
			warnings = append(warnings, fmt.Sprintf("mounts[%d] (%s): ignoring filesystem options %s: a bind mount takes none", i, m.Destination, strings.Join(pm.ignored, ",")))
		}
	}
	return warnings, validateLinux(spec)
}

func validateLinux(spec *specs.Spec) error {
	l := spec.Linux
	if l == nil {
		return nil
	}
	if _, err := parseRootfsPropagation(l.RootfsPropagation); err != nil {
		return fmt.Errorf("linux.rootfsPropagation: %w", err)
	}
	for i, d := range l.Devices {
		if d.Path == "" || !path.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path: %q is not an absolute path", i, d.Path)
		}
	}
	if _, err := deviceList(spec); err != nil {
		return fmt.Errorf("linux.devices: %w", err)
	}
	for _, f := range []struct {
		name  string
		paths []string
	}{{"linux.maskedPaths", l.MaskedPaths}, {"linux.readonlyPaths", l.ReadonlyPaths}} {
		for i, p := range f.paths {
			if !path.IsAbs(p) {
				return fmt.Errorf("%s[%d]: %q is not an absolute path", f.name, i, p)
			}
		}
	}
	return nil
}
