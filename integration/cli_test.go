package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/podrun/podrun/internal/testimage"
)

// TestCLISpec checks that spec writes runc's default config.json in the
// working directory or --bundle, refuses to overwrite one, and that the
// result runs with the test rootfs.
func TestCLISpec(t *testing.T) {
	h := New(t)
	dir := t.TempDir()
	cmd := h.Cmd("spec")
	cmd.Dir = dir
	if r := h.RunCmd(cmd); r.Code != 0 || r.Stdout != "" {
		t.Fatalf("spec: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	path := filepath.Join(dir, "config.json")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(orig, &s); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if s.Version != specs.Version || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil ||
		!slices.Equal(s.Process.Args, []string{"sh"}) || !s.Process.Terminal || s.Linux == nil {
		t.Errorf("spec: unexpected default: %s", orig)
	}
	var nss []string
	for _, ns := range s.Linux.Namespaces {
		nss = append(nss, string(ns.Type))
	}
	for _, want := range []string{"pid", "network", "ipc", "uts", "mount"} {
		if !slices.Contains(nss, want) {
			t.Errorf("spec: namespace %s missing: %v", want, nss)
		}
	}
	// A second spec refuses to overwrite.
	cmd = h.Cmd("spec")
	cmd.Dir = dir
	if r := h.RunCmd(cmd); r.Code == 0 || !strings.Contains(r.Stderr, "exists") {
		t.Errorf("spec over an existing config.json: exit %d, %q", r.Code, r.Stderr)
	}
	h.Fails("exists", "spec", "--bundle", dir)
	if b, _ := os.ReadFile(path); string(b) != string(orig) {
		t.Errorf("spec changed the existing config.json")
	}

	// --bundle: the spec of a fresh bundle runs (without a terminal).
	bundle := h.Bundle("true")
	if err := os.Remove(filepath.Join(bundle, "config.json")); err != nil {
		t.Fatal(err)
	}
	h.Must("spec", "--bundle", bundle)
	sp := testimage.Spec(t, bundle)
	sp.Process.Terminal = false
	sp.Process.Args = []string{"sh", "-c", "hostname; exit 3"}
	testimage.WriteSpec(t, bundle, sp)
	if r := h.Run("run", "--bundle", bundle, h.ID()); r.Code != 3 || strings.TrimSpace(r.Stdout) != sp.Hostname {
		t.Errorf("run of podrun spec's config: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestCLISpecRootless checks spec --rootless: a user namespace mapping
// the caller, no network namespace.
func TestCLISpecRootless(t *testing.T) {
	h := New(t)
	dir := t.TempDir()
	h.Must("spec", "--rootless", "--bundle", dir)
	var s specs.Spec
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var nss []string
	for _, ns := range s.Linux.Namespaces {
		nss = append(nss, string(ns.Type))
	}
	if !slices.Contains(nss, "user") || slices.Contains(nss, "network") {
		t.Errorf("spec --rootless namespaces: %v, want user and no network", nss)
	}
	if len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].ContainerID != 0 || s.Linux.UIDMappings[0].HostID != uint32(os.Geteuid()) ||
		len(s.Linux.GIDMappings) != 1 || s.Linux.GIDMappings[0].HostID != uint32(os.Getegid()) {
		t.Errorf("spec --rootless mappings: %+v %+v", s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	for _, m := range s.Mounts {
		if m.Type == "sysfs" || slices.Contains(m.Options, "gid=5") {
			t.Errorf("spec --rootless mount %+v: a user namespace cannot mount it so", m)
		}
	}
}

// TestCLIFeatures checks that features prints the runtime-spec features
// document.
func TestCLIFeatures(t *testing.T) {
	h := New(t)
	r := h.Must("features")
	var f features.Features
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("features: %v\n%s", err, r.Stdout)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax != specs.Version {
		t.Errorf("features versions %q..%q, want ..%s", f.OCIVersionMin, f.OCIVersionMax, specs.Version)
	}
	for _, hk := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, hk) {
			t.Errorf("features hooks %v: %s missing", f.Hooks, hk)
		}
	}
	for _, o := range []string{"bind", "rbind", "ro", "nosuid", "rprivate"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("features mountOptions: %s missing", o)
		}
	}
	if f.Linux == nil || !slices.Contains(f.Linux.Namespaces, "mount") || !slices.Contains(f.Linux.Namespaces, "pid") ||
		!slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") || f.Linux.Cgroup == nil {
		t.Errorf("features linux: %+v", f.Linux)
	}
	if f.Linux != nil && f.Linux.Cgroup != nil && f.Linux.Cgroup.Systemd != nil && *f.Linux.Cgroup.Systemd {
		// --systemd-cgroup is refused; features must not claim it.
		if r := h.Run("--systemd-cgroup", "list"); r.Code != 0 {
			t.Errorf("features claims systemd cgroups, but --systemd-cgroup fails: %s", r.Stderr)
		}
	}
}

// TestCLIVersion checks --version: podrun's version and the spec's.
func TestCLIVersion(t *testing.T) {
	h := New(t)
	for _, flag := range []string{"--version", "-v"} {
		r := h.Must(flag)
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if !strings.HasPrefix(lines[0], "podrun version ") || len(lines[0]) <= len("podrun version ") {
			t.Errorf("%s: first line %q", flag, lines[0])
		}
		if !slices.Contains(lines, "spec: "+specs.Version) {
			t.Errorf("%s: no %q line: %q", flag, "spec: "+specs.Version, r.Stdout)
		}
	}
}

// TestCLIUsageErrors checks unknown commands and flags and wrong argument
// counts: a non-zero exit and a one-line error.
func TestCLIUsageErrors(t *testing.T) {
	h := New(t)
	h.Fails("frobnicate", "frobnicate")
	if r := h.Run("--no-such-flag", "list"); r.Code == 0 || !strings.Contains(r.Stderr, "no-such-flag") {
		t.Errorf("unknown global flag: exit %d, %q", r.Code, r.Stderr)
	}
	if r := h.Run("create", "--no-such-flag", "x"); r.Code == 0 || !strings.Contains(r.Stderr, "no-such-flag") {
		t.Errorf("unknown create flag: exit %d, %q", r.Code, r.Stderr)
	}
	h.Fails("create", "create")
	h.Fails("start", "start")
	h.Fails("state", "state", "a", "b")
	h.Fails("delete", "delete")
	h.Fails("kill", "kill")
	h.Fails("kill", "kill", "a", "9", "extra")
	h.Fails("format", "list", "--format", "xml")
	lcAssertNothing(t, h)
}

// TestCLIGlobalFlagsAccepted checks the global flags clients pass to every
// call are accepted (--rootless false/auto, --log-format, --debug, --root).
func TestCLIGlobalFlagsAccepted(t *testing.T) {
	h := New(t)
	for _, flags := range [][]string{
		{"--rootless", "false"}, {"--rootless=auto"}, {"--debug"}, {"--log-format", "json"}, {"--log-format=text"},
	} {
		h.Must(append(flags, "list")...)
	}
	// A fresh --root that does not exist yet is fine for list and state.
	root := filepath.Join(t.TempDir(), "not", "yet")
	cmd := h.Cmd("list", "-q")
	cmd.Args = []string{cmd.Args[0], "--root", root, "list", "-q"}
	if r := h.RunCmd(cmd); r.Code != 0 || r.Stdout != "" {
		t.Errorf("list with a missing root: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestCLIFlagsAfterID runs a container's life with the flags after the
// container id, orders runc 1.1 accepts (urfave/cli v1 moves a command's
// flags before its arguments; exec and ps do not, there what follows the id
// is the command).
func TestCLIFlagsAfterID(t *testing.T) {
	h := cgNew(t)
	bundle := h.Bundle("sleep", "1000")
	id := h.ID()
	args := cgCreateArgs(h, "run", "-d", "--bundle", bundle, id)
	// run ID -d --bundle B (runc's own parser fails on `run -d ID --bundle B`).
	args = append([]string{"run", id}, args[1:len(args)-1]...)
	h.MustNoPipes(h.Cmd(args...))
	h.Must("update", id, "--pids-limit", "77")
	if got := readTrim(t, cgHostFile(t, h.Pid(id), "pids", "pids.max", "pids.max")); got != "77" {
		t.Errorf("update ID --pids-limit 77: pids.max = %q", got)
	}
	h.Must("pause", id)
	h.Must("resume", id)
	// exec does not reorder: "-t" after the id is the command to run, as
	// in runc ("exec failed: ... \"-t\": executable file not found").
	if r := h.Run("exec", id, "-t", "true"); r.Code == 0 || !strings.Contains(r.Stderr, `"-t"`) {
		t.Errorf("exec ID -t true: exit %d %q, want the command -t not found", r.Code, r.Stderr)
	}
	if r := h.Must("exec", id, "echo", "-t", "--x"); strings.TrimSpace(r.Stdout) != "-t --x" {
		t.Errorf("exec ID echo -t --x printed %q", r.Stdout)
	}
	h.Must("kill", id, "KILL", "--all")
	if !waitFor(10*time.Second, func() bool { return h.Status(id) == "stopped" }) {
		t.Fatalf("still %s after kill ID KILL --all", h.Status(id))
	}
	h.Must("delete", id, "--force")
	lcAssertNothing(t, h)
}

// TestCLIArgOrdersAsRunc runs one container's life, flags after the id,
// under runc and podrun, and wants the same exit status at every step:
// runc 1.1's argument orders and exec's 255 on failure.
func TestCLIArgOrdersAsRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	if cgSystemd() {
		t.Skip("cgroupsPath of the cgroupfs driver")
	}
	h := cgNew(t)
	bundle := h.Bundle("sleep", "1000")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	type runtime struct {
		name, bin, root, id, bundle string
	}
	var rts []*runtime
	for _, name := range []string{"runc", "podrun"} {
		id := h.ID()
		rt := &runtime{name: name, bin: runc, root: t.TempDir(), id: id, bundle: cgContainerBundle(h, bundle, id)}
		if name == "podrun" {
			rt.bin, rt.root = podrunBin, h.Root
		}
		rts = append(rts, rt)
		t.Cleanup(func() { _ = exec.Command(rt.bin, "--root", rt.root, "delete", "--force", rt.id).Run() })
	}
	// Each step's args; "ID" and "B" stand for the container and bundle.
	steps := [][]string{
		{"run", "ID", "-d", "--bundle", "B"},
		{"update", "ID", "--pids-limit", "50"},
		{"update", "ID", "--memory", "100000000", "--pids-limit=60"},
		{"pause", "ID"},
		{"exec", "ID", "true"}, // paused: 255
		{"resume", "ID"},
		{"exec", "ID", "-t", "true"},                      // the command "-t": 255
		{"exec", "--cgroup", "no-such-sub", "ID", "true"}, // 255
		{"ps", "ID", "--format", "json"},                  // ps(1) gets --format: fails
		{"kill", "ID", "KILL", "--all"},
	}
	for _, step := range steps {
		var codes []int
		for _, rt := range rts {
			args := []string{"--root", rt.root}
			for _, a := range step {
				switch a {
				case "ID":
					a = rt.id
				case "B":
					a = rt.bundle
				}
				args = append(args, a)
			}
			cmd := exec.Command(rt.bin, args...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
			code := 0
			if err := waitTimeout(startCmd(t, cmd), 60*time.Second); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("%s %v: %v", rt.name, step, err)
				}
				code = ee.ExitCode()
			}
			codes = append(codes, code)
		}
		t.Logf("%v: runc %d podrun %d", step, codes[0], codes[1])
		if codes[0] != codes[1] {
			t.Errorf("%v: runc exits %d, podrun %d", step, codes[0], codes[1])
		}
	}
	for _, rt := range rts {
		rt := rt
		if !waitFor(10*time.Second, func() bool {
			out, _ := exec.Command(rt.bin, "--root", rt.root, "state", rt.id).Output()
			return strings.Contains(string(out), `"stopped"`)
		}) {
			t.Fatalf("%s: container not stopped after kill", rt.name)
		}
		if out, err := exec.Command(rt.bin, "--root", rt.root, "delete", rt.id, "--force").CombinedOutput(); err != nil {
			t.Errorf("%s delete ID --force: %v %s", rt.name, err, out)
		}
	}
}

func startCmd(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
