package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

// newRootfsHarness returns a harness for a rootfs test and checks, when
// the test ends, that the host's mount table is what it was before:
// same mount points with the same options and propagation. Mounts under
// other tests' temporary directories (tests of other packages may run at
// the same time) are left out of the comparison.
func newRootfsHarness(t *testing.T) *H {
	t.Helper()
	testutil.RequiresRoot(t)
	mine := filepath.Dir(t.TempDir())
	before := hostMountTable(mine)
	t.Cleanup(func() {
		after := hostMountTable(mine)
		for k := range before {
			if !after[k] {
				t.Errorf("host mount changed or gone: %s", k)
			}
		}
		for k := range after {
			if !before[k] {
				t.Errorf("host mount appeared: %s", k)
			}
		}
	})
	return New(t)
}

// hostMountTable returns the host's mounts as "mountpoint options
// optional-fields" keys, without the mounts under the system's temporary
// directory that are not under mine.
func hostMountTable(mine string) map[string]bool {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	tmp := filepath.Clean(os.TempDir()) + "/"
	m := map[string]bool{}
	for _, line := range strings.Split(string(mi), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 6 {
			continue
		}
		mp := f[4]
		if strings.HasPrefix(mp, tmp) && !strings.HasPrefix(mp, mine+"/") && mp != mine {
			continue
		}
		fstype := strings.Fields(post)
		m[strings.Join(append([]string{mp, f[5]}, append(f[6:], fstype[0])...), " ")] = true
	}
	return m
}

// shRun runs `sh -c script` in a new container of a fresh bundle, after
// edit (if not nil) changed the spec, and returns its standard output.
func shRun(h *H, edit func(s *specs.Spec, bundle string), script string, podrunArgs ...string) string {
	h.t.Helper()
	bundle := h.Bundle("sh", "-c", script)
	if edit != nil {
		s := testimage.Spec(h.t, bundle)
		edit(s, bundle)
		testimage.WriteSpec(h.t, bundle, s)
	}
	args := append([]string{"run"}, podrunArgs...)
	r := h.Must(append(args, "--bundle", bundle, h.ID())...)
	return r.Stdout
}

// reportWith runs the checker report in a container whose spec edit
// changed, with extra podrun run flags.
func reportWith(h *H, edit func(s *specs.Spec, bundle string), podrunArgs []string, checkerArgs ...string) *checkreport.Report {
	h.t.Helper()
	bundle := h.Bundle(append([]string{testimage.CheckerInRootfs, "report"}, checkerArgs...)...)
	if edit != nil {
		s := testimage.Spec(h.t, bundle)
		edit(s, bundle)
		testimage.WriteSpec(h.t, bundle, s)
	}
	args := append([]string{"run"}, podrunArgs...)
	r := h.Must(append(args, "--bundle", bundle, h.ID())...)
	return parseReport(h.t, r.Stdout)
}

func mustMount(t *testing.T, rep *checkreport.Report, mp string) *checkreport.Mount {
	t.Helper()
	m := rep.Mount(mp)
	if m == nil {
		var mps []string
		for _, m := range rep.Mounts {
			mps = append(mps, m.Mountpoint)
		}
		t.Fatalf("no mount at %s in the container; mounts: %q", mp, mps)
	}
	return m
}

func wantOptions(t *testing.T, m *checkreport.Mount, opts ...string) {
	t.Helper()
	for _, o := range opts {
		if !m.HasOption(o) {
			t.Errorf("mount %s: option %q missing in %q / %q", m.Mountpoint, o, m.Options, m.SuperOptions)
		}
	}
}

func noOptions(t *testing.T, m *checkreport.Mount, opts ...string) {
	t.Helper()
	for _, o := range opts {
		for _, have := range m.Options {
			if have == o {
				t.Errorf("mount %s: unexpected option %q in %q", m.Mountpoint, o, m.Options)
			}
		}
	}
}

// hostMount mounts on the host for the test and unmounts when it ends.
func hostMount(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		t.Fatalf("mount %s on %s: %v", source, target, err)
	}
	if flags&(syscall.MS_REMOUNT|syscall.MS_SHARED|syscall.MS_SLAVE|syscall.MS_PRIVATE) != 0 {
		return
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

func TestRootfsReadonly(t *testing.T) {
	h := newRootfsHarness(t)
	script := `checker write /x 2>&1; echo "root=$?"; checker write /tmp/x && echo tmp-ok; cat /tmp/x 2>/dev/null; echo`

	// root.readonly (the default bundle) without a /tmp mount: both fail.
	out := shRun(h, nil, script)
	if !strings.Contains(out, "read-only file system") || !strings.Contains(out, "root=1") || strings.Contains(out, "tmp-ok") {
		t.Errorf("read-only root: %q, want writes to / and /tmp to fail with EROFS", out)
	}

	// With a tmpfs on /tmp, /tmp is writable and / still is not.
	out = shRun(h, func(s *specs.Spec, _ string) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
	}, script)
	if !strings.Contains(out, "root=1") || !strings.Contains(out, "tmp-ok") {
		t.Errorf("read-only root with a /tmp tmpfs: %q, want / read-only and /tmp writable", out)
	}

	rep := h.Report(nil, "--path", "/", "--path", "/etc/passwd")
	wantOptions(t, mustMount(t, rep, "/"), "ro")
	if p := rep.Paths["/"]; !p.Exists || p.Writable {
		t.Errorf("/: %+v, want existing and not writable", p)
	}

	// root.readonly false: / is writable, and the write lands in the
	// bundle's rootfs.
	bundle := h.Bundle(testimage.CheckerInRootfs, "write", "/written", "hello")
	s := testimage.Spec(t, bundle)
	s.Root.Readonly = false
	testimage.WriteSpec(t, bundle, s)
	h.Must("run", "--bundle", bundle, h.ID())
	if data, err := os.ReadFile(filepath.Join(bundle, "rootfs/written")); err != nil || string(data) != "hello" {
		t.Errorf("write to / of a read-write root: %q, %v", data, err)
	}
}

func TestRootfsMountOptions(t *testing.T) {
	h := newRootfsHarness(t)
	rep := reportWith(h, func(s *specs.Spec, _ string) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1750", "size=1m", "nosuid"}},
			specs.Mount{Destination: "/data/locked", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid", "nodev", "noexec", "size=64k"}},
			specs.Mount{Destination: "/data/locked-not", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0700"}},
		)
	}, nil, "--path", "/data", "--path", "/data/locked", "--path", "/data/locked-not", "--path", "/dev/shm")

	data := mustMount(t, rep, "/data")
	if data.FSType != "tmpfs" {
		t.Errorf("/data: fstype %s", data.FSType)
	}
	wantOptions(t, data, "rw", "nosuid", "mode=1750", "size=1024k")
	noOptions(t, data, "ro", "noexec", "nodev")
	if p := rep.Paths["/data"]; p.Mode != "dtrwxr-x---" {
		t.Errorf("/data mode %q, want dtrwxr-x---", p.Mode)
	}

	locked := mustMount(t, rep, "/data/locked")
	wantOptions(t, locked, "ro", "nosuid", "nodev", "noexec", "size=64k")
	if p := rep.Paths["/data/locked"]; !p.Exists || p.Writable {
		t.Errorf("/data/locked: %+v, want read-only", p)
	}
	other := mustMount(t, rep, "/data/locked-not")
	wantOptions(t, other, "rw", "mode=700")
	if p := rep.Paths["/data/locked-not"]; !p.Writable {
		t.Errorf("/data/locked-not: %+v, want writable", p)
	}

	// In order: the nested mounts sit on the first one.
	idx := map[string]int{}
	for i, m := range rep.Mounts {
		idx[m.Mountpoint] = i
	}
	if !(idx["/data"] < idx["/data/locked"] && idx["/data/locked"] < idx["/data/locked-not"]) {
		t.Errorf("mount order: /data %d, /data/locked %d, /data/locked-not %d", idx["/data"], idx["/data/locked"], idx["/data/locked-not"])
	}
	if locked.Parent != data.ID || other.Parent != data.ID {
		t.Errorf("nested mounts' parents %d, %d; want /data's id %d", locked.Parent, other.Parent, data.ID)
	}

	// The default bundle's mounts, with their options.
	// The spec's /proc has no options: rw, and the kernel's relatime.
	wantOptions(t, mustMount(t, rep, "/proc"), "rw")
	dev := mustMount(t, rep, "/dev")
	wantOptions(t, dev, "nosuid", "mode=755", "size=65536k")
	if dev.FSType != "tmpfs" {
		t.Errorf("/dev fstype %s", dev.FSType)
	}
	pts := mustMount(t, rep, "/dev/pts")
	wantOptions(t, pts, "nosuid", "noexec", "mode=620", "ptmxmode=666", "gid=5")
	if pts.FSType != "devpts" {
		t.Errorf("/dev/pts fstype %s", pts.FSType)
	}
	shm := mustMount(t, rep, "/dev/shm")
	// tmpfs does not show mode=1777, its default.
	wantOptions(t, shm, "nosuid", "noexec", "nodev", "size=65536k")
	if shm.FSType != "tmpfs" {
		t.Errorf("/dev/shm fstype %s", shm.FSType)
	}
	if p := rep.Paths["/dev/shm"]; p.Mode != "dtrwxrwxrwx" { // Go prints the sticky bit as the leading t
		t.Errorf("/dev/shm mode %q, want dtrwxrwxrwx (1777)", p.Mode)
	}
	if mq := mustMount(t, rep, "/dev/mqueue"); mq.FSType != "mqueue" {
		t.Errorf("/dev/mqueue fstype %s", mq.FSType)
	}
	wantOptions(t, mustMount(t, rep, "/sys"), "ro", "nosuid", "nodev", "noexec")
}

func TestRootfsBindMounts(t *testing.T) {
	h := newRootfsHarness(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "from-host"), []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A submount, to tell rbind from bind.
	sub := filepath.Join(host, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	hostMount(t, "podrun-sub", sub, "tmpfs", 0, "size=64k")
	if err := os.WriteFile(filepath.Join(sub, "in-sub"), []byte("sub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A single file, bind-mounted onto a file that does not exist yet.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("one file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	script := `cat /rw/from-host /ro/from-host /file
checker write /rw/from-container written && echo rw-ok
checker write /ro/nope 2>&1; echo "ro=$?"
cat /rbind/sub/in-sub; ls /bind/sub | wc -l
`
	edit := func(s *specs.Spec, _ string) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/rw", Type: "bind", Source: host, Options: []string{"bind", "rw"}},
			specs.Mount{Destination: "/ro", Type: "bind", Source: host, Options: []string{"bind", "ro", "nosuid", "nodev"}},
			specs.Mount{Destination: "/rbind", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/bind", Source: host, Options: []string{"bind"}},
			specs.Mount{Destination: "/file", Type: "bind", Source: file, Options: []string{"bind", "ro"}},
		)
	}
	out := shRun(h, edit, script)
	for _, want := range []string{"host data\nhost data\none file\n", "rw-ok", "read-only file system", "ro=1", "sub\n0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("bind mounts: output %q lacks %q", out, want)
		}
	}
	if data, err := os.ReadFile(filepath.Join(host, "from-container")); err != nil || string(data) != "written" {
		t.Errorf("write through the rw bind mount: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(host, "nope")); err == nil {
		t.Error("write through the ro bind mount reached the host")
	}

	rep := reportWith(h, edit, nil)
	wantOptions(t, mustMount(t, rep, "/rw"), "rw")
	ro := mustMount(t, rep, "/ro")
	wantOptions(t, ro, "ro", "nosuid", "nodev")
	wantOptions(t, mustMount(t, rep, "/rbind"), "ro")
	// rbind: the submount is there; bind alone does not bring it.
	if m := rep.Mount("/rbind/sub"); m == nil {
		t.Error("rbind: submount /rbind/sub missing")
	} else if m.FSType != "tmpfs" {
		t.Errorf("/rbind/sub fstype %s", m.FSType)
	}
	if m := rep.Mount("/bind/sub"); m != nil {
		t.Errorf("bind (not rbind) brought the submount: %+v", m)
	}
	if f := mustMount(t, rep, "/file"); !f.HasOption("ro") {
		t.Errorf("/file options %q, want ro", f.Options)
	}
	// The host's mount options are untouched by the container's ro.
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 5 && f[4] == sub && strings.HasPrefix(f[5], "ro") {
				t.Errorf("host submount turned read-only: %s", line)
			}
		}
	}
}

// hostPeerGroup returns the shared:N field of the host mount at mp.
func hostPeerGroup(t *testing.T, mp string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		pre, _, _ := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if len(f) > 6 && f[4] == mp {
			for _, o := range f[6:] {
				if strings.HasPrefix(o, "shared:") {
					return strings.TrimPrefix(o, "shared:")
				}
			}
		}
	}
	t.Fatalf("host mount %s is not shared", mp)
	return ""
}

func hasOptional(m *checkreport.Mount, prefix string) string {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, prefix) {
			return strings.TrimPrefix(o, prefix)
		}
	}
	return ""
}

func TestRootfsMountPropagation(t *testing.T) {
	h := newRootfsHarness(t)
	// A shared host mount.
	host := t.TempDir()
	hostMount(t, host, host, "", syscall.MS_BIND, "")
	hostMount(t, "", host, "", syscall.MS_SHARED, "")
	peer := hostPeerGroup(t, host)

	edit := func(s *specs.Spec, _ string) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/slave", Type: "bind", Source: host, Options: []string{"rbind", "rslave"}},
			specs.Mount{Destination: "/shared", Type: "bind", Source: host, Options: []string{"rbind", "rshared"}},
			specs.Mount{Destination: "/private", Type: "bind", Source: host, Options: []string{"rbind", "rprivate"}},
		)
	}
	rep := reportWith(h, edit, nil)
	slave := mustMount(t, rep, "/slave")
	if m := hasOptional(slave, "master:"); m != peer || hasOptional(slave, "shared:") != "" {
		t.Errorf("/slave optional fields %q, want master:%s only", slave.Optional, peer)
	}
	shared := mustMount(t, rep, "/shared")
	if g := hasOptional(shared, "shared:"); g == "" || g == peer {
		t.Errorf("/shared optional fields %q, want a container peer group (not the host's %s)", shared.Optional, peer)
	}
	if p := mustMount(t, rep, "/private"); p.Propagation != "private" || len(p.Optional) != 0 {
		t.Errorf("/private optional fields %q (%s), want none", p.Optional, p.Propagation)
	}

	// rslave for real: a mount made on the host while the container runs
	// shows up in it; one made in the container does not reach the host.
	bundle := h.Bundle("sh", "-c", `i=0; while [ ! -e /slave/late/marker ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
cat /slave/late/marker; mount -t tmpfs none /shared 2>&1; echo "mount=$?"`)
	s := testimage.Spec(t, bundle)
	edit(s, bundle)
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
	s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_ADMIN")
	testimage.WriteSpec(t, bundle, s)
	cmd := h.Cmd("run", "--bundle", bundle, h.ID())
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	done := make(chan Result, 1)
	go func() { done <- h.runQuiet(cmd) }()
	late := filepath.Join(host, "late")
	if err := os.Mkdir(late, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	hostMount(t, "podrun-late", late, "tmpfs", 0, "size=64k")
	if err := os.WriteFile(filepath.Join(late, "marker"), []byte("seen from the container\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Code != 0 || !strings.Contains(stdout.String(), "seen from the container") {
		t.Errorf("host mount did not propagate into the rslave mount: exit %d, %q, stderr %q", r.Code, stdout.String(), r.Stderr)
	}
	if !strings.Contains(stdout.String(), "mount=0") {
		t.Errorf("mount in the container failed: %q", stdout.String())
	}
}

// runQuiet runs cmd like RunCmd but returns an error code instead of
// failing the test from another goroutine.
func (h *H) runQuiet(cmd *exec.Cmd) Result {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Start()
	if err == nil {
		err = waitTimeout(cmd, 60*time.Second)
	}
	r := Result{Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		r.Code, r.Stderr = -1, err.Error()
	}
	return r
}

func TestRootfsPropagation(t *testing.T) {
	h := newRootfsHarness(t)
	for _, tc := range []struct {
		prop string
		want string // Propagation of "/" in the container
	}{
		{"", "slave"}, // runc's default: rslave, then private parent
		{"shared", "shared"},
		{"rslave", "slave"},
		{"private", "private"},
		{"rprivate", "private"},
	} {
		rep := reportWith(h, func(s *specs.Spec, _ string) { s.Linux.RootfsPropagation = tc.prop }, nil)
		root := mustMount(t, rep, "/")
		got := root.Propagation
		if tc.want == "slave" && got == "private" {
			// The rootfs's own mount is a bind of a private parent:
			// there is no master to follow, so "/" is private.
			got = "slave"
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("rootfsPropagation %q: / is %q (%q), want %s", tc.prop, root.Propagation, root.Optional, tc.want)
		}
	}
}

// statLines maps each path to busybox stat's "type major:minor mode
// uid:gid" line for it.
func statLines(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if p, rest, ok := strings.Cut(line, " "); ok {
			m[p] = rest
		}
	}
	return m
}

func TestRootfsDevices(t *testing.T) {
	h := newRootfsHarness(t)
	mode := os.FileMode(0o640)
	uid, gid := uint32(testimage.TesterUID), uint32(testimage.ExtraGID)
	out := shRun(h, func(s *specs.Spec, _ string) {
		s.Linux.Devices = append(s.Linux.Devices,
			specs.LinuxDevice{Path: "/dev/custom", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: &uid, GID: &gid},
			specs.LinuxDevice{Path: "/dev/sub/fifo", Type: "p"},
		)
	}, `stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/custom /dev/sub/fifo
for l in fd stdin stdout stderr ptmx; do echo "link $l $(readlink /dev/$l)"; done
echo "ls: $(ls -A /dev | tr '\n' ' ')"
echo data > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c`)
	st := statLines(out)
	for path, want := range map[string]string{
		"/dev/null":     "character special file 1:3 666 0:0",
		"/dev/zero":     "character special file 1:5 666 0:0",
		"/dev/full":     "character special file 1:7 666 0:0",
		"/dev/random":   "character special file 1:8 666 0:0",
		"/dev/urandom":  "character special file 1:9 666 0:0",
		"/dev/tty":      "character special file 5:0 666 0:0",
		"/dev/custom":   fmt.Sprintf("character special file 1:7 640 %d:%d", uid, gid),
		"/dev/sub/fifo": "fifo 0:0 666 0:0",
	} {
		if st[path] != want {
			t.Errorf("%s: %q, want %q", path, st[path], want)
		}
	}
	for _, want := range []string{
		"link fd /proc/self/fd\n", "link stdin /proc/self/fd/0\n", "link stdout /proc/self/fd/1\n",
		"link stderr /proc/self/fd/2\n", "link ptmx pts/ptmx\n", "\n4\n4\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/dev: output %q lacks %q", out, want)
		}
	}
	// Nothing of the host's /dev.
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "ls: "); ok {
			for _, name := range strings.Fields(rest) {
				switch name {
				case "vda", "sda", "kmsg", "mem", "kvm", "loop0", "console-host":
					t.Errorf("host device %q visible in the container's /dev: %s", name, rest)
				}
			}
		}
	}
}

func TestRootfsMaskedAndReadonlyPaths(t *testing.T) {
	h := newRootfsHarness(t)
	edit := func(s *specs.Spec, bundle string) {
		secret := filepath.Join(bundle, "rootfs/opt/secret")
		if err := os.MkdirAll(secret, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(secret, "key"), []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "rootfs/etc/token"), []byte("token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/opt/secret", "/etc/token", "/does/not/exist")
		s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/dev/shm", "/no/such/path")
	}
	// The default maskedPaths that exist on this kernel: files get
	// /dev/null bound over them, directories an empty read-only tmpfs.
	var files, dirs []string
	for _, p := range testimage.Spec(t, h.Bundle()).Linux.MaskedPaths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dirs = append(dirs, p)
		} else if err == nil {
			files = append(files, p)
		}
	}
	files = append(files, "/etc/token")
	dirs = append(dirs, "/opt/secret")
	out := shRun(h, edit, `for f in `+strings.Join(files, " ")+`; do echo "$f $(stat -c '%F %t:%T' $f) size=$(wc -c < $f)"; done
for d in `+strings.Join(dirs, " ")+`; do echo "$d entries=$(ls -A $d | wc -l)"; done
echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo "procsys=$?"
checker write /dev/shm/x 2>/dev/null; echo "shm=$?"`)
	st := statLines(out)
	for _, f := range files {
		if want := "character special file 1:3 size=0"; st[f] != want {
			t.Errorf("masked file %s: %q, want %q (/dev/null bound over it)", f, st[f], want)
		}
	}
	for _, d := range dirs {
		if st[d] != "entries=0" {
			t.Errorf("masked dir %s: %q, want entries=0", d, st[d])
		}
	}
	for _, want := range []string{"procsys=1", "shm=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("readonly paths: output %q lacks %q", out, want)
		}
	}

	rep := reportWith(h, edit, nil, "--path", "/proc/sys/kernel/hostname")
	ps := mustMount(t, rep, "/proc/sys")
	wantOptions(t, ps, "ro")
	if p := rep.Paths["/proc/sys/kernel/hostname"]; !p.Exists || p.Writable {
		t.Errorf("/proc/sys/kernel/hostname: %+v, want read-only", p)
	}
	for _, p := range []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(p); err != nil {
			continue // not on this kernel
		}
		if m := rep.Mount(p); m == nil || !m.HasOption("ro") {
			t.Errorf("readonly path %s: mount %+v, want ro", p, m)
		}
	}
	masked := mustMount(t, rep, "/opt/secret")
	wantOptions(t, masked, "ro")
	if masked.FSType != "tmpfs" {
		t.Errorf("masked dir /opt/secret: fstype %s, want an empty read-only tmpfs", masked.FSType)
	}
	wantOptions(t, mustMount(t, rep, "/dev/shm"), "ro")
}

func TestRootfsIsBundleRootfs(t *testing.T) {
	h := newRootfsHarness(t)
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	hostOnly := t.TempDir() // exists on the host only
	for _, args := range [][]string{nil, {"--no-pivot"}} {
		rep := reportWith(h, func(s *specs.Spec, bundle string) {
			if err := os.WriteFile(filepath.Join(bundle, "rootfs", marker), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, args, "--path", "/"+marker, "--path", hostOnly, "--path", "/work", "--path", h.Root, "--path", "/usr/bin/checker")
		name := "pivot_root"
		if len(args) > 0 {
			name = "--no-pivot"
		}
		if !rep.Paths["/"+marker].Exists || !rep.Paths["/usr/bin/checker"].Exists {
			t.Errorf("%s: the bundle's rootfs is not the container's root: %+v", name, rep.Paths)
		}
		for _, p := range []string{hostOnly, "/work", h.Root} {
			if rep.Paths[p].Exists {
				t.Errorf("%s: host path %s visible in the container", name, p)
			}
		}
		// Only the container's mounts: none of the host's.
		for _, m := range rep.Mounts {
			if strings.HasPrefix(m.Mountpoint, "/tmp/") || strings.HasPrefix(m.Mountpoint, "/work") || strings.HasPrefix(m.Mountpoint, "/mnt/") {
				t.Errorf("%s: host mount visible in the container: %+v", name, m)
			}
		}
		if root := mustMount(t, rep, "/"); !root.HasOption("ro") {
			t.Errorf("%s: / options %q, want ro", name, root.Options)
		}
		if rep.Pid != 1 || rep.Cwd != "/" {
			t.Errorf("%s: pid %d cwd %q", name, rep.Pid, rep.Cwd)
		}
	}
}

// TestRootfsCgroupMount checks the container's /sys/fs/cgroup (cgroup2 on
// a unified host, runc's tmpfs of v1 hierarchies otherwise, read-only,
// showing the container's cgroup as its root through the cgroup
// namespace) and, from the host, that the init is in its cgroup as soon
// as create has returned.
func TestRootfsCgroupMount(t *testing.T) {
	h := newRootfsHarness(t)
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	const cgroup2Magic = 0x63677270
	unified := st.Type == cgroup2Magic

	rep := h.Report(nil, "--path", "/sys/fs/cgroup/cgroup.procs")
	cg := mustMount(t, rep, "/sys/fs/cgroup")
	if unified {
		if cg.FSType != "cgroup2" {
			t.Errorf("/sys/fs/cgroup: fstype %s, want cgroup2", cg.FSType)
		}
		wantOptions(t, cg, "ro", "nosuid", "nodev", "noexec")
		if p := rep.Paths["/sys/fs/cgroup/cgroup.procs"]; !p.Exists || p.Writable {
			t.Errorf("/sys/fs/cgroup/cgroup.procs: %+v, want existing, read-only", p)
		}
		if len(rep.Cgroups) != 1 || rep.Cgroups[0].ID != 0 || rep.Cgroups[0].Path != "/" {
			t.Errorf("/proc/self/cgroup %+v, want 0::/", rep.Cgroups)
		}
	} else {
		if cg.FSType != "tmpfs" {
			t.Errorf("/sys/fs/cgroup: fstype %s, want tmpfs", cg.FSType)
		}
		n := 0
		for _, m := range rep.Mounts {
			if strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup/") && m.FSType == "cgroup" {
				n++
				wantOptions(t, &m, "ro", "nosuid", "nodev", "noexec")
				if m.Root != "/" {
					t.Errorf("%s: root %s, want / (the cgroup namespace's)", m.Mountpoint, m.Root)
				}
			}
		}
		if n == 0 {
			t.Errorf("no cgroup v1 hierarchy under /sys/fs/cgroup: %+v", rep.Mounts)
		}
		for _, c := range rep.Cgroups {
			if c.Path != "/" {
				t.Errorf("/proc/self/cgroup line %+v, want path / in the cgroup namespace", c)
			}
		}
	}

	// From the host: the init is in the container's cgroup when create
	// returns.
	id := h.ID()
	bundle := h.Bundle("sleep", "1000")
	s := testimage.Spec(t, bundle)
	s.Linux.CgroupsPath = "/" + id
	testimage.WriteSpec(t, bundle, s)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := h.Cmd("create", "--bundle", bundle, "--pid-file", pidFile, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := waitTimeout(cmd, 60*time.Second); err != nil {
		t.Fatalf("podrun create: %v", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	procCg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(procCg)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.HasPrefix(parts[1], "name=") || parts[1] == "misc" || parts[1] == "rdma" {
			continue
		}
		if !unified && parts[0] == "0" {
			continue // the hybrid host's empty unified hierarchy
		}
		if !strings.HasSuffix(parts[2], "/"+id) {
			t.Errorf("init %s: cgroup line %q, want the container's cgroup /%s", pid, line, id)
		}
	}
	h.Must("delete", "--force", id)
}
