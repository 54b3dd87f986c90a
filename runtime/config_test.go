package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestLoadSpecHostileFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(p string) error
		want  string
	}{
		{"oversized", func(p string) error {
			// Sparse: the size alone must be refused, nothing read.
			if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
				return err
			}
			return os.Truncate(p, MaxConfigSize+1)
		}, "config.json: larger than 4 MiB"},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }, "config.json: not a regular file (a FIFO)"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "not a regular file"},
		{"deeply-nested", func(p string) error {
			n := 100000
			return os.WriteFile(p, []byte(`{"x":`+strings.Repeat("[", n)+strings.Repeat("]", n)+"}"), 0o644)
		}, "config.json: nested more than 100 levels deep"},
		{"dangling-symlink", func(p string) error { return os.Symlink("/nonexistent/podrun", p) }, "config.json does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.write(filepath.Join(dir, "config.json")); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSpec(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("LoadSpec: %v; want one line with %q", err, tc.want)
			}
		})
	}
}

func TestValidateSpecHostile(t *testing.T) {
	r := New(t.TempDir(), nil)
	withNS := func(s *specs.Spec, typ specs.LinuxNamespaceType, path string) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == typ {
				s.Linux.Namespaces[i].Path = path
			}
		}
	}
	for _, c := range []struct {
		name string
		edit func(*specs.Spec)
		want string // "" when valid
	}{
		{"slash sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net/ipv4/ip_forward": "1"} }, ""},
		{"slash host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel/panic": "1"} }, `linux.sysctl: "kernel/panic" is not in a separate`},
		{"sysctl climbing out", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.//.kernel.core_pattern": "x"}
		}, "linux.sysctl: \"net.//.kernel.core_pattern\" is not a valid sysctl name"},
		{"kernel.hostname", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} }, "conflicts with the hostname field"},
		{"kernel.domainname", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"} }, ""},
		{"net sysctl in our netns", func(s *specs.Spec) {
			withNS(s, specs.NetworkNamespace, "/proc/self/ns/net")
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "runtime's own network namespace"},
		{"ipc sysctl in our ipcns", func(s *specs.Spec) {
			withNS(s, specs.IPCNamespace, "/proc/self/ns/ipc")
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, "runtime's own ipc namespace"},
		{"sysctl netns path missing", func(s *specs.Spec) {
			withNS(s, specs.NetworkNamespace, "/nonexistent/ns\nnet")
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `linux.namespaces: network namespace path "/nonexistent/ns\nnet"`},
		{"idmap", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}})
		}, "mounts[7]"},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind"})
		}, "mounts[7]"},
		{"bad propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "linux.rootfsPropagation"},
		{"relative device", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c", Major: 1, Minor: 3}}
		}, "linux.devices[0].path"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, "linux.devices"},
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "proc/kcore") }, "linux.maskedPaths[10]"},
		{"relative readonly path", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"proc"} }, "linux.readonlyPaths[0]"},
	} {
		s := validSpec()
		c.edit(s)
		err := r.validateSpec(s)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(c.want, "\n", `\n`))):
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
	}
}

func TestCheckRootNoSymlink(t *testing.T) {
	bundle := t.TempDir()
	for _, d := range []string{"rootfs", "real"} {
		if err := os.Mkdir(filepath.Join(bundle, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real", filepath.Join(bundle, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(bundle, "hostroot")); err != nil {
		t.Fatal(err)
	}
	viaLink := filepath.Join(t.TempDir(), "bundle-link")
	if err := os.Symlink(bundle, viaLink); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"rootfs", "./rootfs", filepath.Join(bundle, "rootfs")} {
		if err := checkRootNoSymlink(bundle, ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
		if err := checkRootNoSymlink(viaLink, ok); err != nil {
			t.Errorf("%s via a linked bundle path: %v", ok, err)
		}
	}
	for _, bad := range []string{"link", "hostroot", "link/.", filepath.Join(bundle, "hostroot")} {
		if err := checkRootNoSymlink(bundle, bad); err == nil || !strings.HasPrefix(err.Error(), "root.path: ") {
			t.Errorf("%s: %v, want a root.path error", bad, err)
		}
	}
}
