package systemd

import (
	"errors"
	"fmt"
	"testing"

	godbus "github.com/godbus/dbus/v5"

	"github.com/podrun/podrun/cgroups"
)

func TestExpandSlice(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-.slice", "/"},
		{"system.slice", "/system.slice"},
		{"a-b.slice", "/a.slice/a-b.slice"},
		{"a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"},
		{"kubepods-besteffort-pod123.slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice"},
		{`a\x2db.slice`, `/a\x2db.slice`},
	} {
		got, err := ExpandSlice(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "system", ".slice", "-a.slice", "a-.slice", "a--b.slice", "a/b.slice", "a b.slice", "a+b.slice", "system.scope"} {
		if got, err := ExpandSlice(bad); !errors.Is(err, cgroups.ErrInvalidPath) {
			t.Errorf("ExpandSlice(%q) = %q, %v; want ErrInvalidPath", bad, got, err)
		}
	}
}

func TestParseCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		path, id          string
		slice, unit, want string
	}{
		{"", "abc", "system.slice", "podrun-abc.scope", "/system.slice/podrun-abc.scope"},
		{"system.slice:docker:abc", "id", "system.slice", "docker-abc.scope", "/system.slice/docker-abc.scope"},
		{"kubepods-besteffort-pod123.slice:cri-containerd:abc", "id", "kubepods-besteffort-pod123.slice", "cri-containerd-abc.scope",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice/cri-containerd-abc.scope"},
		{":podrun:abc", "id", "system.slice", "podrun-abc.scope", "/system.slice/podrun-abc.scope"},
		{"user.slice::abc", "id", "user.slice", "abc.scope", "/user.slice/abc.scope"},
		{"machine.slice:p:", "the-id", "machine.slice", "p-the-id.scope", "/machine.slice/p-the-id.scope"},
		{"-.slice:p:n", "id", "-.slice", "p-n.scope", "/p-n.scope"},
		// Characters a unit name cannot hold are escaped.
		{"", "a+b", "system.slice", `podrun-a\x2bb.scope`, `/system.slice/podrun-a\x2bb.scope`},
		// A slice unit as the name: a child of the slice part.
		{"kubepods.slice::kubepods-burstable.slice", "id", "kubepods.slice", "kubepods-burstable.slice", "/kubepods.slice/kubepods-burstable.slice"},
		{"-.slice::podrun.slice", "id", "-.slice", "podrun.slice", "/podrun.slice"},
	} {
		u, err := parseCgroupsPath(tc.path, tc.id)
		if err != nil {
			t.Errorf("parseCgroupsPath(%q, %q): %v", tc.path, tc.id, err)
			continue
		}
		if u.slice != tc.slice || u.unit != tc.unit || u.path != tc.want {
			t.Errorf("parseCgroupsPath(%q, %q) = %+v; want slice %q unit %q path %q", tc.path, tc.id, u, tc.slice, tc.unit, tc.want)
		}
	}
	long := make([]byte, 260)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct{ path, id string }{
		{"/a/b", "id"},                         // a cgroupfs path
		{"system.slice:abc", "id"},             // two parts
		{"a:b:c:d", "id"},                      // four parts
		{"system:p:n", "id"},                   // not a slice
		{"a--b.slice:p:n", "id"},               // bad slice
		{"", ""},                               // no name at all
		{"system.slice::other.slice", "id"},    // slice not under the parent
		{"a.slice::a-b-c.slice", "id"},         // grandchild
		{"system.slice:p:" + string(long), ""}, // too long
	} {
		if u, err := parseCgroupsPath(tc.path, tc.id); !errors.Is(err, cgroups.ErrInvalidPath) {
			t.Errorf("parseCgroupsPath(%q, %q) = %+v, %v; want ErrInvalidPath", tc.path, tc.id, u, err)
		}
	}
}

func TestEscapeUnitName(t *testing.T) {
	for in, want := range map[string]string{
		"abc-1_2.3:4": "abc-1_2.3:4",
		"a+b":         `a\x2bb`,
		`a\b`:         `a\x5cb`,
		".hidden":     `\x2ehidden`,
		"a b/c":       `a\x20b\x2fc`,
	} {
		if got := escapeUnitName(in); got != want {
			t.Errorf("escapeUnitName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]int{
		`"252.22-1~deb12u1"`: 252,
		`"v245.4-4ubuntu3"`:  245,
		"239":                239,
		`"249"`:              249,
		"":                   0,
		"x":                  0,
	} {
		if got := parseVersion(in); got != want {
			t.Errorf("parseVersion(%q) = %d; want %d", in, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	paths := map[string]string{cgroups.UnifiedKey: "/sys/fs/cgroup/system.slice/podrun-x.scope", UnitKey: "podrun-x.scope"}
	if !HasUnit(paths) || HasUnit(map[string]string{"": "/sys/fs/cgroup/x"}) {
		t.Fatal("HasUnit")
	}
	m, err := Load(paths, "")
	if err != nil {
		t.Fatal(err)
	}
	if u := m.(*Manager).Unit(); u != "podrun-x.scope" {
		t.Errorf("unit %q", u)
	}
	got := m.Paths()
	if len(got) != 2 || got[UnitKey] != "podrun-x.scope" || got[""] != paths[""] {
		t.Errorf("Paths() = %v; want %v", got, paths)
	}
	if m2, err := Load(map[string]string{"": "/sys/fs/cgroup/system.slice/a.scope"}, "a.scope"); err != nil || m2.Paths()[UnitKey] != "a.scope" {
		t.Errorf("Load with explicit unit: %v", err)
	}
	for _, bad := range []map[string]string{
		{"": "/sys/fs/cgroup/x"},                       // no unit
		{"": "/sys/fs/cgroup/x", UnitKey: "x.service"}, // not a scope or slice
		{"": "/sys/fs/cgroup/x", UnitKey: "a/b.scope"}, // not a name
		{"": "relative/dir", UnitKey: "x.scope"},       // bad directory
		{UnitKey: "x.scope"},                           // no directory
	} {
		if _, err := Load(bad, ""); err == nil {
			t.Errorf("Load(%v) succeeded", bad)
		}
	}
	// The cgroupfs driver refuses a systemd map.
	if _, err := cgroups.Load(paths); err == nil {
		t.Error("cgroups.Load accepted a map with the unit key")
	}
}

func TestDBusErrors(t *testing.T) {
	exists := godbus.Error{Name: "org.freedesktop.systemd1.UnitExists"}
	if !isUnitExists(fmt.Errorf("wrapped: %w", exists)) || isNoSuchUnit(exists) {
		t.Error("UnitExists")
	}
	if !isNoSuchUnit(godbus.NewError("org.freedesktop.systemd1.NoSuchUnit", nil)) || isUnitExists(errors.New("x")) {
		t.Error("NoSuchUnit")
	}
}
