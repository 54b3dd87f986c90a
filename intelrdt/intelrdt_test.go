package intelrdt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		r    specs.LinuxIntelRdt
		want string
	}{
		{specs.LinuxIntelRdt{}, ""},
		{specs.LinuxIntelRdt{ClosID: "/"}, ""},
		{specs.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=7ff;1=7ff", MemBwSchema: "MB:0=20;1=70"}, ""},
		{specs.LinuxIntelRdt{L3CacheSchema: "L3CODE:0=ff"}, ""},
		{specs.LinuxIntelRdt{Schemata: []string{"L2:0=ff;1=ff", "MB:0=50"}}, ""},
		{specs.LinuxIntelRdt{ClosID: "a/b"}, `linux.intelRdt.closID: "a/b" is not a valid resctrl group name`},
		{specs.LinuxIntelRdt{ClosID: ".."}, `linux.intelRdt.closID: ".."`},
		{specs.LinuxIntelRdt{L3CacheSchema: "MB:0=20"}, "linux.intelRdt.l3CacheSchema: "},
		{specs.LinuxIntelRdt{L3CacheSchema: "L3:0=7ff\nMB:0=10"}, "linux.intelRdt.l3CacheSchema: "},
		{specs.LinuxIntelRdt{MemBwSchema: "L3:0=7ff"}, "linux.intelRdt.memBwSchema: "},
		{specs.LinuxIntelRdt{Schemata: []string{"L3:0=ff", "junk"}}, `linux.intelRdt.schemata[1]: "junk"`},
		{specs.LinuxIntelRdt{Schemata: []string{"L3:0=ff\nMB:0=1"}}, "linux.intelRdt.schemata[0]: "},
	} {
		err := Validate(&c.r)
		if (c.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.r, err, c.want)
		}
	}
}

func TestSchemataOrder(t *testing.T) {
	got := Schemata(&specs.LinuxIntelRdt{Schemata: []string{"L2:0=f", "MB:0=90"}, MemBwSchema: "MB:0=20", L3CacheSchema: "L3:0=7ff"})
	want := []string{"L3:0=7ff", "MB:0=20", "L2:0=f", "MB:0=90"}
	if !slices.Equal(got, want) {
		t.Errorf("Schemata = %q, want %q", got, want)
	}
	if got := Schemata(&specs.LinuxIntelRdt{ClosID: "x"}); len(got) != 0 {
		t.Errorf("no schema: %q", got)
	}
}

func TestMountpoint(t *testing.T) {
	mi := `22 1 0:21 / /proc rw,nosuid - proc proc rw
40 22 0:35 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw
55 30 0:48 / /sys/fs/res\040ctrl rw,relatime shared:30 - resctrl resctrl rw,mba_MBps
`
	got, err := Mountpoint(strings.NewReader(mi))
	if err != nil || got != "/sys/fs/res ctrl" {
		t.Errorf("Mountpoint = %q, %v", got, err)
	}
	_, err = Mountpoint(strings.NewReader("22 1 0:21 / /proc rw - proc proc rw\n"))
	if !errors.Is(err, ErrNotMounted) {
		t.Errorf("no resctrl: %v", err)
	}
}

// fakeResctrl makes a resctrl-like tree: root schemata, and groups.
func fakeResctrl(t *testing.T, groups map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"info", "mon_groups"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, schemata := range groups {
		dir := filepath.Join(root, name)
		if name != "" {
			if err := os.MkdirAll(filepath.Join(dir, "mon_groups"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "schemata"), []byte(schemata), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyOwnGroup(t *testing.T) {
	root := fakeResctrl(t, map[string]string{"": "    L3:0=fffff\n    MB:0=100\n"})
	r := &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=ff", MemBwSchema: "MB:0=50", Schemata: []string{"MB:0=40"}}
	g, err := Apply(root, "ctr", r, 1234)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ctr")
	if g.Dir != dir || !g.Created || g.MonDir != "" {
		t.Errorf("group %+v", g)
	}
	if got := readFile(t, filepath.Join(dir, "schemata")); got != "L3:0=ff\nMB:0=50\nMB:0=40\n" {
		t.Errorf("schemata written %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "tasks")); got != "1234\n" {
		t.Errorf("tasks %q", got)
	}
	// A second container with the same id: refused, and its group left alone.
	if _, err := Apply(root, "ctr", r, 5); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("existing own group: %v", err)
	}
	// Destroy removes what create made (a real resctrl rmdir removes
	// the files with the group; a plain directory needs them gone first).
	os.Remove(filepath.Join(dir, "schemata"))
	os.Remove(filepath.Join(dir, "tasks"))
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("group dir still there: %v", err)
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second destroy: %v", err)
	}
}

func TestApplyClosID(t *testing.T) {
	root := fakeResctrl(t, map[string]string{"": "L3:0=fffff\n", "gold": "    L3:0=000ff;1=FF\n      MB:0=100;1=100\n"})
	// Existing group, matching values (case, padding and zeros as the kernel prints them).
	g, err := Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=ff;1=ff", MemBwSchema: "MB:1=100"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	if g.Created || g.Dir != filepath.Join(root, "gold") {
		t.Errorf("group %+v", g)
	}
	if got := readFile(t, filepath.Join(root, "gold", "schemata")); !strings.Contains(got, "000ff") {
		t.Errorf("existing schemata rewritten: %q", got)
	}
	if got := readFile(t, filepath.Join(root, "gold", "tasks")); got != "42\n" {
		t.Errorf("tasks %q", got)
	}
	// Existing group, other values: an error naming the difference.
	_, err = Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=f0"}, 42)
	if err == nil || !strings.Contains(err.Error(), "has L3:0=ff, not f0") {
		t.Errorf("mismatch: %v", err)
	}
	// Named alone: must exist.
	if _, err := Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "gold"}, 42); err != nil {
		t.Errorf("pre-configured group: %v", err)
	}
	_, err = Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "silver"}, 42)
	if err == nil || err.Error() != `linux.intelRdt.closID: resctrl group "silver" does not exist` {
		t.Errorf("missing group: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "silver")); !os.IsNotExist(err) {
		t.Errorf("missing group was created: %v", err)
	}
	// New closID with a schema: created, but never removed (shared).
	g, err = Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "bronze", MemBwSchema: "MB:0=10"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if g.Created {
		t.Error("a closID group is marked for removal")
	}
	if got := readFile(t, filepath.Join(root, "bronze", "schemata")); got != "MB:0=10\n" {
		t.Errorf("bronze schemata %q", got)
	}
	// The default group.
	g, err = Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "/"}, 9)
	if err != nil || g.Dir != root || g.Created {
		t.Errorf("closID /: %+v, %v", g, err)
	}
}

func TestApplyMonitoring(t *testing.T) {
	root := fakeResctrl(t, map[string]string{"": "L3:0=fffff\n", "gold": "L3:0=ff\n"})
	g, err := Apply(root, "ctr", &specs.LinuxIntelRdt{ClosID: "gold", EnableMonitoring: true}, 77)
	if err != nil {
		t.Fatal(err)
	}
	mon := filepath.Join(root, "gold", "mon_groups", "ctr")
	if g.MonDir != mon {
		t.Errorf("mon dir %q", g.MonDir)
	}
	if got := readFile(t, filepath.Join(mon, "tasks")); got != "77\n" {
		t.Errorf("mon tasks %q", got)
	}
	os.Remove(filepath.Join(mon, "tasks"))
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mon); !os.IsNotExist(err) {
		t.Errorf("mon group left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "gold")); err != nil {
		t.Errorf("closID group removed: %v", err)
	}
}
