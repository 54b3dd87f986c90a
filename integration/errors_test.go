package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/podrun/podrun/internal/testimage"
)

// lcFeatures returns `podrun features`.
func lcFeatures(h *H) *features.Features {
	h.t.Helper()
	var f features.Features
	if err := json.Unmarshal([]byte(h.Must("features").Stdout), &f); err != nil {
		h.t.Fatal(err)
	}
	if f.Linux == nil || f.Linux.Cgroup == nil {
		h.t.Fatalf("features without linux.cgroup")
	}
	return &f
}

// lcAssertNothing fails t if anything of h's containers is left, right
// after a failed call (the harness checks again at cleanup).
func lcAssertNothing(t *testing.T, h *H) {
	t.Helper()
	AssertClean(t, h.Root)
	if r := h.Must("list", "-q"); r.Stdout != "" {
		t.Errorf("list -q after a failure: %q", r.Stdout)
	}
}

// TestBadInputLeavesNothing feeds create bad bundles: each must fail with
// a one-line error naming the problem and leave no state dir, cgroup,
// mount or process behind.
func TestBadInputLeavesNothing(t *testing.T) {
	tmpfsAt := func(dst string, opts ...string) func(*testing.T, string) {
		return func(t *testing.T, b string) {
			s := testimage.Spec(t, b)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
			testimage.WriteSpec(t, b, s)
		}
	}
	spec := func(edit func(*Spec)) func(*testing.T, string) {
		return func(t *testing.T, b string) {
			s := testimage.Spec(t, b)
			edit(s)
			testimage.WriteSpec(t, b, s)
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*testing.T, string)
		flags []string // global flags
		want  string
	}{
		{"malformed-json", func(t *testing.T, b string) {
			if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, "config.json"},
		{"no-config", func(t *testing.T, b string) {
			if err := os.Remove(filepath.Join(b, "config.json")); err != nil {
				t.Fatal(err)
			}
		}, nil, "config.json"},
		{"wrong-json-type", func(t *testing.T, b string) {
			editConfigJSON(t, b, func(m map[string]any) {
				m["process"].(map[string]any)["user"] = map[string]any{"uid": "0"}
			})
		}, nil, "process.user.uid"},
		{"wrong-json-type-args", func(t *testing.T, b string) {
			editConfigJSON(t, b, func(m map[string]any) { m["process"].(map[string]any)["args"] = "sh" })
		}, nil, "process.args"},
		{"missing-rootfs", spec(func(s *Spec) { s.Root.Path = "no-such-rootfs" }), nil, "no-such-rootfs"},
		{"missing-executable", spec(func(s *Spec) { s.Process.Args = []string{"no-such-binary"} }), nil,
			`"no-such-binary": executable file not found in $PATH`},
		{"missing-executable-path", spec(func(s *Spec) { s.Process.Args = []string{"/bin/no-such-binary"} }), nil,
			"no such file or directory"},
		{"empty-args", spec(func(s *Spec) { s.Process.Args = nil }), nil, "process.args"},
		{"relative-cwd", spec(func(s *Spec) { s.Process.Cwd = "tmp" }), nil, "process.cwd"},
		{"userns-without-mappings", spec(func(s *Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}), nil, "uidMappings"},
		{"tmpfs-bad-mode", tmpfsAt("/mnt", "mode=zzz"), nil, "mode=zzz"},
		{"tmpfs-unknown-option", tmpfsAt("/mnt", "nosuid", "zzz-option"), nil, "zzz-option"},
		{"bad-rootfs-propagation", spec(func(s *Spec) { s.Linux.RootfsPropagation = "zzz" }), nil, "zzz"},
		{"relative-mount-destination", tmpfsAt("mnt"), nil, "mnt"},
		{"missing-bind-source", spec(func(s *Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/no/such/podrun/source", Options: []string{"bind"}})
		}), nil, "/no/such/podrun/source"},
		{"unknown-mount-type", spec(func(s *Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "zzzfs", Source: "zzz"})
		}), nil, "zzzfs"},
		{"host-sysctl", spec(func(s *Spec) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }), nil, "kernel.panic"},
		{"hostname-without-uts", spec(func(s *Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UTSNamespace })
		}), nil, "hostname"},
		{"bad-namespace-path", spec(func(s *Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/ipc"
				}
			}
		}), nil, "network"},
		{"systemd-cgroup", nil, []string{"--systemd-cgroup"}, "not supported"},
		{"rootless-true", nil, []string{"--rootless=true"}, "not supported"},
		{"rootless-bad", nil, []string{"--rootless", "maybe"}, "rootless"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(t)
			if tc.name == "systemd-cgroup" && lcFeatures(h).Linux.Cgroup.Systemd != nil && *lcFeatures(h).Linux.Cgroup.Systemd {
				t.Skip("podrun has the systemd cgroup driver now")
			}
			b := h.Bundle("true")
			if tc.edit != nil {
				tc.edit(t, b)
			}
			args := append(append(slices.Clone(tc.flags), "create", "--bundle", b), h.ID())
			h.Fails(tc.want, args...)
			lcAssertNothing(t, h)
			// run fails the same way.
			args = append(append(slices.Clone(tc.flags), "run", "--bundle", b), h.ID())
			h.Fails(tc.want, args...)
			lcAssertNothing(t, h)
		})
	}
}

// TestBadIDs checks that invalid ids are refused before anything is made.
func TestBadIDs(t *testing.T) {
	h := New(t)
	b := h.Bundle("true")
	for _, id := range []string{"..", ".", "a/b", "../escape", "a b", ""} {
		h.Fails("invalid container id", "create", "--bundle", b, id)
		lcAssertNothing(t, h)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(h.Root), "escape")); err == nil {
		t.Errorf("create ../escape made a directory outside the root")
	}
}

// TestUnknownID checks the error of every command on an id that does not
// exist.
func TestUnknownID(t *testing.T) {
	h := New(t)
	id := h.ID()
	for _, args := range [][]string{
		{"state", id}, {"start", id}, {"kill", id, "9"}, {"delete", id},
		{"ps", id}, {"ps", "--format", "json", id}, {"exec", id, "true"},
	} {
		h.Fails("does not exist", args...)
	}
	lcAssertNothing(t, h)
}

// TestDuplicateID checks that create of an existing id fails and leaves
// the existing container untouched and still startable.
func TestDuplicateID(t *testing.T) {
	h := New(t)
	id := h.ID()
	bundle := h.Bundle(testimage.CheckerInRootfs, "sleep")
	pid := lcCreate(h, bundle, id)
	before := h.State(id)
	other := h.Bundle(testimage.CheckerInRootfs, "sleep")
	pidFile := filepath.Join(t.TempDir(), "pid")
	h.Fails("already exists", "create", "--bundle", other, "--pid-file", pidFile, id)
	h.Fails("already exists", "run", "-d", "--bundle", other, id)
	if _, err := os.Stat(pidFile); err == nil {
		t.Errorf("failed create wrote its pid-file")
	}
	after := h.State(id)
	for _, k := range []string{"pid", "status", "bundle", "created"} {
		if before[k] != after[k] {
			t.Errorf("state %s changed by the failed create: %v -> %v", k, before[k], after[k])
		}
	}
	if !running(pid) {
		t.Fatalf("init %d died", pid)
	}
	h.Must("start", id)
	if s := h.Status(id); s != "running" {
		t.Errorf("status after start = %s", s)
	}
	if ids := strings.Fields(h.Must("list", "-q").Stdout); !slices.Equal(ids, []string{id}) {
		t.Errorf("list -q = %v", ids)
	}
}

// TestStartErrors checks start of a container that is not in the created
// state.
func TestStartErrors(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	h.Fails("cannot start an already running container", "start", id)
	h.Must("kill", id, "KILL")
	lcWaitDead(t, pid)
	h.Fails("cannot start a container that has stopped", "start", id)
	h.Must("delete", id)

	// The init of a created container dies before start.
	id = h.ID()
	pid = lcCreate(h, h.Bundle(testimage.CheckerInRootfs, "sleep"), id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcWaitDead(t, pid)
	if s := h.Status(id); s != "stopped" {
		t.Errorf("status of a created container whose init died = %s, want stopped", s)
	}
	h.Fails("stopped", "start", id)
	h.Must("delete", id)
	lcGone(h, id)
}

// TestMountDestinationSymlinkEscape mounts on destinations that are
// symlinks in the rootfs pointing out of it (absolute, and a ../ chain as
// an inner component): the mounts must land inside the rootfs, and nothing
// on the host may change.
func TestMountDestinationSymlinkEscape(t *testing.T) {
	h := New(t)
	// The host directories the symlinks aim at, one per mount.
	hostAbs, hostRel, hostTmpfs := t.TempDir(), t.TempDir(), t.TempDir()
	src := t.TempDir() // bind source with a marker file
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := h.EditedBundle(func(s *Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/evil-abs", Type: "bind", Source: src, Options: []string{"bind"}},
			specs.Mount{Destination: "/evil-rel/sub", Type: "bind", Source: src, Options: []string{"bind"}},
			specs.Mount{Destination: "/evil-tmpfs", Type: "tmpfs", Source: "tmpfs"},
		)
	}, "sh", "-c", "cat /evil-abs/marker /evil-rel/sub/marker && touch /evil-tmpfs/x && echo ok")
	rootfs := filepath.Join(bundle, "rootfs")
	up := strings.Repeat("../", strings.Count(rootfs, "/")+3)
	for name, target := range map[string]string{
		"evil-abs":   hostAbs,
		"evil-rel":   up + strings.TrimPrefix(hostRel, "/"),
		"evil-tmpfs": up + strings.TrimPrefix(hostTmpfs, "/"),
	} {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	r := h.Run("run", "--bundle", bundle, h.ID())
	if r.Code != 0 || r.Stdout != "insideinsideok\n" {
		t.Errorf("container saw exit %d %q (stderr %q), want the mounts through the symlinks, inside the rootfs", r.Code, r.Stdout, r.Stderr)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, host := range []string{hostAbs, hostRel, hostTmpfs} {
		if ents, _ := os.ReadDir(host); len(ents) != 0 {
			t.Errorf("host directory %s changed: %v", host, ents)
		}
		if strings.Contains(string(mi), host) {
			t.Errorf("a mount on the host directory %s", host)
		}
	}
	// The mount points were made inside the rootfs instead.
	for _, p := range []string{hostAbs, filepath.Join(hostRel, "sub"), hostTmpfs} {
		if st, err := os.Stat(filepath.Join(rootfs, p)); err != nil || !st.IsDir() {
			t.Errorf("mount point %s not made inside the rootfs: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(src); len(ents) != 1 {
		t.Errorf("bind source changed: %v", ents)
	}
}

// TestCreateKilledMidCreate SIGKILLs podrun create while a hook hangs,
// before (createRuntime, host) and inside (createContainer) the container:
// state must answer at once, and delete --force must remove everything.
func TestCreateKilledMidCreate(t *testing.T) {
	for _, kind := range []string{"createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			h := New(t)
			id := h.ID()
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "hook.pid")
			hook := specs.Hook{Path: lcScript(t, filepath.Join(dir, "hang.sh"), "echo $$ > "+pidFile+".tmp; mv "+pidFile+".tmp "+pidFile+"; exec sleep 30"),
				Env: []string{"PATH=/usr/bin:/bin"}}
			bundle := h.EditedBundle(func(s *Spec) {
				s.Hooks = &specs.Hooks{}
				if kind == "createRuntime" {
					s.Hooks.CreateRuntime = []specs.Hook{hook}
				} else {
					s.Hooks.CreateContainer = []specs.Hook{hook}
				}
			}, testimage.CheckerInRootfs, "sleep")
			cmd := h.Cmd("create", "--bundle", bundle, id)
			errc := make(chan error, 1)
			go func() {
				_, err := lcRunCmdIO(cmd, nil, nil)
				errc <- err
			}()
			b := lcWaitFile(t, pidFile, "\n")
			hookPid := 0
			if kind == "createRuntime" {
				// A host process of its own group; podrun cannot know it
				// after being killed, so the test ends it.
				var err error
				if hookPid, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = syscall.Kill(-hookPid, syscall.SIGKILL) })
			}
			for cmd.Process == nil {
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-errc

			start := time.Now()
			st := h.Cmd("state", id)
			r, err := lcRunCmdIO(st, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("state of a container whose create was killed took %v", d)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine") {
				t.Fatalf("state panicked: %s", r.Stderr)
			}
			if r.Code == 0 {
				var m map[string]any
				if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
					t.Errorf("state: %v: %q", err, r.Stdout)
				} else if m["status"] != "creating" && m["status"] != "stopped" {
					t.Errorf("state of a half-created container: status %v", m["status"])
				}
			} else if !strings.Contains(r.Stderr, "does not exist") {
				t.Errorf("state: exit %d: %q", r.Code, r.Stderr)
			}
			h.Fails("does not exist", "start", id+"-other") // podrun still answers
			h.Must("delete", "--force", id)
			lcGone(h, id)
			if hookPid != 0 {
				_ = syscall.Kill(-hookPid, syscall.SIGKILL)
				lcWaitDead(t, hookPid)
			}
			lcAssertNothing(t, h)
		})
	}
}
