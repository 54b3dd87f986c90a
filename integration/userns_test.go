package integration

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
)

// What changes with a user namespace (runc's rules): devices, sysfs and
// mqueue come from the host when the kernel refuses them, mount id options
// must be mapped, and the ids and the rootfs are checked before the init
// fails on them.

// usernsMounts returns the mountinfo lines of the container process whose
// mount point is path or below it.
func usernsMounts(out, path string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && (f[4] == path || strings.HasPrefix(f[4], path+"/")) {
			lines = append(lines, l)
		}
	}
	return lines
}

// hostDev returns "major:minor" of the filesystem holding path on the host.
func hostDev(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
}

// TestUserNSDevicesBindMounted: in a user namespace mknod is not allowed:
// the default devices and linux.devices are the host's nodes bind-mounted,
// and they work.
func TestUserNSDevicesBindMounted(t *testing.T) {
	h := New(t)
	bundle := coreUserNSBundle(h, func(s *Spec) {
		mode := os.FileMode(0o666)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, FileMode: &mode})
	}, "sh", "-c", "cat /proc/self/mountinfo; echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c")
	out := h.Must("run", "--bundle", bundle, h.ID()).Stdout
	devtmpfs := hostDev(t, "/dev/null")
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/net/tun"} {
		ls := usernsMounts(out, d)
		if len(ls) != 1 || strings.Fields(ls[0])[2] != devtmpfs {
			t.Errorf("%s: mounts %q, want one bind mount of the host's node (%s)", d, ls, devtmpfs)
		}
	}
	if !strings.Contains(out, "null-ok\n") || !strings.Contains(out, "\n5\n") {
		t.Errorf("devices do not work:\n%s", out)
	}
}

// TestUserNSSysfsWithoutNetNS: sysfs cannot be mounted by a user namespace
// that does not own the network namespace: the host's /sys is bound
// instead, read-only down to its submounts.
func TestUserNSSysfsWithoutNetNS(t *testing.T) {
	h := New(t)
	bundle := coreUserNSBundle(h, func(s *Spec) {
		s.Linux.Namespaces = slicesDelete(s.Linux.Namespaces, specs.NetworkNamespace)
	}, "sh", "-c", "cat /proc/self/mountinfo; echo 0 > /sys/kernel/profiling 2>/dev/null && echo WROTE; true")
	out := h.Must("run", "--bundle", bundle, h.ID()).Stdout
	sys := usernsMounts(out, "/sys")
	if len(sys) == 0 || strings.Fields(sys[0])[2] != hostDev(t, "/sys") {
		t.Fatalf("/sys is not the host's sysfs (%s): %q", hostDev(t, "/sys"), sys)
	}
	for _, l := range sys {
		if f := strings.Fields(l); !strings.HasPrefix(f[5], "ro") {
			t.Errorf("writable mount under /sys: %s", l)
		}
	}
	if strings.Contains(out, "WROTE") {
		t.Errorf("wrote to the host's sysfs")
	}
}

func slicesDelete(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range nss {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

// TestUserNSMqueueWithoutIPCNS: nor can it mount mqueue without its own
// ipc namespace: the host's /dev/mqueue is bound instead, or, on a host
// without one, the error says what to do.
func TestUserNSMqueueWithoutIPCNS(t *testing.T) {
	h := New(t)
	bundle := coreUserNSBundle(h, func(s *Spec) {
		s.Linux.Namespaces = slicesDelete(s.Linux.Namespaces, specs.IPCNamespace)
	}, "cat", "/proc/self/mountinfo")
	var st unix.Statfs_t
	const mqueueMagic = 0x19800202
	if unix.Statfs("/dev/mqueue", &st) != nil || st.Type != mqueueMagic {
		h.Fails("give the container an ipc namespace", "run", "--bundle", bundle, h.ID())
		return
	}
	out := h.Must("run", "--bundle", bundle, h.ID()).Stdout
	if m := usernsMounts(out, "/dev/mqueue"); len(m) == 0 || strings.Fields(m[0])[2] != hostDev(t, "/dev/mqueue") {
		t.Errorf("/dev/mqueue is not the host's: %q", m)
	}
}

// TestUserNSMountIDOptions: devpts's gid=5 is dropped when gid 5 is not
// mapped (runc); any other unmapped uid=/gid= option is a clear error.
func TestUserNSMountIDOptions(t *testing.T) {
	h := New(t)
	onlyRoot := func(s *Spec) {
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}
	}
	bundle := coreUserNSBundle(h, onlyRoot, "cat", "/proc/self/mountinfo")
	out := h.Must("run", "--bundle", bundle, h.ID()).Stdout
	pts := usernsMounts(out, "/dev/pts")
	if len(pts) != 1 || strings.Contains(pts[0], "gid=") {
		t.Errorf("/dev/pts with gid 5 unmapped: %q, want mounted without gid=", pts)
	}

	bundle = coreUserNSBundle(h, func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"uid=70000"}})
	}, "true")
	h.Fails(`mount option "uid=70000": uid 70000 is not mapped in the container's user namespace`, "run", "--bundle", bundle, h.ID())
}

// TestUserNSIDsNotMapped: the init's root and the process's ids must be
// mapped; said before anything is made.
func TestUserNSIDsNotMapped(t *testing.T) {
	h := New(t)
	for _, c := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Process.User.UID = 70000 }, "process.user.uid: uid 70000 is not mapped by linux.uidMappings"},
		{func(s *Spec) { s.Process.User.GID = 70000 }, "process.user.gid: gid 70000 is not mapped by linux.gidMappings"},
		{func(s *Spec) { s.Process.User.AdditionalGids = []uint32{1, 70000} }, "process.user.additionalGids[1]: gid 70000 is not mapped"},
		{func(s *Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: 100001, Size: 100}}
		}, "linux.uidMappings: container uid 0 (root, which runs the init) is not mapped"},
	} {
		bundle := coreUserNSBundle(h, c.edit, "true")
		h.Fails(c.want, "run", "--bundle", bundle, h.ID())
	}
}

// TestUserNSRootfsNotAccessible: a rootfs the container's root cannot
// reach is a clear error naming the directory and the fix, not EACCES
// from deep in the init.
func TestUserNSRootfsNotAccessible(t *testing.T) {
	h := New(t)
	bundle := coreUserNSBundle(h, nil, "true")
	if err := os.Chmod(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Fails(fmt.Sprintf("root.path: rootfs %s: not accessible to uid 100000 (container root): %s is mode 0700 owned by 0:0",
		filepath.Join(bundle, "rootfs"), bundle), "run", "--bundle", bundle, h.ID())

	// A rootfs owned by a mapped id needs no search bit for others.
	if err := os.Chmod(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(bundle, 100000, 100000); err != nil {
		t.Fatal(err)
	}
	h.Must("run", "--bundle", bundle, h.ID())
}

// TestUserNSImage: an image rootfs in a user namespace. The runtime makes
// the overlay with idmapped layers (shared, owned by 0 on disk) and hands
// it to the init: the container sees the image's files as its root's,
// whiteouts and opaque directories work (trusted.* xattrs), what it writes
// lands in its upper dir with its host ids, and the layers are untouched (no chown: they are shared).
func TestUserNSImage(t *testing.T) {
	e := newImageEnv(t)
	archive := filepath.Join(t.TempDir(), "oci.tar")
	testimage.OCIArchive(t, archive, "docker.io/podrun/busybox:test")
	e.img("import", archive)
	b := e.bundle("docker.io/podrun/busybox:test", func(s *Spec) {
		shArgs(fmt.Sprintf("test -e %s && echo whiteout-visible; ls %s; stat -c '%%u:%%g' /bin/busybox /; echo data > /written; cat /written; id -u",
			testimage.WhiteoutFile, testimage.OpaqueDir))(s)
		coreSetNS(s, specs.UserNamespace, "")
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	})
	// The mapped root must reach the (empty) rootfs dir the overlay covers.
	for _, d := range []string{b, filepath.Dir(b), filepath.Dir(filepath.Dir(b))} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	before := usernsOwners(t, filepath.Join(e.store, "layers"))
	id := e.ID()
	r := e.Must("run", "--keep", "--bundle", b, id)
	if want := "upper\n0:0\n0:0\ndata\n0\n"; r.Stdout != want {
		t.Errorf("container output %q, want %q", r.Stdout, want)
	}
	// The write is in the container's upper dir, owned by its root's host
	// ids; no layer file changed owner.
	var found bool
	_ = filepath.Walk(filepath.Join(e.store, "containers"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "written" {
			found = true
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 100000 || st.Gid != 100000 {
				t.Errorf("%s owned by %d:%d, want 100000:100000", p, st.Uid, st.Gid)
			}
		}
		return nil
	})
	if !found {
		t.Errorf("/written not in the container's upper dir")
	}
	if after := usernsOwners(t, filepath.Join(e.store, "layers")); !maps.Equal(before, after) {
		t.Errorf("layer files changed owner or appeared: %d files before, %d after", len(before), len(after))
	}
	e.Must("delete", id)
}

// usernsOwners maps every file below dir to its owner uid:gid.
func usernsOwners(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		m[p] = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUserNSSetgroupsDenied: a container joining a user namespace whose
// setgroups is "deny" runs, unless it asks for additional gids, which is
// a clear error rather than a bare EPERM.
func TestUserNSSetgroupsDenied(t *testing.T) {
	h := New(t)
	holder := exec.Command("sleep", "60")
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	holder.SysProcAttr = &syscall.SysProcAttr{
		// A pid namespace the user namespace owns, for the container's /proc.
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID,
		UidMappings: m, GidMappings: m,
		GidMappingsEnableSetgroups: false,
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	userns := fmt.Sprintf("/proc/%d/ns/user", holder.Process.Pid)
	join := func(gids []uint32) func(*Spec) {
		return func(s *Spec) {
			coreSetNS(s, specs.UserNamespace, userns)
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
			coreSetNS(s, specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/pid", holder.Process.Pid))
			s.Process.User.AdditionalGids = gids
		}
	}
	out := h.Must("run", "--bundle", coreUserNSBundle(h, join(nil), "cat", "/proc/self/setgroups"), h.ID()).Stdout
	if strings.TrimSpace(out) != "deny" {
		t.Errorf("container's setgroups = %q, want deny (the joined namespace's)", out)
	}
	h.Fails(`process.user.additionalGids: the container's user namespace denies setgroups`,
		"run", "--bundle", coreUserNSBundle(h, join([]uint32{10}), "true"), h.ID())
}

// TestUserNSBindSourceRootOnly: bind-mount sources that only host root
// can reach (below a 0700 root-owned directory) work in a user namespace,
// as in runc: the runtime opens them before the init enters the namespace
// and the init mounts them from the fds, which it then closes.
func TestUserNSBindSourceRootOnly(t *testing.T) {
	h := New(t)
	secret := filepath.Join(t.TempDir(), "rootonly")
	if err := os.MkdirAll(filepath.Join(secret, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "dir", "data"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "file"), []byte("file-from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := coreUserNSBundle(h, func(s *Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/dir", Type: "bind", Source: filepath.Join(secret, "dir"), Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/mnt/file", Type: "bind", Source: filepath.Join(secret, "file"), Options: []string{"bind"}})
	}, "sh", "-c", "cat /mnt/dir/data /mnt/file; touch /mnt/dir/x 2>/dev/null || echo read-only")
	r := h.Run("run", "--bundle", bundle, h.ID())
	if r.Code != 0 || r.Stdout != "from-host\nfile-from-host\nread-only\n" {
		t.Errorf("run: exit %d stdout %q stderr %q; want both files read, ro kept", r.Code, r.Stdout, r.Stderr)
	}
	// The created init holds no fd of the sources.
	id := h.ID()
	h.MustNoPipes(h.Cmd("create", "--bundle", bundle, id))
	pid := h.Pid(id)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var sources []os.FileInfo
	for _, p := range []string{filepath.Join(secret, "dir"), filepath.Join(secret, "file")} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, st)
	}
	for _, fd := range fds {
		st, err := os.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		for _, src := range sources {
			if err == nil && os.SameFile(st, src) {
				t.Errorf("created init holds fd %s of %s", fd.Name(), src.Name())
			}
		}
	}
	h.Must("delete", "--force", id)
}
