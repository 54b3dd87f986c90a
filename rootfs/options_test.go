package rootfs

import (
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		opts    []string
		flags   uintptr
		cleared uintptr
		prop    []uintptr
		data    string
	}{
		{opts: nil},
		{opts: []string{"defaults"}},
		{opts: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k"},
		{opts: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			flags: unix.MS_NOSUID | unix.MS_NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{opts: []string{"rbind", "ro", "rprivate"},
			flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, prop: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		{opts: []string{"bind", "shared", "slave", "unbindable", "runbindable", "rshared", "rslave", "private"},
			flags: unix.MS_BIND, prop: []uintptr{
				unix.MS_SHARED, unix.MS_SLAVE, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC,
				unix.MS_SHARED | unix.MS_REC, unix.MS_SLAVE | unix.MS_REC, unix.MS_PRIVATE}},
		// A later option overrides an earlier one, both ways.
		{opts: []string{"ro", "rw"}, cleared: unix.MS_RDONLY},
		{opts: []string{"rw", "ro"}, flags: unix.MS_RDONLY},
		{opts: []string{"nodev", "dev", "nosuid", "suid", "noexec", "exec"},
			cleared: unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC},
		{opts: []string{"sync", "dirsync", "mand", "remount"},
			flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_MANDLOCK | unix.MS_REMOUNT},
		{opts: []string{"sync", "async", "mand", "nomand"}, cleared: unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK},
		{opts: []string{"noatime", "nodiratime", "nosymfollow"},
			flags: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_NOSYMFOLLOW},
		{opts: []string{"atime", "diratime", "norelatime", "nostrictatime", "symfollow"},
			cleared: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW},
		{opts: []string{"relatime", "iversion", "lazytime", "silent"},
			flags: unix.MS_RELATIME | unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT},
		{opts: []string{"noiversion", "nolazytime", "loud"},
			cleared: unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT},
		{opts: []string{"lowerdir=/a:/b", "upperdir=/c", "workdir=/d"}, data: "lowerdir=/a:/b,upperdir=/c,workdir=/d"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.opts, ","), func(t *testing.T) {
			o, err := parseMountOptions(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if o.flags != tt.flags {
				t.Errorf("flags = %#x, want %#x", o.flags, tt.flags)
			}
			if o.cleared != tt.cleared {
				t.Errorf("cleared = %#x, want %#x", o.cleared, tt.cleared)
			}
			if !reflect.DeepEqual(o.propagation, tt.prop) {
				t.Errorf("propagation = %#x, want %#x", o.propagation, tt.prop)
			}
			if d := o.dataString(); d != tt.data {
				t.Errorf("data = %q, want %q", d, tt.data)
			}
		})
	}
}

func TestParseMountOptionsRecursive(t *testing.T) {
	o, err := parseMountOptions([]string{"rbind", "rro", "rnosuid", "rnoexec", "rdev", "rnoatime"})
	if err != nil {
		t.Fatal(err)
	}
	want := unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOATIME,
		Attr_clr: unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR__ATIME,
	}
	if o.recAttr == nil || *o.recAttr != want {
		t.Fatalf("recAttr = %+v, want %+v", o.recAttr, want)
	}
	if o.flags != unix.MS_BIND|unix.MS_REC || o.data != nil {
		t.Fatalf("flags %#x data %q: recursive options must not become flags or data", o.flags, o.data)
	}
	o, _ = parseMountOptions([]string{"rro", "rrw"})
	if o.recAttr.Attr_set != 0 || o.recAttr.Attr_clr != unix.MOUNT_ATTR_RDONLY {
		t.Fatalf("rro,rrw: %+v", o.recAttr)
	}
}

func TestParseMountOptionsErrors(t *testing.T) {
	for _, opt := range []string{"idmap", "ridmap"} {
		_, err := parseMountOptions([]string{"rbind", opt})
		if err == nil || !strings.Contains(err.Error(), `"`+opt+`" is not supported`) {
			t.Errorf("%s: err = %v", opt, err)
		}
	}
	if _, err := parseMountOptions([]string{"ro", ""}); err == nil {
		t.Error("empty option accepted")
	}
	o, err := parseMountOptions([]string{"tmpcopyup", "mode=755"})
	if err != nil || !o.copyUp || o.dataString() != "mode=755" {
		t.Errorf("tmpcopyup: %+v %v", o, err)
	}
}

func TestParseMountSpec(t *testing.T) {
	c := &Config{BundleDir: "/bundle", Spec: &specs.Spec{}}
	m, err := c.parseMount(specs.Mount{Destination: "data", Type: "none", Source: "rel/dir", Options: []string{"rbind"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.source != "/bundle/rel/dir" || m.dest != "/data" {
		t.Errorf("source %q dest %q", m.source, m.dest)
	}
	// Filesystem options of a bind are left out (mount(2) ignores them;
	// runc passes them on), and reported.
	m, err = c.parseMount(specs.Mount{Destination: "/x", Source: "/s", Options: []string{"bind", "mode=755", "ro"}})
	if err != nil || len(m.opts.data) != 0 || len(m.ignored) != 1 || m.ignored[0] != "mode=755" || m.opts.flags&unix.MS_RDONLY == 0 {
		t.Errorf("bind with mode=755: data %q, ignored %q, %v", m.opts.data, m.ignored, err)
	}
	w, err := Validate(&specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Source: "/s", Options: []string{"rbind", "mode=755"}}}})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], `mounts[0] (/x)`) || !strings.Contains(w[0], "mode=755") {
		t.Errorf("Validate of a bind with mode=755: warnings %q, %v", w, err)
	}
	// type "bind" alone makes a bind mount.
	m, err = c.parseMount(specs.Mount{Destination: "/x/../y", Type: "bind", Source: "/src"})
	if err != nil || !m.opts.isBind() || m.dest != "/y" {
		t.Errorf("type bind: %+v %v", m, err)
	}
	for _, tt := range []struct {
		m    specs.Mount
		want string
	}{
		{specs.Mount{Destination: "/x", Source: "/s", Options: []string{"rbind", "idmap"}}, `"idmap" is not supported`},
		{specs.Mount{Destination: "/x", Type: "proc", Options: []string{"tmpcopyup"}}, `"tmpcopyup" is only valid for tmpfs`},
		{specs.Mount{Destination: "", Type: "proc"}, "destination is empty"},
		{specs.Mount{Destination: "/x", Options: []string{"bind"}}, "no source"},
		{specs.Mount{Destination: "/x", Source: "/s", Options: []string{"rbind"},
			UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}, "not supported"},
	} {
		_, err := c.parseMount(tt.m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.m, err, tt.want)
		}
	}
}

func TestParseRootfsPropagation(t *testing.T) {
	for s, want := range map[string]uintptr{
		"":            0,
		"private":     unix.MS_PRIVATE,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"shared":      unix.MS_SHARED,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"slave":       unix.MS_SLAVE,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"unbindable":  unix.MS_UNBINDABLE,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	} {
		got, err := parseRootfsPropagation(s)
		if err != nil || got != want {
			t.Errorf("%q: %#x, %v; want %#x", s, got, err, want)
		}
	}
	if _, err := parseRootfsPropagation("sideways"); err == nil || !strings.Contains(err.Error(), `"sideways"`) {
		t.Errorf("bad value: %v", err)
	}
	c := &Config{NoPivot: true, Spec: &specs.Spec{Linux: &specs.Linux{RootfsPropagation: "rprivate"}}}
	if _, err := c.rootPropagation(); err == nil {
		t.Error("rprivate with NoPivot accepted")
	}
}

func TestNeedsSetupDev(t *testing.T) {
	for _, tt := range []struct {
		m    []specs.Mount
		want bool
	}{
		{nil, true},
		{[]specs.Mount{{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"}}, true},
		{[]specs.Mount{{Destination: "/dev/", Type: "none", Source: "/dev", Options: []string{"rbind"}}}, false},
		{[]specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev"}}, false},
		{[]specs.Mount{{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm"}}, true},
	} {
		if got := needsSetupDev(&specs.Spec{Mounts: tt.m}); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.m, got, tt.want)
		}
	}
}

func TestDeviceList(t *testing.T) {
	devs, err := deviceList(&specs.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{
		"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
		"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0},
	}
	if len(devs) != len(want) {
		t.Fatalf("got %d default devices, want %d", len(devs), len(want))
	}
	for _, d := range devs {
		mm, ok := want[d.Path]
		if !ok || d.Major != mm[0] || d.Minor != mm[1] || d.Type != unix.S_IFCHR || d.Mode != 0o666 || d.UID != 0 || d.GID != 0 {
			t.Errorf("unexpected default device %+v", d)
		}
	}

	mode := os.FileMode(0o600)
	uid, gid := uint32(1000), uint32(5)
	spec := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid},
		{Path: "/dev/fuse", Type: "u", Major: 10, Minor: 229},
		{Path: "/dev/loop9", Type: "b", Major: 7, Minor: 9, GID: &gid},
		{Path: "/run/fifo", Type: "p", Major: 3, Minor: 3},
		{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2},
	}}}
	devs, err = deviceList(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]device)
	var nulls int
	for _, d := range devs {
		got[d.Path] = d
		if d.Path == "/dev/null" {
			nulls++
		}
	}
	if nulls != 1 || got["/dev/null"].Mode != 0o600 || got["/dev/null"].UID != 1000 {
		t.Errorf("spec /dev/null must replace the default one: %+v (%d)", got["/dev/null"], nulls)
	}
	if d := got["/dev/fuse"]; d.Type != unix.S_IFCHR || d.Mode != 0o666 || d.rdev() != int(unix.Mkdev(10, 229)) {
		t.Errorf("fuse: %+v", d)
	}
	if d := got["/dev/loop9"]; d.Type != unix.S_IFBLK || d.GID != 5 {
		t.Errorf("loop9: %+v", d)
	}
	if d := got["/run/fifo"]; d.Type != unix.S_IFIFO || d.Major != 0 {
		t.Errorf("fifo: %+v", d)
	}
	if _, ok := got["/dev/ptmx"]; ok {
		t.Error("/dev/ptmx must be left to the pts/ptmx symlink")
	}
	if len(devs) != 9 {
		t.Errorf("got %d devices, want 9", len(devs))
	}

	for _, bad := range []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}, {Path: "dev/x", Type: "c"}} {
		if _, err := deviceList(&specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{bad}}}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestStatfsToMountFlags(t *testing.T) {
	f := statfsToMountFlags(unix.Statfs_t{Flags: unix.ST_RDONLY | unix.ST_NODEV | unix.ST_RELATIME})
	if f != unix.MS_RDONLY|unix.MS_NODEV|unix.MS_RELATIME {
		t.Errorf("got %#x", f)
	}
	if f := statfsToMountFlags(unix.Statfs_t{}); f != unix.MS_STRICTATIME {
		t.Errorf("no atime flag must mean strictatime, got %#x", f)
	}
}
