package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
)

// The tests here run the same commands against podrun and, where useful,
// against runc (and crun) on the same host as the reference: what runc
// users type, with runc's and crun's own default configs.

// rt is a runtime under test: podrun, or a reference runtime (runc, crun)
// with its own --root, whose containers are force-deleted when the test
// ends.
type rt struct {
	name string
	cmd  func(args ...string) *exec.Cmd
}

// refRuntime returns the installed reference runtime name, or nil.
func refRuntime(t *testing.T, name string) *rt {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil
	}
	root := t.TempDir()
	r := &rt{name: name, cmd: func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"--root", root}, args...)...)
	}}
	t.Cleanup(func() {
		out, _ := r.cmd("list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			_ = r.cmd("delete", "--force", id).Run()
		}
	})
	return r
}

// podrunAndRunc returns podrun and, when it is installed, runc.
func podrunAndRunc(h *H) []*rt {
	rts := []*rt{{name: "podrun", cmd: h.Cmd}}
	if r := refRuntime(h.t, "runc"); r != nil {
		rts = append(rts, r)
	} else {
		h.t.Log("runc is not installed: podrun only")
	}
	return rts
}

// status reads the container's status with `state`.
func (r *rt) status(h *H, id string) string {
	h.t.Helper()
	res := h.RunCmd(r.cmd("state", id))
	if res.Code != 0 {
		h.t.Fatalf("%s state %s: exit %d: %s", r.name, id, res.Code, res.Stderr)
	}
	var st specs.State
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		h.t.Fatalf("%s state %s: %v", r.name, id, err)
	}
	return string(st.Status)
}

// waitStatus waits (bounded) for the container to reach want.
func (r *rt) waitStatus(h *H, id, want string) {
	h.t.Helper()
	var got string
	if !waitFor(30*time.Second, func() bool { got = r.status(h, id); return got == want }) {
		h.t.Fatalf("%s: container %s is %s, want %s", r.name, id, got, want)
	}
}

// specBundle returns a bundle with the test rootfs and the config.json
// that `gen spec` writes, edited by edit when not nil. It skips when gen
// (runc, crun) is not installed.
func specBundle(h *H, gen string, edit func(m map[string]any)) string {
	h.t.Helper()
	bin, err := exec.LookPath(gen)
	if err != nil {
		h.t.Skipf("%s is not installed (scripts/install-deps.sh installs it)", gen)
	}
	b := h.Bundle("true")
	if err := os.Remove(filepath.Join(b, "config.json")); err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(bin, "spec")
	cmd.Dir = b
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("%s spec: %v: %s", gen, err, out)
	}
	if edit != nil {
		editConfigJSON(h.t, b, edit)
	}
	return b
}

// TestRuncSemDefaultSpecs: the default configs of `runc spec` and `crun
// spec` run unmodified (terminal, sh, through a console socket) and with
// only terminal false and args changed. They ask for ambient capabilities
// that are not inheritable, which the kernel refuses to raise: podrun
// warns and goes on, as runc, and the process gets the same capabilities
// as under runc.
func TestRuncSemDefaultSpecs(t *testing.T) {
	for _, gen := range []string{"runc", "crun"} {
		t.Run(gen, func(t *testing.T) {
			h := New(t)
			plain := specBundle(h, gen, func(m map[string]any) {
				p := m["process"].(map[string]any)
				p["terminal"] = false
				p["args"] = []string{"true"}
			})
			unmodified := specBundle(h, gen, nil)
			caps := map[string]string{}
			for _, r := range podrunAndRunc(h) {
				id := h.ID()
				if res := h.RunCmd(r.cmd("run", "--bundle", plain, id)); res.Code != 0 {
					t.Errorf("%s run of %s spec's config (terminal false, args true): exit %d: %s", r.name, gen, res.Code, res.Stderr)
				}
				_ = h.RunCmd(r.cmd("delete", "--force", id))

				// Unmodified: sh on a terminal, which the test drives.
				cs := coreListenConsole(t)
				id = h.ID()
				cmd := r.cmd("create", "--console-socket", cs.Path, "--bundle", unmodified, id)
				h.MustNoPipes(cmd)
				master := cs.Master(t)
				out := coreReadAll(t, master)
				if res := h.RunCmd(r.cmd("start", id)); res.Code != 0 {
					t.Fatalf("%s start: exit %d: %s", r.name, res.Code, res.Stderr)
				}
				if _, err := master.Write([]byte("grep ^Cap /proc/self/status; exit 7\n")); err != nil {
					t.Fatal(err)
				}
				text := out()
				r.waitStatus(h, id, "stopped")
				h.RunCmd(r.cmd("delete", id))
				var got []string
				for _, l := range strings.Split(text, "\n") {
					if strings.HasPrefix(l, "Cap") {
						got = append(got, strings.Join(strings.Fields(l), " "))
					}
				}
				if len(got) != 5 {
					t.Fatalf("%s: the shell on the terminal printed no capabilities: %q", r.name, text)
				}
				caps[r.name] = strings.Join(got, "; ")
			}
			if want, ok := caps["runc"]; ok && caps["podrun"] != want {
				t.Errorf("capabilities under podrun %q, under runc %q", caps["podrun"], want)
			}
			if !strings.Contains(caps["podrun"], "CapEff: 0000000020000420") {
				t.Errorf("podrun: capabilities %q, want CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE effective", caps["podrun"])
			}
		})
	}
}

// TestRuncSemAmbientWarning: an ambient capability that cannot be raised
// is named in a warning (in the log), and create goes on.
func TestRuncSemAmbientWarning(t *testing.T) {
	h := New(t)
	b := h.EditedBundle(func(s *Spec) {
		s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
	}, "true")
	log := filepath.Join(t.TempDir(), "log.json")
	r := h.Must("--log", log, "--log-format", "json", "run", "--bundle", b, h.ID())
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), `"level":"warning"`) || !strings.Contains(string(data), "CAP_KILL") {
		t.Errorf("no warning naming CAP_KILL in the log: %q (stderr %q)", data, r.Stderr)
	}
}

// TestRuncSemLoopback: a new network namespace has lo up, as under runc
// and crun: 127.0.0.1 answers in the container and in a second container
// joining its namespace by path (podman's --network none pods,
// containerd's sandboxes).
func TestRuncSemLoopback(t *testing.T) {
	h := New(t)
	withPing := func(s *Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_NET_RAW")
		c.Effective = append(c.Effective, "CAP_NET_RAW")
		c.Permitted = append(c.Permitted, "CAP_NET_RAW")
	}
	ping := []string{"ping", "-c", "1", "-W", "5", "127.0.0.1"}
	for _, r := range podrunAndRunc(h) {
		res := h.RunCmd(r.cmd("run", "--bundle", h.EditedBundle(withPing, ping...), h.ID()))
		if res.Code != 0 || !strings.Contains(res.Stdout, "1 packets received") {
			t.Errorf("%s: ping 127.0.0.1 in a new network namespace: exit %d: %s %s", r.name, res.Code, res.Stdout, res.Stderr)
		}
	}
	// A second container in the first one's namespace.
	id := h.ID()
	pid := h.RunDetached(h.Bundle("sleep", "60"), id)
	joiner := h.EditedBundle(func(s *Spec) {
		withPing(s)
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", pid)
			}
		}
	}, ping...)
	if res := h.Run("run", "--bundle", joiner, h.ID()); res.Code != 0 || !strings.Contains(res.Stdout, "1 packets received") {
		t.Errorf("ping 127.0.0.1 in a joined network namespace: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
	}
	h.Must("delete", "--force", id)
}

// TestRuncSemSpecCgroupNS: `podrun spec` has the namespaces `runc spec`
// has: a cgroup namespace only on a cgroup v2 host.
func TestRuncSemSpecCgroupNS(t *testing.T) {
	h := New(t)
	nss := func(cmd *exec.Cmd) []string {
		t.Helper()
		cmd.Dir = t.TempDir()
		if res := h.RunCmd(cmd); res.Code != 0 {
			t.Fatalf("%v: exit %d: %s", cmd.Args, res.Code, res.Stderr)
		}
		s := testimage.Spec(t, cmd.Dir)
		var out []string
		for _, ns := range s.Linux.Namespaces {
			out = append(out, string(ns.Type))
		}
		slices.Sort(out)
		return out
	}
	got := nss(h.Cmd("spec"))
	if want := cgV2(); slices.Contains(got, "cgroup") != want {
		t.Errorf("podrun spec namespaces %q: cgroup namespace %v, want %v (cgroup v2 host: %v)", got, !want, want, want)
	}
	if runc, err := exec.LookPath("runc"); err == nil {
		if want := nss(exec.Command(runc, "spec")); !slices.Equal(got, want) {
			t.Errorf("podrun spec namespaces %q, runc spec %q", got, want)
		}
	}
}

// TestRuncSemKillZero: `kill ID 0` probes liveness: success while the
// init runs, "container not running" once it stopped.
func TestRuncSemKillZero(t *testing.T) {
	h := New(t)
	b := h.Bundle("sleep", "60")
	for _, r := range podrunAndRunc(h) {
		id := h.ID()
		h.MustNoPipes(r.cmd("run", "-d", "--bundle", b, id))
		if res := h.RunCmd(r.cmd("kill", id, "0")); res.Code != 0 {
			t.Errorf("%s kill %s 0 (running): exit %d: %s", r.name, id, res.Code, res.Stderr)
		}
		if st := r.status(h, id); st != "running" {
			t.Errorf("%s: after kill 0 the container is %s", r.name, st)
		}
		if res := h.RunCmd(r.cmd("kill", id, "KILL")); res.Code != 0 {
			t.Fatalf("%s kill %s KILL: exit %d: %s", r.name, id, res.Code, res.Stderr)
		}
		r.waitStatus(h, id, "stopped")
		if res := h.RunCmd(r.cmd("kill", id, "0")); res.Code == 0 || !strings.Contains(res.Stderr, "container not running") {
			t.Errorf("%s kill %s 0 (stopped): exit %d, %q; want an error: container not running", r.name, id, res.Code, res.Stderr)
		}
		h.RunCmd(r.cmd("delete", id))
	}
}

// TestRuncSemCreateContainerHookCwd: createContainer hooks run with the
// container's rootfs as their working directory, as under runc.
func TestRuncSemCreateContainerHookCwd(t *testing.T) {
	h := New(t)
	for _, r := range podrunAndRunc(h) {
		out := filepath.Join(t.TempDir(), "cwd")
		b := h.EditedBundle(func(s *Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "pwd >" + out}}}}
		}, "true")
		if res := h.RunCmd(r.cmd("run", "--bundle", b, h.ID())); res.Code != 0 {
			t.Fatalf("%s run: exit %d: %s", r.name, res.Code, res.Stderr)
		}
		got, err := os.ReadFile(out)
		if want := filepath.Join(b, "rootfs"); err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s: createContainer hook's cwd %q (%v), want the rootfs %s", r.name, got, err, want)
		}
	}
}

// ttyOwner runs cmd, whose process prints its terminal's owner, and
// returns what came through the pty (the master sent to cs).
func ttyOwner(h *H, cs *coreConsole, cmd *exec.Cmd) string {
	h.t.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	defer null.Close()
	var stderr strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, &stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	master := cs.Master(h.t)
	out := coreReadAll(h.t, master)
	if err := waitTimeout(cmd, 30*time.Second); err != nil {
		h.t.Fatalf("%v: %v: %s", cmd.Args, err, stderr.String())
	}
	return strings.TrimSpace(out())
}

// TestRuncSemTerminalOwner: a process with uid 1000 owns its terminal
// (the group stays devpts's tty, 5), for the init and for exec -t, as
// under runc.
func TestRuncSemTerminalOwner(t *testing.T) {
	h := New(t)
	const show = "stat -L -c OWNER=%u:%g /proc/self/fd/0"
	b := h.EditedBundle(func(s *Spec) {
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	}, "sh", "-c", show+"; sleep 30")
	for _, r := range podrunAndRunc(h) {
		id := h.ID()
		cs := coreListenConsole(t)
		h.MustNoPipes(r.cmd("create", "--console-socket", cs.Path, "--bundle", b, id))
		master := cs.Master(t)
		var out strings.Builder
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 256)
			for !strings.Contains(out.String(), "\n") {
				n, err := master.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}()
		if res := h.RunCmd(r.cmd("start", id)); res.Code != 0 {
			t.Fatalf("%s start: exit %d: %s", r.name, res.Code, res.Stderr)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no output on the terminal", r.name)
		}
		if got := strings.TrimSpace(out.String()); got != "OWNER=1000:5" {
			t.Errorf("%s: init's terminal: %q, want OWNER=1000:5", r.name, got)
		}
		cs = coreListenConsole(t)
		got := ttyOwner(h, cs, r.cmd("exec", "-d", "-t", "--console-socket", cs.Path, "--user", "1000:1000", id, "sh", "-c", show))
		if got != "OWNER=1000:5" {
			t.Errorf("%s: exec -t's terminal: %q, want OWNER=1000:5", r.name, got)
		}
		h.RunCmd(r.cmd("delete", "--force", id))
	}
}

// TestRuncSemLenientOptions: what runc 1.1.5 accepts, podrun runs too
// (with a warning): filesystem options on a bind mount (mount(2) ignores
// them for MS_BIND) and a device access with letters other than r, w, m
// ("rwa" is "rw").
func TestRuncSemLenientOptions(t *testing.T) {
	h := New(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("bound"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "cat /mnt/f; echo; grep 'c 1:1 ' /sys/fs/cgroup/devices/devices.list || true"
	b := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "rprivate", "mode=755", "ro"}})
		one := int64(1)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &one, Minor: &one, Access: "rwa"})
	}, "sh", "-c", script)
	out := map[string]string{}
	for _, r := range podrunAndRunc(h) {
		res := h.RunCmd(r.cmd("run", "--bundle", b, h.ID()))
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "bound\n") {
			t.Errorf("%s: bind with mode=755 and device access rwa: exit %d: %q %s", r.name, res.Code, res.Stdout, res.Stderr)
		}
		out[r.name] = res.Stdout
		if r.name == "podrun" {
			for _, w := range []string{"ignoring filesystem options mode=755", "is taken as"} {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("podrun: no warning with %s: %q", w, res.Stderr)
				}
			}
		}
	}
	if !cgV2() && !strings.Contains(out["podrun"], "c 1:1 rw\n") {
		t.Errorf("podrun: devices.list lacks c 1:1 rw: %q", out["podrun"])
	}
	if want, ok := out["runc"]; ok && out["podrun"] != want {
		t.Errorf("podrun printed %q, runc %q", out["podrun"], want)
	}
	// The mount is read-only (ro is a flag, not a filesystem option).
	ro := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "mode=755", "ro"}})
	}, "sh", "-c", "touch /mnt/g")
	if res := h.Run("run", "--bundle", ro, h.ID()); res.Code == 0 {
		t.Errorf("a bind mount with mode=755,ro is writable")
	}
}

// persistentMountNS makes a mount namespace (a copy of ours) kept alive by
// a bind mount on a file, as `ip netns` or `unshare --mount=FILE` do, and
// returns the file's path; it is unmounted when the test ends.
func persistentMountNS(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	dir := t.TempDir()
	// The file must be on a private mount, or the namespace would hold a
	// reference to itself.
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "mnt")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unshare", "--mount="+f, "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare --mount=%s: %v: %s", f, err, out)
	}
	t.Cleanup(func() { _ = unix.Unmount(f, unix.MNT_DETACH) })
	return f
}

// nsInode returns the namespace identity of a /proc/*/ns link or an ns file.
func nsInode(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// mountsUnderPath lists the mount points at or below dir in our namespace.
func mountsUnderPath(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// TestRuncSemMountNamespaces: a config without a mount namespace runs
// chrooted in the rootfs with its mounts made in the runtime's namespace
// (as runc), all removed at delete; one joining a mount namespace by path
// gets its rootfs set up there (as runc). Masked or read-only paths
// without a mount namespace are refused in runc's words.
func TestRuncSemMountNamespaces(t *testing.T) {
	h := New(t)
	const show = `cat /etc/hostname; stat -L -c NS=%d:%i /proc/self/ns/mnt; grep -c ' /proc ' /proc/self/mountinfo`
	noMountNS := func(s *Spec) {
		var nss []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.MountNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	b := h.EditedBundle(noMountNS, "sh", "-c", show)
	r := h.Run("run", "--bundle", b, h.ID())
	want := "podrun\nNS=" + nsInode(t, "/proc/self/ns/mnt") + "\n"
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, want) {
		t.Errorf("without a mount namespace: exit %d, %q, want the rootfs in our mount namespace (%q): %s", r.Code, r.Stdout, want, r.Stderr)
	}
	if left := mountsUnderPath(t, b); len(left) > 0 {
		t.Errorf("mounts left after run: %q", left)
	}
	// create, kill -9 of the init, delete: nothing left either.
	id := h.ID()
	h.RunDetached(h.EditedBundle(noMountNS, "sleep", "60"), id)
	h.Must("kill", id, "KILL")
	h.WaitStatus(id, "stopped")
	h.Must("delete", id)
	if left := mountsUnderPath(t, b); len(left) > 0 {
		t.Errorf("mounts left after delete: %q", left)
	}
	masked := h.EditedBundle(func(s *Spec) {
		paths := s.Linux.MaskedPaths
		noMountNS(s)
		s.Linux.MaskedPaths = paths
	}, "true")
	const refusal = "unable to restrict sys entries without a private MNT namespace"
	h.Fails(refusal, "run", "--bundle", masked, h.ID())
	if runc, err := exec.LookPath("runc"); err == nil {
		// runc mounts in the namespace it runs in: a throwaway one.
		res := h.RunCmd(exec.Command("unshare", "-m", "--propagation", "private", runc, "--root", t.TempDir(), "run", "--bundle", b, h.ID()))
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "podrun\n") {
			t.Errorf("runc without a mount namespace: exit %d: %q %s", res.Code, res.Stdout, res.Stderr)
		}
		res = h.RunCmd(exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", masked, h.ID()))
		if res.Code == 0 || !strings.Contains(res.Stderr, refusal) {
			t.Errorf("runc with masked paths without a mount namespace: exit %d: %s", res.Code, res.Stderr)
		}
	}

	// Joined by path: the rootfs is set up in that namespace.
	for _, r := range podrunAndRunc(h) {
		ns := persistentMountNS(t)
		b := h.EditedBundle(func(s *Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.MountNamespace {
					s.Linux.Namespaces[i].Path = ns
				}
			}
		}, "sh", "-c", show)
		res := h.RunCmd(r.cmd("run", "--bundle", b, h.ID()))
		if want := "podrun\nNS=" + nsInode(t, ns) + "\n"; res.Code != 0 || !strings.HasPrefix(res.Stdout, want) {
			t.Errorf("%s joining a mount namespace: exit %d, %q, want the rootfs in that namespace (%q): %s", r.name, res.Code, res.Stdout, want, res.Stderr)
		}
	}
}

// TestRuncSemErrorTexts: the refusals shims and tools match on read as
// runc's under podrun (after the field podrun names): seccomp notify on
// write or as the default action, a seccomp agent that is not there, and
// linux.resources.unified on a cgroup v1 host.
func TestRuncSemErrorTexts(t *testing.T) {
	h := New(t)
	notify := func(edit func(sc *specs.LinuxSeccomp)) func(*Spec) {
		return func(s *Spec) {
			sc := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: filepath.Join(t.TempDir(), "agent.sock"),
				Syscalls: []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActNotify}}}
			edit(sc)
			s.Linux.Seccomp = sc
		}
	}
	cases := []struct {
		name, want string
		edit       func(*Spec)
	}{
		{"notify on write", "SCMP_ACT_NOTIFY cannot be used for the write syscall",
			notify(func(sc *specs.LinuxSeccomp) { sc.Syscalls[0].Names = []string{"write"} })},
		{"notify as default", "SCMP_ACT_NOTIFY cannot be used as default action",
			notify(func(sc *specs.LinuxSeccomp) { sc.DefaultAction = specs.ActNotify })},
		{"no agent", "failed to connect with seccomp agent specified in the seccomp profile",
			notify(func(sc *specs.LinuxSeccomp) {})},
	}
	if !cgV2() {
		cases = append(cases, struct {
			name, want string
			edit       func(*Spec)
		}{"unified on v1", "invalid configuration: cannot use unified on cgroup v1",
			func(s *Spec) { s.Linux.Resources.Unified = map[string]string{"memory.high": "max"} }})
	}
	for _, c := range cases {
		b := h.EditedBundle(c.edit, "true")
		for _, r := range podrunAndRunc(h) {
			res := h.RunCmd(r.cmd("run", "--bundle", b, h.ID()))
			if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("%s, %s: exit %d, %q; want an error with %q", c.name, r.name, res.Code, res.Stderr, c.want)
			}
		}
	}
}
