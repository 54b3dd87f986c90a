package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

// runcDefaultMounts is what `runc spec` puts in config.json.
func runcDefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

func u32(v uint32) *uint32 { return &v }

func fileMode(m os.FileMode) *os.FileMode { return &m }

func init() {
	helperChecks["full"] = checkFull
	helperChecks["escape"] = checkEscape
	helperChecks["nopivot"] = checkNoPivot
	helperChecks["userns"] = checkUserns
	helperChecks["cgroupns"] = checkCgroupns
	helperChecks["rootprop"] = checkRootPropagation
	helperModes["propagation-parent"] = propagationParent
}

func TestPrepareEnter(t *testing.T) {
	testutil.RequiresRoot(t)
	mounts := append(runcDefaultMounts(),
		specs.Mount{Destination: "/data", Type: "none", Source: "DATA", Options: []string{"rbind", "ro", "nosuid"}},
		specs.Mount{Destination: "/etc/newdir/file", Type: "bind", Source: "HOSTFILE", Options: []string{"ro"}},
		specs.Mount{Destination: "/etc/bundlefile", Type: "none", Source: "bundlefile", Options: []string{"bind"}},
		specs.Mount{Destination: "/ro-tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "mode=700", "nodev"}},
		specs.Mount{Destination: "/copy", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
		specs.Mount{Destination: "/rro", Type: "none", Source: "DATA", Options: []string{"rbind", "rro", "rnoexec"}},
		specs.Mount{Destination: "/prop", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared", "noatime"}},
	)
	c := newBundle(t, mounts)
	tmp := filepath.Dir(c.Rootfs)
	writeFile(t, filepath.Join(tmp, "data", "hello"), "hello")
	writeFile(t, filepath.Join(tmp, "hostfile"), "hostfile")
	writeFile(t, filepath.Join(c.BundleDir, "bundlefile"), "bundlefile")
	writeFile(t, filepath.Join(c.Rootfs, "copy", "sub", "f"), "copied")
	if err := os.Symlink("sub/f", filepath.Join(c.Rootfs, "copy", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(c.Rootfs, "copy", "sub"), 0o710); err != nil {
		t.Fatal(err)
	}
	for i := range c.Spec.Mounts {
		m := &c.Spec.Mounts[i]
		switch m.Source {
		case "DATA":
			m.Source = filepath.Join(tmp, "data")
		case "HOSTFILE":
			m.Source = filepath.Join(tmp, "hostfile")
		}
	}
	c.Spec.Root.Readonly = true
	c.Spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: fileMode(0o600), UID: u32(1000), GID: u32(1001)},
		{Path: "/dev/loop-test", Type: "b", Major: 7, Minor: 200, FileMode: fileMode(0o660)},
		{Path: "/dev/fifo", Type: "p", FileMode: fileMode(0o640)},
		{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: fileMode(0o604)},
	}
	c.Spec.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/acpi", "/sys/firmware", "/proc/does-not-exist", "/etc/bundlefile"}
	c.Spec.Linux.ReadonlyPaths = []string{"/proc/sys", "/proc/sysrq-trigger", "/nope"}

	out, code := runChild(t, "", &helperInput{Config: *c, Check: "full"}, syscall.CLONE_NEWPID|syscall.CLONE_NEWIPC, false)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
	// Host side: the sources were not modified, nothing was created outside.
	if b, _ := os.ReadFile(filepath.Join(tmp, "hostfile")); string(b) != "hostfile" {
		t.Errorf("host file changed: %q", b)
	}
}

func checkFull(in *helperInput) error {
	var c checker
	by, order, err := mountsByPoint()
	if err != nil {
		return err
	}
	// Spec order is mount order.
	want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
		"/data", "/etc/newdir/file", "/etc/bundlefile", "/ro-tmp", "/copy", "/rro", "/prop"}
	pos := make(map[string]int)
	for i, p := range order {
		pos[p] = i
	}
	for i, p := range want {
		if _, ok := pos[p]; !ok {
			c.errorf("%s is not mounted", p)
		} else if i > 0 && pos[p] < pos[want[i-1]] {
			c.errorf("%s mounted before %s", p, want[i-1])
		}
	}
	expect := func(p, fstype string, opts ...string) {
		m := by[p]
		if m == nil {
			return
		}
		if fstype != "" && m.FSType != fstype {
			c.errorf("%s: type %s, want %s", p, m.FSType, fstype)
		}
		for _, o := range opts {
			neg := strings.HasPrefix(o, "!")
			o = strings.TrimPrefix(o, "!")
			has := hasOpt(m.Options, o) || hasOpt(m.VFSOptions, o)
			if has == neg {
				c.errorf("%s: options %q / %q, want %s%s", p, m.Options, m.VFSOptions, map[bool]string{true: "no "}[neg], o)
			}
		}
	}
	expect("/", "", "ro")
	expect("/proc", "proc", "rw")
	expect("/dev", "tmpfs", "rw", "nosuid", "!nodev", "mode=755", "size=65536k")
	expect("/dev/pts", "devpts", "nosuid", "noexec", "ptmxmode=666", "mode=620", "gid=5")
	expect("/dev/shm", "tmpfs", "nosuid", "nodev", "noexec", "size=65536k") // mode=1777 is tmpfs's default: not shown
	expect("/dev/mqueue", "mqueue", "nosuid", "nodev", "noexec")
	expect("/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	expect("/sys/fs/cgroup", "tmpfs", "ro", "nosuid", "nodev", "noexec", "mode=755")
	expect("/data", "", "ro", "nosuid", "!noexec")
	expect("/etc/newdir/file", "", "ro")
	expect("/etc/bundlefile", "tmpfs", "nosuid") // masked file: /dev/null, from the container's /dev tmpfs
	expect("/ro-tmp", "tmpfs", "ro", "nodev", "mode=700")
	expect("/copy", "tmpfs", "rw")
	expect("/rro", "", "ro", "noexec")
	expect("/prop", "tmpfs", "noatime")
	if m := by["/prop"]; m != nil && !strings.Contains(m.Optional, "shared:") {
		c.errorf("/prop is not shared: %q", m.Optional)
	}
	if m := by["/data"]; m != nil && !strings.HasSuffix(m.Root, "/data") {
		c.errorf("/data root is %q", m.Root)
	}
	// cgroup v1 (this host) or v2.
	if m := by["/sys/fs/cgroup/memory"]; m != nil {
		expect("/sys/fs/cgroup/memory", "cgroup", "ro")
	} else if by["/sys/fs/cgroup"] != nil && by["/sys/fs/cgroup"].FSType != "cgroup2" {
		c.errorf("no cgroup hierarchy under /sys/fs/cgroup")
	}

	// Read-only root: writes fail.
	if err := os.WriteFile("/newfile", nil, 0o644); !errors.Is(err, unix.EROFS) {
		c.errorf("write to / : %v, want EROFS", err)
	}
	if err := os.WriteFile("/ro-tmp/x", nil, 0o644); !errors.Is(err, unix.EROFS) {
		c.errorf("write to /ro-tmp : %v, want EROFS", err)
	}
	if err := os.WriteFile("/dev/shm/x", []byte("x"), 0o644); err != nil {
		c.errorf("write to /dev/shm: %v", err)
	}
	for p, content := range map[string]string{"/data/hello": "hello", "/etc/newdir/file": "hostfile", "/marker": "rootfs", "/copy/sub/f": "copied", "/rro/hello": "hello"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != content {
			c.errorf("%s: %q, %v", p, b, err)
		}
	}
	if fi, err := os.Lstat("/copy/sub"); err != nil || fi.Mode().Perm() != 0o710 {
		c.errorf("copied dir mode: %v %v", fi, err)
	}
	if l, err := os.Readlink("/copy/link"); err != nil || l != "sub/f" {
		c.errorf("copied symlink: %q %v", l, err)
	}

	// Devices.
	dev := func(p string, typ uint32, major, minor uint32, mode uint32, uid, gid uint32) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			c.errorf("%s: %v", p, err)
			return
		}
		if st.Mode&unix.S_IFMT != typ || st.Mode&0o7777 != mode || st.Uid != uid || st.Gid != gid {
			c.errorf("%s: mode %o uid %d gid %d, want %o %d %d", p, st.Mode, st.Uid, st.Gid, typ|mode, uid, gid)
		}
		if typ != unix.S_IFIFO && (unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor) {
			c.errorf("%s: dev %d:%d, want %d:%d", p, unix.Major(st.Rdev), unix.Minor(st.Rdev), major, minor)
		}
	}
	dev("/dev/null", unix.S_IFCHR, 1, 3, 0o666, 0, 0)
	dev("/dev/zero", unix.S_IFCHR, 1, 5, 0o604, 0, 0)
	dev("/dev/full", unix.S_IFCHR, 1, 7, 0o666, 0, 0)
	dev("/dev/random", unix.S_IFCHR, 1, 8, 0o666, 0, 0)
	dev("/dev/urandom", unix.S_IFCHR, 1, 9, 0o666, 0, 0)
	dev("/dev/tty", unix.S_IFCHR, 5, 0, 0o666, 0, 0)
	dev("/dev/fuse", unix.S_IFCHR, 10, 229, 0o600, 1000, 1001)
	dev("/dev/loop-test", unix.S_IFBLK, 7, 200, 0o660, 0, 0)
	dev("/dev/fifo", unix.S_IFIFO, 0, 0, 0o640, 0, 0)
	if _, ok := by["/dev/null"]; ok {
		c.errorf("/dev/null is a bind mount, want a mknod'ed node")
	}
	links := map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx"}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links["/dev/core"] = "/proc/kcore"
	}
	for l, target := range links {
		if got, err := os.Readlink(l); err != nil || got != target {
			c.errorf("%s -> %q (%v), want %q", l, got, err, target)
		}
	}
	if f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err != nil {
		c.errorf("open /dev/ptmx: %v", err)
	} else {
		f.Close()
	}

	// Masked and read-only paths.
	if _, err := os.Stat("/proc/kcore"); err == nil {
		var st unix.Stat_t
		if err := unix.Stat("/proc/kcore", &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
			c.errorf("/proc/kcore is not masked with /dev/null")
		}
	}
	if _, err := os.Stat("/sys/firmware"); err == nil {
		expect("/sys/firmware", "tmpfs", "ro")
		if ents, _ := os.ReadDir("/sys/firmware"); len(ents) != 0 {
			c.errorf("/sys/firmware not empty")
		}
	}
	if b, err := os.ReadFile("/etc/bundlefile"); err != nil || len(b) != 0 {
		c.errorf("/etc/bundlefile not masked: %q %v", b, err)
	}
	expect("/proc/sys", "proc", "ro")
	expect("/proc/sysrq-trigger", "proc", "ro")
	if err := os.WriteFile("/proc/sys/kernel/domainname", []byte("x"), 0); !errors.Is(err, unix.EROFS) {
		c.errorf("write /proc/sys: %v, want EROFS", err)
	}
	if _, ok := by["/nope"]; ok {
		c.errorf("missing readonly path was created")
	}
	return c.err()
}

// TestSymlinkEscape: destinations that are symlinks out of the rootfs
// (absolute, ../ chains, planted by an earlier mount, dangling) end up
// inside it.
func TestSymlinkEscape(t *testing.T) {
	testutil.RequiresRoot(t)
	c := newBundle(t, nil)
	tmp := filepath.Dir(c.Rootfs)
	outside := filepath.Join(tmp, "outside")
	evil := filepath.Join(tmp, "evil") // bind source holding a symlink
	secret := filepath.Join(tmp, "secret")
	writeFile(t, secret, "secret")
	for _, d := range []string{outside, evil} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlinks := map[string]string{
		filepath.Join(c.Rootfs, "abs"):             outside,
		filepath.Join(c.Rootfs, "rel"):             "../../../../../../../../../.." + outside,
		filepath.Join(c.Rootfs, "etc", "shadow"):   secret,
		filepath.Join(c.Rootfs, "dangling"):        "/../../nonexistent/dir",
		filepath.Join(evil, "up"):                  "../../../../../../../../..",
		filepath.Join(evil, "abs"):                 outside,
		filepath.Join(c.Rootfs, "etc", "sysbyrel"): "../../../../../sys",
	}
	for l, target := range symlinks {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	hostFile := filepath.Join(tmp, "hostfile")
	writeFile(t, hostFile, "bound")
	c.Spec.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/abs", Type: "tmpfs", Source: "t-abs"},
		{Destination: "/rel/sub", Type: "tmpfs", Source: "t-rel"},
		{Destination: "/etc/shadow", Type: "bind", Source: hostFile},
		{Destination: "/dangling", Type: "tmpfs", Source: "t-dangling"},
		{Destination: "/mnt", Type: "bind", Source: evil},
		{Destination: "/mnt/up/etc/x", Type: "tmpfs", Source: "t-up"},
		{Destination: "/mnt/abs/y", Type: "tmpfs", Source: "t-mntabs"},
		{Destination: "/etc/sysbyrel/kernel", Type: "tmpfs", Source: "t-sys"},
	}
	out, code := runChild(t, "", &helperInput{Config: *c, Check: "escape"}, syscall.CLONE_NEWPID, false)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
	for _, d := range []string{outside, evil} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "up" && e.Name() != "abs" {
				t.Errorf("something was created outside the rootfs: %s/%s", d, e.Name())
			}
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "secret" {
		t.Errorf("host file behind a symlink was changed: %q", b)
	}
	for _, p := range []string{"/nonexistent"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created on the host", p)
		}
	}
	// Inside the rootfs, the resolved locations were created (those below
	// another of the test's mounts, like outside/y, are checked in the child).
	for _, p := range []string{outside, "nonexistent/dir", "etc/x", "sys/kernel"} {
		if _, err := os.Stat(filepath.Join(c.Rootfs, p)); err != nil {
			t.Errorf("expected %s inside the rootfs: %v", p, err)
		}
	}
}

func checkEscape(in *helperInput) error {
	var c checker
	by, _, err := mountsByPoint()
	if err != nil {
		return err
	}
	outside := filepath.Join(filepath.Dir(in.Config.Rootfs), "outside")
	for p, src := range map[string]string{
		outside:            "t-abs",
		outside + "/sub":   "t-rel",
		"/nonexistent/dir": "t-dangling",
		"/etc/x":           "t-up",
		outside + "/y":     "t-mntabs",
		"/sys/kernel":      "t-sys",
		"/mnt":             "",
		filepath.Join(filepath.Dir(in.Config.Rootfs), "secret"): "",
	} {
		m := by[p]
		if m == nil {
			c.errorf("nothing mounted at %s (inside the container)", p)
			continue
		}
		if src != "" && m.Source != src {
			c.errorf("%s: source %q, want %q", p, m.Source, src)
		}
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(in.Config.Rootfs), "secret")); err != nil || string(b) != "bound" {
		c.errorf("bind through /etc/shadow symlink: %q %v", b, err)
	}
	return c.err()
}

func TestNoPivot(t *testing.T) {
	testutil.RequiresRoot(t)
	c := newBundle(t, runcDefaultMounts()[:3])
	c.NoPivot = true
	c.Spec.Linux.MaskedPaths = []string{"/proc/kcore"}
	out, code := runChild(t, "", &helperInput{Config: *c, Check: "nopivot"}, syscall.CLONE_NEWPID, false)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
}

func checkNoPivot(in *helperInput) error {
	var c checker
	if b, err := os.ReadFile("/marker"); err != nil || string(b) != "rootfs" {
		c.errorf("/marker: %q %v", b, err)
	}
	by, _, err := mountsByPoint()
	if err != nil {
		return err
	}
	if m := by["/dev/pts"]; m == nil || m.FSType != "devpts" {
		c.errorf("/dev/pts not mounted")
	}
	if _, err := os.Stat(in.Config.Rootfs); err == nil {
		c.errorf("host path %s still visible", in.Config.Rootfs)
	}
	// The host's full procfs and sysfs were removed from the namespace.
	for _, m := range by {
		if (m.FSType == "proc" || m.FSType == "sysfs") && m.Root == "/" && m.Mountpoint != "/proc" {
			c.errorf("host %s still mounted at %s", m.FSType, m.Mountpoint)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/null", &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		c.errorf("/dev/null: %v", err)
	}
	return c.err()
}

func TestErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, tt := range []struct {
		name  string
		m     []specs.Mount
		setup func(c *Config)
		code  int
		want  string
	}{
		{name: "fs option unknown to tmpfs",
			m:    []specs.Mount{{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"nodev", "bogus=1"}}},
			code: 3, want: `PREPARE ERROR: error mounting "tmpfs" to rootfs at "/x": mount "tmpfs" on "/x" type "tmpfs" (flags 0x4, data "bogus=1"): invalid argument`},
		{name: "idmap",
			m:    []specs.Mount{{Destination: "/x", Type: "bind", Source: "/etc", Options: []string{"rbind", "idmap"}}},
			code: 3, want: `PREPARE ERROR: error mounting "/etc" to rootfs at "/x": mount option "idmap" is not supported`},
		{name: "missing bind source",
			m:    []specs.Mount{{Destination: "/x", Type: "bind", Source: "/nonexistent-src"}},
			code: 3, want: `PREPARE ERROR: error mounting "/nonexistent-src" to rootfs at "/x": stat /nonexistent-src: no such file or directory`},
		{name: "unknown fs type",
			m:    []specs.Mount{{Destination: "/x", Type: "nosuchfs", Source: "none"}},
			code: 3, want: `PREPARE ERROR: error mounting "none" to rootfs at "/x": mount "none" on "/x" type "nosuchfs" (flags 0x0): no such device`},
		{name: "bind inside proc",
			m:    []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, {Destination: "/proc/self/x", Type: "bind", Source: "/etc"}},
			code: 3, want: `cannot be mounted because it is inside /proc`},
		{name: "proc on symlink",
			m:     []specs.Mount{{Destination: "/p", Type: "proc", Source: "proc"}},
			setup: func(c *Config) { _ = os.Symlink("/etc", filepath.Join(c.Rootfs, "p")) },
			code:  3, want: `PREPARE ERROR: error mounting "proc" to rootfs at "/p": filesystem "proc" must be mounted on ordinary directory`},
		{name: "destination through a magic link",
			m: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/evil/etc", Type: "tmpfs", Source: "tmpfs"}},
			// /proc/self/root is the init's root: the host's "/".
			setup: func(c *Config) { _ = os.Symlink("/proc/self/root", filepath.Join(c.Rootfs, "evil")) },
			code:  3, want: `PREPARE ERROR: error mounting "tmpfs" to rootfs at "/evil/etc": openat2 /evil/etc: too many levels of symbolic links`},
		{name: "bind destination a magic link",
			m: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/evil", Type: "bind", Source: "/etc/hostname"}},
			setup: func(c *Config) { _ = os.Symlink("/proc/self/fd/0", filepath.Join(c.Rootfs, "evil")) },
			code:  3, want: `PREPARE ERROR: error mounting "/etc/hostname" to rootfs at "/evil": openat2 /evil: too many levels of symbolic links`},
		{name: "bad rootfsPropagation",
			setup: func(c *Config) { c.Spec.Linux.RootfsPropagation = "sideways" },
			code:  3, want: `rootfsPropagation "sideways" is not supported`},
		{name: "bad device type",
			setup: func(c *Config) { c.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}} },
			code:  3, want: `error creating device nodes: device "/dev/x": invalid type "z"`},
		{name: "device path taken",
			setup: func(c *Config) {
				writeFile(t, filepath.Join(c.Rootfs, "dev", "x"), "")
				c.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3}}
			},
			code: 3, want: `device /dev/x: a different file already exists`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newBundle(t, tt.m)
			if tt.setup != nil {
				tt.setup(c)
			}
			out, code := runChild(t, "", &helperInput{Config: *c, PrepareOnly: true}, 0, false)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tt.code, tt.want)
			}
			if strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("error is not one line: %q", out)
			}
		})
	}
}

// TestUserns: in a user namespace devices are bind mounts of the host's,
// sysfs falls back to an rbind of /sys, and remounts keep locked flags.
func TestUserns(t *testing.T) {
	testutil.RequiresRoot(t)
	c := newBundle(t, append(runcDefaultMounts(),
		specs.Mount{Destination: "/hostdev-ro", Type: "bind", Source: "/dev", Options: []string{"rbind", "ro"}}))
	c.Spec.Linux.Namespaces = append(c.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace})
	c.Spec.Linux.MaskedPaths = []string{"/proc/kcore", "/sys/firmware"}
	c.Spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	c.Spec.Root.Readonly = true
	out, code := runChild(t, "", &helperInput{Config: *c, Check: "userns"}, syscall.CLONE_NEWPID|syscall.CLONE_NEWIPC, true)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
}

func checkUserns(in *helperInput) error {
	var c checker
	by, _, err := mountsByPoint()
	if err != nil {
		return err
	}
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} {
		if m := by[d]; m == nil || m.FSType != "devtmpfs" {
			c.errorf("%s is not a bind mount of the host node: %+v", d, m)
		}
	}
	if m := by["/sys"]; m == nil || m.FSType != "sysfs" || !hasOpt(m.Options, "ro") {
		c.errorf("/sys: %+v", m)
	}
	// sysfs cannot be mounted here (no network namespace of our own): /sys
	// must be an rbind of the host's, which brings the host's submounts
	// (its /sys/fs/cgroup, under the container's own cgroup tmpfs).
	mounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (bool, bool) {
		return i.Mountpoint != "/sys/fs/cgroup", false
	})
	if err != nil || len(mounts) < 2 {
		c.errorf("/sys is not an rbind of the host's /sys (%d mounts at /sys/fs/cgroup, %v)", len(mounts), err)
	}
	if m := by["/hostdev-ro"]; m == nil || !hasOpt(m.Options, "ro") {
		c.errorf("/hostdev-ro: %+v", m)
	}
	if m := by["/"]; m == nil || !hasOpt(m.Options, "ro") {
		c.errorf("/ not read-only: %+v", m)
	}
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		c.errorf("proc: %v", err)
	}
	if m := by["/proc/sys"]; m == nil || !hasOpt(m.Options, "ro") {
		c.errorf("/proc/sys: %+v", m)
	}
	return c.err()
}

func TestCgroupNamespace(t *testing.T) {
	testutil.RequiresRoot(t)
	if isCgroup2Unified() {
		t.Skip("host uses cgroup v2 only")
	}
	c := newBundle(t, runcDefaultMounts())
	c.Spec.Linux.Namespaces = append(c.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	out, code := runChild(t, "", &helperInput{Config: *c, Check: "cgroupns"}, syscall.CLONE_NEWPID|syscall.CLONE_NEWCGROUP, false)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
}

func checkCgroupns(in *helperInput) error {
	var c checker
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return err
	}
	if len(mounts) == 0 {
		c.errorf("no cgroup v1 mounts")
	}
	for _, m := range mounts {
		if !strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup/") || m.Root != "/" || !hasOpt(m.Options, "ro") {
			c.errorf("cgroup mount %s root %s opts %s", m.Mountpoint, m.Root, m.Options)
		}
	}
	return c.err()
}

// TestNoPropagationToParent: the rootfs lives on a shared mount whose peer
// is in the parent namespace; nothing Prepare/Enter does may appear there.
func TestNoPropagationToParent(t *testing.T) {
	testutil.RequiresRoot(t)
	c := newBundle(t, runcDefaultMounts())
	out, code := runChild(t, "propagation-parent", &helperInput{Config: *c, Check: ""}, 0, false)
	if code != 0 {
		t.Fatalf("child failed (%d):\n%s", code, out)
	}
}

// propagationParent runs in its own mount namespace: it makes the bundle's
// parent directory a shared mount, runs the container init in a child
// mount namespace (whose copy is a peer) and then checks that only its own
// mount is there.
func propagationParent() int {
	in := os.Getenv(inputEnv)
	var hi helperInput
	if err := jsonUnmarshal(in, &hi); err != nil {
		return fail("bad input: %v", err)
	}
	dir := filepath.Dir(hi.Config.Rootfs)
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fail("%v", err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return fail("%v", err)
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		return fail("%v", err)
	}
	// Control: a child namespace's mount does propagate here without Prepare.
	code, out := runInit("", true)
	if code != 0 {
		return fail("control child: %d %s", code, out)
	}
	if n := countMountsUnder(dir); n != 2 {
		return fail("control: want the peer mount to propagate (2 mounts), got %d", n)
	}
	_ = unix.Unmount(filepath.Join(dir, "bundle"), unix.MNT_DETACH)
	code, out = runInit(in, false)
	if code != 0 {
		return fail("init child: %d %s", code, out)
	}
	if n := countMountsUnder(dir); n != 1 {
		return fail("%d mounts under %s in the parent namespace, want 1", n, dir)
	}
	return 0
}

func fail(format string, args ...any) int {
	fmt.Printf(format+"\n", args...)
	return 1
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func countMountsUnder(dir string) int {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return -1
	}
	return len(mounts)
}

// runInit re-execs the test binary in a new mount namespace, either as the
// container init (input) or, for control, as a process that mounts a tmpfs
// on the bundle directory and exits.
func runInit(input string, control bool) (int, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if control {
		var hi helperInput
		_ = jsonUnmarshal(os.Getenv(inputEnv), &hi)
		cmd.Env = append(os.Environ(), helperEnv+"=mount-bundle-tmpfs", "PODRUN_ROOTFS_TEST_DIR="+hi.Config.BundleDir)
	} else {
		cmd.Env = append(os.Environ(), helperEnv+"=init", inputEnv+"="+input)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		return -1, err.Error()
	}
	return 0, string(out)
}

func init() {
	helperModes["mount-bundle-tmpfs"] = func() int {
		if err := unix.Mount("tmpfs", os.Getenv("PODRUN_ROOTFS_TEST_DIR"), "tmpfs", 0, ""); err != nil {
			return fail("%v", err)
		}
		return 0
	}
}

func TestRootfsPropagation(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, prop := range []string{"rshared", "shared", "rslave", "private", "runbindable", ""} {
		t.Run(prop, func(t *testing.T) {
			c := newBundle(t, runcDefaultMounts()[:1])
			c.Spec.Linux.RootfsPropagation = prop
			out, code := runChild(t, "", &helperInput{Config: *c, Check: "rootprop"}, syscall.CLONE_NEWPID, false)
			if code != 0 {
				t.Fatalf("child failed (%d):\n%s", code, out)
			}
		})
	}
}

func checkRootPropagation(in *helperInput) error {
	by, _, err := mountsByPoint()
	if err != nil {
		return err
	}
	root := by["/"]
	if root == nil {
		return errors.New("no / mount")
	}
	opt := root.Optional
	var ok bool
	switch in.Config.Spec.Linux.RootfsPropagation {
	case "shared", "rshared":
		ok = strings.Contains(opt, "shared:")
	case "unbindable", "runbindable":
		ok = strings.Contains(opt, "unbindable")
	default: // the rootfs bind is private or slave: never shared with anything
		ok = !strings.Contains(opt, "shared:")
	}
	if !ok {
		return fmt.Errorf("rootfsPropagation %q: / has optional fields %q", in.Config.Spec.Linux.RootfsPropagation, opt)
	}
	return nil
}
