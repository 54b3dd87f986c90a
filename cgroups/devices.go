// devices.go is the glue to package cgroups/devices for
// linux.resources.devices: the check of each entry, and the rules applied
// through the v1 devices hierarchy or a v2 eBPF program.

package cgroups

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/cgroups/devices"
)

// applyDevicesV1 and applyDevicesV2 apply linux.resources.devices: through
// the devices hierarchy's directory on v1, an eBPF program attached to the
// cgroup directory on v2 (package cgroups/devices). Variables, so that
// tests can stand in for them.
var (
	applyDevicesV1 = devices.ApplyV1
	applyDevicesV2 = devices.ApplyV2
)

func validateDevices(r *specs.LinuxResources, _ *hostEnv) error {
	for i, d := range r.Devices {
		f := fmt.Sprintf("devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fieldErr(f+".type", "%q: want a, b or c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(f+".access", "%q: want a combination of r, w and m", d.Access)
		}
		if (d.Major != nil && *d.Major < -1) || (d.Minor != nil && *d.Minor < -1) {
			return fieldErr(f, "negative device number")
		}
	}
	// The rest as ApplyV1/ApplyV2 see it; its error names the entry.
	return devices.Validate(r.Devices)
}

func devicesNeeded(r *specs.LinuxResources) bool { return len(r.Devices) > 0 }

func setDevicesV1(dir string, r *specs.LinuxResources) error {
	if err := applyDevicesV1(dir, r.Devices); err != nil {
		return &ResourceError{Field: "devices", Err: err}
	}
	return nil
}

func setDevicesV2(dir string, r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	if err := applyDevicesV2(dir, r.Devices); err != nil {
		return &ResourceError{Field: "devices", Err: err}
	}
	return nil
}
