package rootfs

import (
	"fmt"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate checks, without touching any file, what Prepare and Enter would
// refuse in the spec: mount options and sources, linux.devices,
// linux.rootfsPropagation, masked and readonly paths. The runtime calls it
// before anything of the container exists, so a bad value leaves nothing
// behind; errors name the field.
func Validate(spec *specs.Spec) error {
	c := &Config{Spec: spec}
	for i, m := range spec.Mounts {
		if _, err := c.parseMount(m); err != nil {
			return fmt.Errorf("mounts[%d] (%q): %w", i, m.Destination, err)
		}
	}
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
