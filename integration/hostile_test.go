package integration

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/testimage"
)

// The tests here give podrun hostile root filesystems and configs: each
// tries to make the runtime act on the host. Each must fail with a clear
// one-line error or have its effect stay inside the container, and the
// host must be untouched: a sentinel directory keeps its content and
// times, the host's mount table is unchanged (newRootfsHarness) and no
// state, cgroup or process is left (AssertClean).

// sentinel is a host directory that hostile containers aim at.
type sentinel struct {
	t    *testing.T
	dir  string
	snap string
}

func newSentinel(t *testing.T) *sentinel {
	t.Helper()
	s := &sentinel{t: t, dir: filepath.Join(t.TempDir(), "host-sentinel")}
	if err := os.MkdirAll(filepath.Join(s.dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"secret": "host data\n", "passwd": "root:x:0:0:root:/leaked-home:/bin/sh\n", "group": "root:x:0:\n"} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.snap = snapshotTree(t, s.dir)
	t.Cleanup(s.check)
	return s
}

// snapshotTree describes every entry under dir: type, mode, owner, size,
// mtime, ctime and content digest.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %o %d:%d %d %d.%d %d.%d", p, st.Mode, st.Uid, st.Gid, st.Size,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return b.String()
}

// check fails the test if the sentinel changed or something is mounted
// on or below it.
func (s *sentinel) check() {
	s.t.Helper()
	if now := snapshotTree(s.t, s.dir); now != s.snap {
		s.t.Errorf("host sentinel %s changed:\nbefore:\n%s\nafter:\n%s", s.dir, s.snap, now)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), s.dir) {
		s.t.Errorf("a host mount on the sentinel %s:\n%s", s.dir, mi)
	}
}

// up returns a relative symlink target climbing from dir inside rootfs to
// the real root many times over, then down to host path p: resolved on the
// host it would be p itself.
func up(p string) string {
	return strings.Repeat("../", 40) + strings.TrimPrefix(p, "/")
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(link)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// hostileRun runs script in a container whose bundle edit prepared and
// returns the result, whatever the exit code.
func hostileRun(h *H, edit func(s *Spec, bundle, rootfs string), script string) Result {
	h.t.Helper()
	bundle := h.Bundle("sh", "-c", script)
	s := testimage.Spec(h.t, bundle)
	edit(s, bundle, filepath.Join(bundle, "rootfs"))
	testimage.WriteSpec(h.t, bundle, s)
	return h.Run("run", "--bundle", bundle, h.ID())
}

func wantDir(t *testing.T, p string) {
	t.Helper()
	if st, err := os.Lstat(p); err != nil || !st.IsDir() {
		t.Errorf("%s: want a directory made inside the rootfs: %v", p, err)
	}
}

// TestHostileMountDestinationSymlinks mounts (tmpfs and bind) on
// destinations that go through symlinks in the rootfs aimed at the host:
// absolute, a ../ chain, and symlinks that an earlier mount of the same
// config brought in. Every mount must land inside the rootfs.
func TestHostileMountDestinationSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		// links returns the symlinks to make (path in rootfs -> target)
		// and the mounts to add.
		setup func(t *testing.T, sen *sentinel, rootfs string) []specs.Mount
		// inRootfs are the mount points that must exist inside the rootfs
		// afterwards (container paths).
		inRootfs func(sen *sentinel) []string
		script   string
	}{
		{"absolute", func(t *testing.T, sen *sentinel, rootfs string) []specs.Mount {
			symlink(t, sen.dir+"/sub", filepath.Join(rootfs, "etc2"))
			symlink(t, sen.dir, filepath.Join(rootfs, "etc3"))
			return []specs.Mount{
				{Destination: "/etc2", Type: "tmpfs", Source: "tmpfs"},
				{Destination: "/etc3/bound", Type: "bind", Source: hostileBindSource(t), Options: []string{"bind"}},
			}
		}, func(sen *sentinel) []string { return []string{sen.dir + "/sub", sen.dir + "/bound"} },
			`touch /etc2/pwned && cat /etc3/bound/marker && echo ok`},
		{"dotdot-chain", func(t *testing.T, sen *sentinel, rootfs string) []specs.Mount {
			symlink(t, up(sen.dir+"/sub"), filepath.Join(rootfs, "a/b/c"))
			symlink(t, "../../../../../../.."+sen.dir, filepath.Join(rootfs, "d"))
			return []specs.Mount{
				{Destination: "/a/b/c", Type: "tmpfs", Source: "tmpfs"},
				{Destination: "/d/bound", Type: "bind", Source: hostileBindSource(t), Options: []string{"rbind", "ro"}},
			}
		}, func(sen *sentinel) []string { return []string{sen.dir + "/sub", sen.dir + "/bound"} },
			`touch /a/b/c/pwned && cat /d/bound/marker && echo ok`},
		{"link-from-earlier-mount", func(t *testing.T, sen *sentinel, rootfs string) []specs.Mount {
			// Mount 1 binds a host directory holding symlinks out; the
			// later mounts go through them. The links did not exist in
			// the rootfs when the config was written.
			links := t.TempDir()
			symlink(t, sen.dir+"/sub", filepath.Join(links, "abs"))
			symlink(t, up(sen.dir), filepath.Join(links, "rel"))
			symlink(t, "/", filepath.Join(links, "root"))
			return []specs.Mount{
				{Destination: "/links", Type: "bind", Source: links, Options: []string{"bind", "ro"}},
				{Destination: "/links/abs", Type: "tmpfs", Source: "tmpfs"},
				{Destination: "/links/rel/bound", Type: "bind", Source: hostileBindSource(t), Options: []string{"bind"}},
				{Destination: "/links/root" + sen.dir + "/t2", Type: "tmpfs", Source: "tmpfs"},
			}
		}, func(sen *sentinel) []string { return []string{sen.dir + "/sub", sen.dir + "/bound", sen.dir + "/t2"} },
			`touch /links/abs/pwned && cat /links/rel/bound/marker && echo ok`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			sen := newSentinel(t)
			var rootfsDir string
			r := hostileRun(h, func(s *Spec, _, rootfs string) {
				rootfsDir = rootfs
				s.Mounts = append(s.Mounts, tc.setup(t, sen, rootfs)...)
			}, tc.script)
			if r.Code != 0 || r.Stdout != "inside\nok\n" {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want the mounts made inside the rootfs", r.Code, r.Stdout, r.Stderr)
			}
			for _, p := range tc.inRootfs(sen) {
				wantDir(t, filepath.Join(rootfsDir, p))
			}
			sen.check()
		})
	}
}

// hostileBindSource returns a host directory holding marker ("inside").
func hostileBindSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileSpecialDirSymlinks replaces /proc, /sys, /dev and the /dev
// mount points of the rootfs by symlinks. proc and sysfs must be refused
// on anything but a real directory (CVE-2019-16884, CVE-2019-19921: a
// procfs mounted through a symlink defeats the LSM and masked paths);
// the others are contained: their mounts land inside the rootfs.
func TestHostileSpecialDirSymlinks(t *testing.T) {
	// The /dev tmpfs copies what the rootfs's /dev holds (tmpcopyup), so
	// the symlinks made there are what the later /dev mounts meet.
	devCopyUp := func(s *Spec) {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "tmpcopyup")
			}
		}
	}
	for _, tc := range []struct {
		name   string
		link   string // container path replaced by a symlink
		target func(sen *sentinel) string
		edit   func(s *Spec)
		want   string // error; "" when the container must run
	}{
		{"proc-to-host", "/proc", func(sen *sentinel) string { return sen.dir }, nil, `"/proc"`},
		{"proc-dotdot", "/proc", func(sen *sentinel) string { return up(sen.dir) }, nil, `"/proc"`},
		{"proc-in-rootfs", "/proc", func(*sentinel) string { return "/tmp/fakeproc" }, nil, "ordinary directory"},
		{"proc-relative-in-rootfs", "/proc", func(*sentinel) string { return "tmp" }, nil, "ordinary directory"},
		{"sys-to-host", "/sys", func(sen *sentinel) string { return sen.dir }, nil, "ordinary directory"},
		// The mount names /x/proc, /x is a symlink to / and /proc one to
		// a plain directory: the check must look at the rootfs's /proc.
		{"proc-via-parent-symlink", "/proc", func(*sentinel) string { return "/tmp/fakeproc" }, procVia("/x"), "ordinary directory"},
		// The mount's path is cleaned (/tmp/proc): procfs lands there and
		// the container's /proc is a plain directory, refused.
		{"proc-elsewhere", "/proc", func(*sentinel) string { return "tmp/fakeproc" }, procVia("/tmp/fakeproc/.."), "/proc in the container is not procfs"},
		{"dev-to-host", "/dev", func(sen *sentinel) string { return sen.dir }, nil, ""},
		{"dev-to-itself", "/dev", func(*sentinel) string { return up("/dev") }, nil, "too many levels of symbolic links"},
		{"devpts-to-host", "/dev/pts", func(sen *sentinel) string { return sen.dir }, devCopyUp, ""},
		{"devshm-to-host", "/dev/shm", func(sen *sentinel) string { return up(sen.dir) }, devCopyUp, ""},
		{"mqueue-to-host", "/dev/mqueue", func(sen *sentinel) string { return sen.dir }, devCopyUp, ""},
		{"devnull-to-host-dev", "/dev/null", func(*sentinel) string { return up("/dev/podrun-hostile-null") }, devCopyUp, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			sen := newSentinel(t)
			bundle := h.Bundle("sh", "-c", "cat /proc/self/mountinfo >/dev/null && echo x > /dev/null && ls /dev/pts/ptmx >/dev/null && echo ok")
			rootfs := filepath.Join(bundle, "rootfs")
			if err := os.MkdirAll(filepath.Join(rootfs, "tmp/fakeproc"), 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, tc.target(sen), filepath.Join(rootfs, tc.link))
			symlink(t, "/", filepath.Join(rootfs, "x"))
			if tc.edit != nil {
				s := testimage.Spec(t, bundle)
				tc.edit(s)
				testimage.WriteSpec(t, bundle, s)
			}
			if tc.want != "" {
				h.Fails(tc.want, "run", "--bundle", bundle, h.ID())
			} else if r := h.Run("run", "--bundle", bundle, h.ID()); r.Code != 0 || r.Stdout != "ok\n" {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want it to run with %s inside the rootfs", r.Code, r.Stdout, r.Stderr, tc.link)
			}
			sen.check()
			// The host's own /dev got nothing new.
			if _, err := os.Lstat("/dev/pts/ptmx"); err != nil {
				t.Errorf("host /dev/pts/ptmx: %v", err)
			}
			if _, err := os.Lstat("/dev/podrun-hostile-null"); err == nil {
				_ = os.Remove("/dev/podrun-hostile-null")
				t.Errorf("a device node was made in the host's /dev")
			}
		})
	}
}

// procVia moves the proc mount to dir+"/proc" (the rootfs's /x is a
// symlink to /).
func procVia(dir string) func(s *Spec) {
	return func(s *Spec) {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/proc" {
				s.Mounts[i].Destination = dir + "/proc"
			}
		}
	}
}

// TestHostilePasswdSymlink gives the rootfs an /etc/passwd and /etc/group
// that are symlinks to host files, a FIFO, or a link to /dev/zero:
// whatever looks users up for the container (HOME for process.user) must
// read the rootfs's view, where the links lead nowhere, never the host
// files, and must neither hang on the FIFO nor read /dev/zero forever.
func TestHostilePasswdSymlink(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, sen *sentinel, p string)
	}{
		{"absolute", func(t *testing.T, sen *sentinel, p string) { symlink(t, filepath.Join(sen.dir, filepath.Base(p)), p) }},
		{"relative", func(t *testing.T, sen *sentinel, p string) {
			symlink(t, up(filepath.Join(sen.dir, filepath.Base(p))), p)
		}},
		{"fifo", func(t *testing.T, _ *sentinel, p string) {
			_ = os.Remove(p)
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"dev-zero", func(t *testing.T, _ *sentinel, p string) { symlink(t, "/dev/zero", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			sen := newSentinel(t)
			r := hostileRun(h, func(s *Spec, _, rootfs string) {
				for _, f := range []string{"passwd", "group"} {
					tc.make(t, sen, filepath.Join(rootfs, "etc", f))
				}
				s.Process.Env = slices.DeleteFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "HOME=") })
				s.Process.User = specs.User{UID: 0, GID: 0}
			}, `echo "HOME=$HOME"; if [ -f /etc/passwd ]; then cat /etc/passwd; else echo no-passwd; fi`)
			if r.Code != 0 || r.Stdout != "HOME=/\nno-passwd\n" {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want HOME=/ (no passwd inside the rootfs)", r.Code, r.Stdout, r.Stderr)
			}
			sen.check()
		})
	}
}

// hostDisk returns a host block device (major, minor): the one holding
// the host's /, else /dev/loop0 (as in a VM whose root is an overlay),
// skipping the test when there is none.
func hostDisk(t *testing.T) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	if major, minor := unix.Major(st.Dev), unix.Minor(st.Dev); major != 0 {
		return major, minor
	}
	if err := unix.Stat("/dev/loop0", &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	t.Skip("no host block device: / is not on one and there is no /dev/loop0")
	return 0, 0
}

// TestHostileDevices tries to reach the host's disk and memory from a
// container without a device cgroup rule for them: by mknod inside (with
// CAP_MKNOD) and by a linux.devices entry. The device cgroup must deny
// the mknod or the open with EPERM, while /dev/null, in the default
// allowlist, works the same way. Nothing is ever written to the devices.
func TestHostileDevices(t *testing.T) {
	major, minor := hostDisk(t)
	addCap := func(s *Spec, c string) {
		caps := s.Process.Capabilities
		caps.Bounding = append(caps.Bounding, c)
		caps.Effective = append(caps.Effective, c)
		caps.Permitted = append(caps.Permitted, c)
	}
	// Nodes and error files go to the /dev tmpfs: the rootfs may be on a
	// nodev filesystem (then every open fails, denied or not).
	const readFn = `rd() { if dd if=$1 of=/dev/null bs=512 count=1 2>/dev/e; then echo "READ $1"; else echo "$1 read: $(cat /dev/e)"; fi; }; `
	// wantDenied checks one output line per device: denied with EPERM,
	// except the control device, which must be read.
	wantDenied := func(t *testing.T, r Result, control string, devs ...string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if r.Code != 0 || len(lines) != len(devs)+1 {
			t.Fatalf("container: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		for i, d := range devs {
			if !strings.HasPrefix(lines[i], d+" ") || !strings.Contains(lines[i], "Operation not permitted") {
				t.Errorf("%s: %q, want it denied with EPERM", d, lines[i])
			}
		}
		if last := lines[len(lines)-1]; last != "READ "+control {
			t.Errorf("control %s: %q, want it read (else the test proves nothing)", control, last)
		}
	}
	t.Run("mknod", func(t *testing.T) {
		h := newRootfsHarness(t)
		script := readFn + `mk() { if mknod $1 $2 $3 $4 2>/dev/e; then rd $1; else echo "$1 mknod: $(cat /dev/e)"; fi; }; ` +
			fmt.Sprintf(`mk /dev/h-disk b %d %d; mk /dev/h-mem c 1 1; mk /dev/h-kmsg c 1 11; mk /dev/h-null c 1 3`, major, minor)
		r := hostileRun(h, func(s *Spec, _, _ string) {
			addCap(s, "CAP_MKNOD")
			addCap(s, "CAP_SYS_RAWIO")
		}, script)
		wantDenied(t, r, "/dev/h-null", "/dev/h-disk", "/dev/h-mem", "/dev/h-kmsg")
	})
	t.Run("linux.devices", func(t *testing.T) {
		h := newRootfsHarness(t)
		r := hostileRun(h, func(s *Spec, _, _ string) {
			s.Linux.Devices = append(s.Linux.Devices,
				specs.LinuxDevice{Path: "/dev/hostdisk", Type: "b", Major: int64(major), Minor: int64(minor)},
				specs.LinuxDevice{Path: "/dev/hostmem", Type: "c", Major: 1, Minor: 1},
				specs.LinuxDevice{Path: "/dev/null2", Type: "c", Major: 1, Minor: 3})
		}, readFn+`ls /dev/hostdisk /dev/hostmem >/dev/null && rd /dev/hostdisk; rd /dev/hostmem; rd /dev/null2`)
		wantDenied(t, r, "/dev/null2", "/dev/hostdisk", "/dev/hostmem")
	})
}

// TestHostileSysctls asks for sysctls that would change the host: not
// namespaced, in a namespace shared with the host (absent, or joined by
// the path of the host's own), or a name that climbs out of its directory
// under /proc/sys. Each is refused before anything exists, naming the
// field, and the host's values stay.
func TestHostileSysctls(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	watched := []string{"kernel.core_pattern", "net.ipv4.ip_forward", "kernel.shmmax", "kernel.hostname"}
	before := map[string]string{}
	for _, n := range watched {
		before[n] = read(n)
	}
	setNS := func(s *Spec, t specs.LinuxNamespaceType, path string, keep bool) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == t })
		if keep {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
		}
	}
	for _, tc := range []struct {
		name   string
		sysctl map[string]string
		edit   func(s *Spec)
		want   string
	}{
		{"kernel-not-namespaced", map[string]string{"kernel.core_pattern": "|/tmp/pwn"}, nil, `"kernel.core_pattern" is not in a separate kernel namespace`},
		{"vm-not-namespaced", map[string]string{"vm/overcommit_memory": "1"}, nil, "not in a separate kernel namespace"},
		{"net-without-netns", map[string]string{"net.ipv4.ip_forward": "1"}, func(s *Spec) {
			setNS(s, specs.NetworkNamespace, "", false)
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return strings.HasPrefix(m.Destination, "/sys") })
		}, "requires a network namespace"},
		{"net-in-host-netns-by-path", map[string]string{"net.ipv4.ip_forward": "1"}, func(s *Spec) {
			setNS(s, specs.NetworkNamespace, "/proc/1/ns/net", true)
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return strings.HasPrefix(m.Destination, "/sys") })
		}, "network namespace"},
		{"ipc-in-host-ipcns-by-path", map[string]string{"kernel.shmmax": "4096"}, func(s *Spec) {
			setNS(s, specs.IPCNamespace, "/proc/1/ns/ipc", true)
		}, "ipc namespace"},
		{"ipc-without-ipcns", map[string]string{"kernel.shmmax": "4096"}, func(s *Spec) {
			setNS(s, specs.IPCNamespace, "", false)
		}, "requires a ipc namespace"},
		{"dotdot-in-dotted-name", map[string]string{"net.//.kernel.core_pattern": "|/tmp/pwn"}, nil, "not a valid sysctl name"},
		{"dotdot-in-slashed-name", map[string]string{"net/../kernel/core_pattern": "|/tmp/pwn"}, nil, "not a valid sysctl name"},
		{"hostname-via-sysctl", map[string]string{"kernel.hostname": "pwned"}, nil, "hostname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(t)
			bundle := h.EditedBundle(func(s *Spec) {
				s.Linux.Sysctl = tc.sysctl
				if tc.edit != nil {
					tc.edit(s)
				}
			}, "true")
			r := h.Fails(tc.want, "run", "--bundle", bundle, h.ID())
			if !strings.Contains(r.Stderr, "linux.sysctl") && !strings.Contains(r.Stderr, "linux.namespaces") {
				t.Errorf("error names no field: %q", r.Stderr)
			}
			lcAssertNothing(t, h)
		})
	}
	for _, n := range watched {
		if got := read(n); got != before[n] {
			t.Errorf("host %s changed: %q -> %q", n, before[n], got)
		}
	}
}

// TestHostileDotDotPaths puts ".." in mount destinations (cleaned against
// the container's /, as runc: they cannot climb out of the rootfs) and
// sources (a relative bind source is relative to the bundle), and a
// relative destination (refused: runc only warns and takes it as
// relative to /).
func TestHostileDotDotPaths(t *testing.T) {
	t.Run("destination", func(t *testing.T) {
		h := newRootfsHarness(t)
		sen := newSentinel(t)
		var rootfsDir string
		r := hostileRun(h, func(s *Spec, bundle, rootfs string) {
			rootfsDir = rootfs
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/../../../../.." + sen.dir + "/t", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/tmp/../../.." + sen.dir + "/sub/b", Type: "bind", Source: hostileBindSource(t), Options: []string{"bind"}})
		}, fmt.Sprintf(`touch %[1]s/t/pwned && cat %[1]s/sub/b/marker && echo ok`, sen.dir))
		if r.Code != 0 || r.Stdout != "inside\nok\n" {
			t.Errorf("container: exit %d, stdout %q, stderr %q; want the mounts inside the rootfs", r.Code, r.Stdout, r.Stderr)
		}
		wantDir(t, filepath.Join(rootfsDir, sen.dir, "t"))
		wantDir(t, filepath.Join(rootfsDir, sen.dir, "sub/b"))
		sen.check()
	})
	t.Run("source", func(t *testing.T) {
		h := newRootfsHarness(t)
		r := hostileRun(h, func(s *Spec, bundle, rootfs string) {
			if err := os.MkdirAll(filepath.Join(bundle, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bundle, "data/marker"), []byte("bundle data\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "rootfs/../data/../data", Options: []string{"bind", "ro"}})
		}, `cat /data/marker`)
		if r.Code != 0 || r.Stdout != "bundle data\n" {
			t.Errorf("container: exit %d, stdout %q, stderr %q; want the bundle's data dir", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("into-proc", func(t *testing.T) {
		h := newRootfsHarness(t)
		bundle := h.EditedBundle(func(s *Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp/../proc/./sys/../sys", Type: "bind", Source: hostileBindSource(t), Options: []string{"bind"}})
		}, "true")
		h.Fails("inside /proc", "run", "--bundle", bundle, h.ID())
	})
	t.Run("relative-destination", func(t *testing.T) {
		h := newRootfsHarness(t)
		bundle := h.EditedBundle(func(s *Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "../../mnt", Type: "tmpfs", Source: "tmpfs"})
		}, "true")
		h.Fails(fmt.Sprintf("mounts[%d].destination", len(testimage.Spec(t, bundle).Mounts)-1), "run", "--bundle", bundle, h.ID())
		lcAssertNothing(t, h)
	})
}

// runMeasured runs podrun and returns its result and peak RSS in KiB.
func (h *H) runMeasured(args ...string) (Result, int64) {
	h.t.Helper()
	// Not wait4's rusage of our own child: a child exec'd from this
	// (vfork'd, large) test process is charged our peak RSS too. GNU time
	// forks podrun from a small process and reports its peak alone (busybox
	// time would do, but reports 4x: it multiplies KiB by the page size).
	const gnuTime = "/usr/bin/time" // scripts/install-deps.sh installs it
	out := filepath.Join(h.t.TempDir(), "maxrss")
	cmd := h.Cmd(args...)
	cmd.Args = append([]string{gnuTime, "-q", "-f", "%M", "-o", out}, cmd.Args...)
	cmd.Path = gnuTime
	r := h.RunCmd(cmd)
	b, err := os.ReadFile(out)
	if err != nil {
		h.t.Fatal(err)
	}
	// The last line: GNU time may say "Command exited with ..." first.
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	rss, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		h.t.Fatalf("busybox time: %q: %v", b, err)
	}
	return r, rss
}

// TestHostileConfigFiles gives create config files meant to exhaust it:
// larger than the limit, deeply nested JSON under the limit, and a FIFO
// (which would block a plain open forever). Each fails at once with a
// one-line error naming config.json, without using much memory.
func TestHostileConfigFiles(t *testing.T) {
	const maxRSS = 64 << 10 // KiB; podrun create peaks near 30 MiB here
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string)
		want  string
	}{
		{"oversized", func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// A valid config with a 64 MiB annotation.
			fmt.Fprint(f, `{"ociVersion": "1.0.2", "annotations": {"x": "`)
			chunk := strings.Repeat("A", 1<<20)
			for i := 0; i < 64; i++ {
				fmt.Fprint(f, chunk)
			}
			fmt.Fprint(f, `"}}`)
		}, "config.json: larger than 4 MiB"},
		{"deeply-nested", func(t *testing.T, p string) {
			n := 1 << 20
			data := `{"ociVersion": "1.0.2", "x": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}"
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "config.json: nested more than 100 levels deep"},
		{"fifo", func(t *testing.T, p string) {
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "config.json: not a regular file (a FIFO)"},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "config.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(t)
			bundle := h.Bundle("true")
			p := filepath.Join(bundle, "config.json")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			tc.write(t, p)
			r, rss := h.runMeasured("create", "--bundle", bundle, h.ID())
			if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Errorf("create: exit %d, stderr %q; want a one-line error with %q", r.Code, r.Stderr, tc.want)
			}
			t.Logf("peak RSS of podrun create: %d KiB", rss)
			if rss > maxRSS {
				t.Errorf("create used %d KiB of memory on a hostile config.json, more than %d", rss, maxRSS)
			}
			lcAssertNothing(t, h)
		})
	}
}

// TestHostileMaskedReadonlySymlinks makes linux.maskedPaths and
// linux.readonlyPaths entries symlinks aimed at the host: they are applied
// after pivot_root, so the links resolve inside the container and mask or
// protect what they point at there.
func TestHostileMaskedReadonlySymlinks(t *testing.T) {
	h := newRootfsHarness(t)
	sen := newSentinel(t)
	r := hostileRun(h, func(s *Spec, _, rootfs string) {
		// The rootfs's own copy of the sentinel's path, to be masked.
		inside := filepath.Join(rootfs, sen.dir)
		if err := os.MkdirAll(filepath.Join(inside, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(inside, "secret"), []byte("rootfs secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		symlink(t, sen.dir, filepath.Join(rootfs, "masked-dir"))
		symlink(t, up(sen.dir+"/secret"), filepath.Join(rootfs, "masked-file"))
		symlink(t, up(sen.dir+"/sub"), filepath.Join(rootfs, "ro-dir"))
		symlink(t, "/nonexistent"+sen.dir, filepath.Join(rootfs, "masked-dangling"))
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/masked-dir", "/masked-file", "/masked-dangling")
		s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/ro-dir")
		s.Root.Readonly = false
	}, fmt.Sprintf(`echo "dir: $(ls -A %[1]s | tr '\n' ' ')"; echo "file: $(cat /masked-file)"; touch %[1]s/sub/x 2>/dev/null && echo ro-writable || echo ro-denied; touch /tmp/x && echo rootfs-writable`, sen.dir))
	want := "dir: \nfile: \nro-denied\nrootfs-writable\n"
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("container: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	sen.check()
}

// TestHostileCwdSymlink makes process.cwd a symlink aimed at the host
// (absolute and a ../ chain): it is entered inside the rootfs. A dangling
// one is refused, as runc does (mkdir of the cwd meets the link).
func TestHostileCwdSymlink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		abs      bool
		dangling bool
	}{{"absolute", true, false}, {"relative", false, false}, {"dangling", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			sen := newSentinel(t)
			bundle := h.Bundle("sh", "-c", `pwd -P; touch pwned && ls`)
			rootfs := filepath.Join(bundle, "rootfs")
			target := sen.dir + "/sub/work"
			if !tc.dangling {
				if err := os.MkdirAll(filepath.Join(rootfs, target), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.abs {
				target = up(target)
			}
			symlink(t, target, filepath.Join(rootfs, "work"))
			s := testimage.Spec(t, bundle)
			s.Process.Cwd = "/work"
			s.Root.Readonly = false
			testimage.WriteSpec(t, bundle, s)
			if tc.dangling {
				h.Fails("process.cwd", "run", "--bundle", bundle, h.ID())
				sen.check()
				return
			}
			r := h.Run("run", "--bundle", bundle, h.ID())
			if want := sen.dir + "/sub/work\npwned\n"; r.Code != 0 || r.Stdout != want {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want %q", r.Code, r.Stdout, r.Stderr, want)
			}
			if _, err := os.Stat(filepath.Join(rootfs, sen.dir, "sub/work/pwned")); err != nil {
				t.Errorf("the cwd is not the one inside the rootfs: %v", err)
			}
			sen.check()
		})
	}
}

// TestHostileImagePasswdSymlink imports images whose /etc/passwd and
// /etc/group are symlinks to host files, with the image's User a name:
// `podrun bundle` resolves names in the image's own files, following the
// links inside the image, so a name the host knows is unknown here;
// numeric users need no lookup and work, and a link to a file inside the
// image is followed.
func TestHostileImagePasswdSymlink(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		inImage    bool   // links point inside the image instead
		want       string // error of podrun bundle; "" when it must work
	}{
		{"name", "tester", false, `no such user in the image's /etc/passwd`},
		{"root", "root", false, `no such user in the image's /etc/passwd`},
		{"numeric", "1000:1000", false, ""},
		{"in-image-link", "tester", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newImageEnv(t)
			sen := newSentinel(t)
			cfg := testimage.Config(t)
			cfg.Config = ocispec.RunConfig{User: tc.user, Entrypoint: []string{"sh", "-c", "id -u; id -g"}}
			hdrs := []*tar.Header{
				{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: filepath.Join(sen.dir, "passwd")},
				{Name: "etc/group", Typeflag: tar.TypeSymlink, Linkname: up(filepath.Join(sen.dir, "group"))},
			}
			data := map[string]string{}
			if tc.inImage {
				hdrs = []*tar.Header{
					{Name: "usr/share/base/", Typeflag: tar.TypeDir},
					{Name: "usr/share/base/passwd", Typeflag: tar.TypeReg},
					{Name: "usr/share/base/group", Typeflag: tar.TypeReg},
					{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: "../usr/share/base/passwd"},
					{Name: "etc/group", Typeflag: tar.TypeSymlink, Linkname: "/usr/../../usr/share/base/group"},
				}
				data["usr/share/base/passwd"] = "tester:x:1000:1000::/home/tester:/bin/sh\n"
				data["usr/share/base/group"] = "tester:x:1000:\n"
			}
			layout := filepath.Join(t.TempDir(), "layout")
			testimage.WriteLayout(t, layout, "", cfg, append(testimage.Layers(t), testimage.Tar(t, hdrs, data)))
			e.img("import", "--name", "evil", layout)
			b := filepath.Join(t.TempDir(), "bundle")
			if tc.want != "" {
				e.Fails(tc.want, "bundle", "--store", e.store, "--image", "evil", b)
				sen.check()
				return
			}
			e.Must("bundle", "--store", e.store, "--image", "evil", b)
			s := testimage.Spec(t, b)
			s.Process.Terminal = false
			testimage.WriteSpec(t, b, s)
			if r := e.Run("run", "--bundle", b, e.ID()); r.Code != 0 || r.Stdout != "1000\n1000\n" {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want uid and gid 1000", r.Code, r.Stdout, r.Stderr)
			}
			sen.check()
		})
	}
}

// TestHostileExecPasswd lets a running container turn its /etc/passwd
// into a FIFO or a link to /dev/zero, then execs a process with no HOME
// in its environment: the HOME lookup must neither hang the exec (a
// probe's, say) nor read /dev/zero forever.
func TestHostileExecPasswd(t *testing.T) {
	for _, tc := range []struct{ name, prep string }{
		{"fifo", "rm -f /etc/passwd && mkfifo /etc/passwd"},
		{"dev-zero", "rm -f /etc/passwd && ln -s /dev/zero /etc/passwd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			bundle := h.EditedBundle(func(s *Spec) {
				s.Root.Readonly = false
				s.Process.Env = slices.DeleteFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "HOME=") })
			}, "sh", "-c", tc.prep+" && touch /tmp/ready && exec sleep 1000")
			id := h.ID()
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer null.Close()
			cmd := h.Cmd("run", "-d", "--bundle", bundle, id)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
			if r := h.RunCmd(cmd); r.Code != 0 {
				t.Fatalf("run -d: exit %d", r.Code)
			}
			defer h.Run("delete", "--force", id)
			ready := filepath.Join(bundle, "rootfs/tmp/ready")
			for i := 0; ; i++ {
				if _, err := os.Stat(ready); err == nil {
					break
				} else if i == 500 {
					t.Fatalf("the container did not get ready: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Output to a file, not a pipe: a hung exec process would
			// hold a pipe open and keep the harness waiting past its
			// timeout.
			out, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd = h.Cmd("exec", id, "sh", "-c", `echo "HOME=$HOME"`)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
			r := h.RunCmd(cmd)
			got, _ := os.ReadFile(out.Name())
			if r.Code != 0 || string(got) != "HOME=/\n" {
				t.Errorf("exec: exit %d, output %q; want HOME=/", r.Code, got)
			}
		})
	}
}

// TestHostileDevNullMask bind-mounts /dev from a host directory whose
// "null" is a symlink to /proc/sys/kernel/core_pattern (or a regular
// file): masking /proc/kcore with it would hand the container the host's
// core_pattern, writable (CVE-2025-31133). podrun must refuse; a real
// null device there works.
func TestHostileDevNullMask(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		want string
	}{
		{"symlink-to-core-pattern", func(t *testing.T, p string) { symlink(t, "/proc/sys/kernel/core_pattern", p) }, "not the null device"},
		{"regular-file", func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}, "not the null device"},
		{"null-device", func(t *testing.T, p string) {
			if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRootfsHarness(t)
			before, err := os.ReadFile("/proc/sys/kernel/core_pattern")
			if err != nil {
				t.Fatal(err)
			}
			dev := t.TempDir()
			tc.make(t, filepath.Join(dev, "null"))
			bundle := h.EditedBundle(func(s *Spec) {
				for i := range s.Mounts {
					if s.Mounts[i].Destination == "/dev" {
						s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}
					}
				}
				s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return strings.HasPrefix(m.Destination, "/dev/") })
			}, "sh", "-c", "head -c 1 /proc/kcore | wc -c")
			if tc.want != "" {
				h.Fails(tc.want, "run", "--bundle", bundle, h.ID())
			} else if r := h.Run("run", "--bundle", bundle, h.ID()); r.Code != 0 || strings.TrimSpace(r.Stdout) != "0" {
				t.Errorf("container: exit %d, stdout %q, stderr %q; want /proc/kcore masked by the null device", r.Code, r.Stdout, r.Stderr)
			}
			if after, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(after) != string(before) {
				t.Errorf("host core_pattern changed: %q -> %q", before, after)
			}
		})
	}
}
