package rootfs

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.mountLabel reaches the data of the filesystems podrun makes, and
// only those (runc's set); without it nothing changes.
func TestParseMountLabel(t *testing.T) {
	const label = "system_u:object_r:container_file_t:s0:c715,c811"
	ctx := `context="` + label + `"`
	for _, c := range []struct {
		m     specs.Mount
		label string
		want  []string
	}{
		{specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}, label, []string{"size=1m", ctx}},
		{specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance"}}, label, []string{"newinstance", ctx}},
		{specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}, "", []string{"size=1m"}},
		{specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}, label, nil},
		{specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs"}, label, nil},
		{specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"}, label, nil},
		{specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"}, label, nil},
		{specs.Mount{Destination: "/data", Type: "none", Source: "/src", Options: []string{"rbind"}}, label, nil},
	} {
		cfg := &Config{BundleDir: "/bundle", Spec: &specs.Spec{Linux: &specs.Linux{MountLabel: c.label}}}
		m, err := cfg.parseMount(c.m)
		if err != nil {
			t.Fatalf("%s %s: %v", c.m.Type, c.m.Destination, err)
		}
		if !slices.Equal(m.opts.data, c.want) {
			t.Errorf("%s %s with label %q: data %q, want %q", c.m.Type, c.m.Destination, c.label, m.opts.data, c.want)
		}
	}
}
