package systemd

import (
	"fmt"
	"strings"

	"github.com/podrun/podrun/cgroups"
)

// DefaultSlice and DefaultPrefix stand in for an empty slice or prefix part
// of linux.cgroupsPath (and an empty cgroupsPath is ":podrun:<id>").
const (
	DefaultSlice  = "system.slice"
	DefaultPrefix = "podrun"
)

// unitNameMax is systemd's UNIT_NAME_MAX less the terminating NUL.
const unitNameMax = 255

// unitSpec is a parsed systemd cgroupsPath.
type unitSpec struct {
	slice string // the parent slice, e.g. "kubepods-besteffort-pod1.slice"
	unit  string // the unit, e.g. "cri-containerd-abc.scope" or "x-y.slice"
	path  string // the unit's cgroup, from the hierarchy root: "/a.slice/a-b.slice/u.scope"
}

func (u unitSpec) isSlice() bool { return strings.HasSuffix(u.unit, ".slice") }

// parseCgroupsPath resolves a systemd linux.cgroupsPath "slice:prefix:name"
// for container id, like runc's systemd driver:
//
//   - "" is "system.slice:podrun:<id>";
//   - an empty slice is system.slice, an empty name is the container id;
//   - the unit is the scope "<prefix>-<name>.scope" ("<name>.scope" when
//     the prefix is empty), or, when name ends in ".slice", that slice (a
//     child of the slice part: its name must extend the slice's name);
//   - the cgroup is the expanded slice plus the unit: "a-b.slice:p:n" is
//     /a.slice/a-b.slice/p-n.scope.
//
// Characters that systemd does not allow in unit names are escaped as
// systemd-escape does ("+" becomes `\x2b`). It is a pure function.
func parseCgroupsPath(cgroupsPath, id string) (unitSpec, error) {
	slice, prefix, name := "", DefaultPrefix, ""
	if cgroupsPath != "" {
		parts := strings.Split(cgroupsPath, ":")
		if len(parts) != 3 {
			return unitSpec{}, fmt.Errorf(`%w: want "slice:prefix:name" for the systemd cgroup driver`, cgroups.ErrInvalidPath)
		}
		slice, prefix, name = parts[0], parts[1], parts[2]
	}
	if slice == "" {
		slice = DefaultSlice
	}
	if name == "" {
		name = id
	}
	if name == "" {
		return unitSpec{}, fmt.Errorf("%w: no unit name and no container id", cgroups.ErrInvalidPath)
	}
	slicePath, err := ExpandSlice(slice)
	if err != nil {
		return unitSpec{}, err
	}
	var u unitSpec
	if strings.HasSuffix(name, ".slice") {
		// A slice's place follows from its own name, so it must be a
		// child of the slice part.
		p, err := ExpandSlice(name)
		if err != nil {
			return unitSpec{}, err
		}
		if parentOf(p) != slicePath {
			return unitSpec{}, fmt.Errorf("%w: slice %q is not a child of %q", cgroups.ErrInvalidPath, name, slice)
		}
		u = unitSpec{slice: slice, unit: name, path: p}
	} else {
		unit := escapeUnitName(name) + ".scope"
		if prefix != "" {
			unit = escapeUnitName(prefix) + "-" + unit
		}
		u = unitSpec{slice: slice, unit: unit, path: strings.TrimSuffix(slicePath, "/") + "/" + unit}
	}
	if len(u.unit) > unitNameMax {
		return unitSpec{}, fmt.Errorf("%w: unit name %q is longer than %d bytes", cgroups.ErrInvalidPath, u.unit, unitNameMax)
	}
	return u, nil
}

// ExpandSlice returns the cgroup directory of a systemd slice, from the
// hierarchy root, following systemd's slice naming: each "-" opens a
// level, so "a-b-c.slice" is "/a.slice/a-b.slice/a-b-c.slice", and the
// root slice "-.slice" is "/".
func ExpandSlice(slice string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: invalid slice name %q: %s", cgroups.ErrInvalidPath, slice, why)
	}
	name, ok := strings.CutSuffix(slice, ".slice")
	switch {
	case !ok:
		return bad(`no ".slice" suffix`)
	case name == "-":
		return "/", nil
	case name == "":
		return bad("empty")
	case strings.ContainsRune(name, '/'):
		return bad(`contains "/"`)
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--"):
		return bad(`empty "-" component`)
	}
	for _, c := range []byte(name) {
		if !validUnitChar(c) {
			return bad(fmt.Sprintf("character %q not allowed in a unit name", c))
		}
	}
	var b strings.Builder
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '-' {
			b.WriteString("/" + name[:i] + ".slice")
		}
	}
	return b.String(), nil
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// validUnitChar reports whether systemd allows c in a unit name (besides
// the "@" of templates, which a transient unit cannot use).
func validUnitChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '-' || c == '_' || c == '.' || c == '\\'
}

// escapeUnitName escapes the bytes of s that a unit name cannot hold as
// \xHH, like systemd-escape; "\" itself is escaped so the result is
// unambiguous. A leading "." is escaped too (systemd refuses it).
func escapeUnitName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if validUnitChar(c) && c != '\\' && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, `\x%02x`, c)
	}
	return b.String()
}
