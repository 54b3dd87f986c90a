package runtime

import (
	"encoding/json"
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeSpec decodes config.json's bytes as json.Unmarshal into a
// specs.Spec would, but meets only the types the document has. The first
// decode of a struct type makes encoding/json build the encoder of every
// type reachable from it: for specs.Spec that is the whole spec, Windows,
// Solaris, VM, z/OS and FreeBSD parts too, ~0.3 ms of a create's CPU on these
// machines (cold, median of 30 processes: 0.89 -> 0.61 ms). So the top
// level and linux are first decoded into mirrors (specTop, specLinux)
// whose larger members stay raw, and each member present is decoded into
// its own type then. TestSpecMirrors holds the mirrors to specs-go.
func decodeSpec(b []byte) (*specs.Spec, error) {
	var t specTop
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	s := &specs.Spec{Version: t.Version, Hostname: t.Hostname, Domainname: t.Domainname, Annotations: t.Annotations}
	err := firstErr(
		member("process", t.Process, &s.Process),
		member("root", t.Root, &s.Root),
		member("mounts", t.Mounts, &s.Mounts),
		member("hooks", t.Hooks, &s.Hooks),
		member("solaris", t.Solaris, &s.Solaris),
		member("windows", t.Windows, &s.Windows),
		member("vm", t.VM, &s.VM),
		member("zos", t.ZOS, &s.ZOS),
		member("freebsd", t.FreeBSD, &s.FreeBSD),
	)
	if err != nil {
		return nil, err
	}
	var l specLinux
	present := false
	for _, raw := range t.Linux {
		if string(raw) == "null" { // a later linux starts afresh
			l, present = specLinux{}, false
			continue
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, prefixed("linux", err)
		}
		present = true
	}
	if !present {
		return s, nil
	}
	s.Linux = &specs.Linux{UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings, Sysctl: l.Sysctl,
		CgroupsPath: l.CgroupsPath, Namespaces: l.Namespaces, Devices: l.Devices,
		RootfsPropagation: l.RootfsPropagation, MaskedPaths: l.MaskedPaths,
		ReadonlyPaths: l.ReadonlyPaths, MountLabel: l.MountLabel}
	err = firstErr(
		member("linux.resources", l.Resources, &s.Linux.Resources),
		member("linux.netDevices", l.NetDevices, &s.Linux.NetDevices),
		member("linux.seccomp", l.Seccomp, &s.Linux.Seccomp),
		member("linux.intelRdt", l.IntelRdt, &s.Linux.IntelRdt),
		member("linux.memoryPolicy", l.MemoryPolicy, &s.Linux.MemoryPolicy),
		member("linux.personality", l.Personality, &s.Linux.Personality),
		member("linux.timeOffsets", l.TimeOffsets, &s.Linux.TimeOffsets),
	)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// rawParts is a member kept raw: each time it occurs in the object (a key
// may repeat, in any case), so that decoding them in order into the
// member's type merges them as json.Unmarshal does.
type rawParts []json.RawMessage

func (r *rawParts) UnmarshalJSON(b []byte) error {
	*r = append(*r, append(json.RawMessage(nil), b...))
	return nil
}

// member decodes the parts of the member name into dst, a pointer to it.
func member(name string, parts rawParts, dst any) error {
	for _, raw := range parts {
		if err := json.Unmarshal(raw, dst); err != nil {
			return prefixed(name, err)
		}
	}
	return nil
}

// specTop is specs.Spec with its larger members raw.
type specTop struct {
	Version     string            `json:"ociVersion"`
	Process     rawParts          `json:"process,omitempty"`
	Root        rawParts          `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      rawParts          `json:"mounts,omitempty"`
	Hooks       rawParts          `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       rawParts          `json:"linux,omitempty"`
	Solaris     rawParts          `json:"solaris,omitempty"`
	Windows     rawParts          `json:"windows,omitempty"`
	VM          rawParts          `json:"vm,omitempty"`
	ZOS         rawParts          `json:"zos,omitempty"`
	FreeBSD     rawParts          `json:"freebsd,omitempty"`
}

// specLinux is specs.Linux with its larger members raw.
type specLinux struct {
	UIDMappings       []specs.LinuxIDMapping `json:"uidMappings,omitempty"`
	GIDMappings       []specs.LinuxIDMapping `json:"gidMappings,omitempty"`
	Sysctl            map[string]string      `json:"sysctl,omitempty"`
	Resources         rawParts               `json:"resources,omitempty"`
	CgroupsPath       string                 `json:"cgroupsPath,omitempty"`
	Namespaces        []specs.LinuxNamespace `json:"namespaces,omitempty"`
	Devices           []specs.LinuxDevice    `json:"devices,omitempty"`
	NetDevices        rawParts               `json:"netDevices,omitempty"`
	Seccomp           rawParts               `json:"seccomp,omitempty"`
	RootfsPropagation string                 `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string               `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string               `json:"readonlyPaths,omitempty"`
	MountLabel        string                 `json:"mountLabel,omitempty"`
	IntelRdt          rawParts               `json:"intelRdt,omitempty"`
	MemoryPolicy      rawParts               `json:"memoryPolicy,omitempty"`
	Personality       rawParts               `json:"personality,omitempty"`
	TimeOffsets       rawParts               `json:"timeOffsets,omitempty"`
}

// firstErr is the first of errs that is not nil: the one error a decode
// of the whole document would return.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// prefixed puts name in front of the field a type error names, so that it
// reads as a decode of the whole document would ("process.user.uid").
func prefixed(name string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			te.Field = name
		} else {
			te.Field = name + "." + te.Field
		}
	}
	return err
}
