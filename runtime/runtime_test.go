package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/procstat"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123", "x_y.z+1", strings.Repeat("a", 100)} {
		if err := validateID(id); err != nil {
			t.Errorf("validateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a b", "../x", "ä", "a\n", "a:b", strings.Repeat("a", 1025)} {
		if err := validateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("validateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	// Every byte alone, and beside a valid one, as runc's ^[\w+\-.]+$
	// judges it.
	runc := regexp.MustCompile(`^[\w+\-.]+$`)
	for b := 0; b < 256; b++ {
		for _, id := range []string{string(rune(b)), "a" + string([]byte{byte(b)}), string([]byte{byte(b)})} {
			want := runc.MatchString(id) && id != "." && id != ".."
			if got := validateID(id) == nil; got != want {
				t.Errorf("validateID(%q) ok = %v, runc's regexp says %v", id, got, want)
			}
		}
	}
}

func TestTransitions(t *testing.T) {
	legal := [][2]Status{{Creating, Created}, {Created, Running}, {Running, Stopped}, {Created, Stopped}, {Running, Paused}, {Paused, Running}, {Created, Paused}, {Paused, Stopped}}
	for _, tr := range legal {
		if !canTransition(tr[0], tr[1]) {
			t.Errorf("%s -> %s refused", tr[0], tr[1])
		}
	}
	illegal := [][2]Status{{Stopped, Running}, {Running, Created}, {Creating, Running}, {Stopped, Created}, {Stopped, Paused}, {Creating, Paused}}
	for _, tr := range illegal {
		if canTransition(tr[0], tr[1]) {
			t.Errorf("%s -> %s allowed", tr[0], tr[1])
		}
	}
}

func TestNamespacedSysctl(t *testing.T) {
	cases := map[string]specs.LinuxNamespaceType{
		"net.ipv4.ip_forward": specs.NetworkNamespace,
		"kernel.shmmax":       specs.IPCNamespace,
		"fs.mqueue.msg_max":   specs.IPCNamespace,
		"kernel.hostname":     specs.UTSNamespace,
		"kernel.panic":        "",
		"vm.swappiness":       "",
	}
	for k, want := range cases {
		if got := namespacedSysctl(k); got != want {
			t.Errorf("namespacedSysctl(%q) = %q, want %q", k, got, want)
		}
	}
}

// validSpec is the default spec of a cgroup v2 host (with a cgroup
// namespace), whatever this host runs.
func validSpec() *specs.Spec {
	s := defaultSpec(true)
	s.Process.Terminal = false
	return s
}

func TestValidateSpec(t *testing.T) {
	r := New(t.TempDir(), nil)
	if err := r.validateSpec(validSpec()); err != nil {
		t.Fatalf("default spec: %v", err)
	}
	// Without a mount namespace (runc runs it; the mounts go in ours).
	s := validSpec()
	s.Linux.Namespaces, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = s.Linux.Namespaces[:4], nil, nil
	if err := r.validateSpec(s); err != nil {
		t.Errorf("no mount namespace: %v", err)
	}
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process:"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "process.cwd"},
		{"bad rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "process.rlimits[0].type"},
		{"soft > hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, "process.rlimits[0]"},
		{"oom range", func(s *specs.Spec) { v := 1001; s.Process.OOMScoreAdj = &v }, "process.oomScoreAdj"},
		{"bad ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "linux.namespaces[6].type"},
		{"dup ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "duplicate"},
		{"masked paths without mount ns", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] },
			"linux.maskedPaths: unable to restrict sys entries without a private MNT namespace"},
		{"readonly paths without mount ns", func(s *specs.Spec) {
			s.Linux.Namespaces, s.Linux.MaskedPaths = s.Linux.Namespaces[:4], nil
		}, "linux.readonlyPaths: unable to restrict sys entries without a private MNT namespace"},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
		}, "hostname"},
		{"userns without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "linux.uidMappings"},
		{"mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, "linux.uidMappings"},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }, `linux.sysctl: "kernel.panic"`},
		{"relative mount", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, "mounts[0].destination"},
		{"seccomp", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{} }, "linux.seccomp"},
	}
	for _, c := range cases {
		s := validSpec()
		c.edit(s)
		err := r.validateSpec(s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
	}
}

func TestUnknownCapabilitiesDropped(t *testing.T) {
	r := New(t.TempDir(), nil)
	s := validSpec()
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
	if err := r.validateSpec(s); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Process.Capabilities.Bounding {
		if c == "CAP_BOGUS" {
			t.Fatal("unknown capability kept")
		}
	}
}

func TestLoadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "config.json does not exist") {
		t.Errorf("missing config: %v", err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"process": {`)
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("malformed: %v", err)
	}
	write(`{"process": {"user": {"uid": "0"}}}`)
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "process.user.uid") {
		t.Errorf("wrong type: %v", err)
	}
	write(`{"ociVersion": "1.0.2", "unknownField": 3}`)
	if _, err := LoadSpec(dir); err != nil {
		t.Errorf("unknown fields must be ignored: %v", err)
	}
}

func TestProcessAliveSelf(t *testing.T) {
	start, _, err := procstat.Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !processAlive(os.Getpid(), start) {
		t.Error("self not alive")
	}
	if processAlive(os.Getpid(), start+1) {
		t.Error("pid reuse not detected")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pid")
	if err := writePidFile(p, 1234); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "1234" {
		t.Fatalf("pid file = %q, want 1234 without newline", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

// TestDefaultSpecCgroupNS: like runc spec, a cgroup namespace only on a
// unified (cgroup v2) host.
func TestDefaultSpecCgroupNS(t *testing.T) {
	for _, unified := range []bool{false, true} {
		n := 0
		for _, ns := range defaultSpec(unified).Linux.Namespaces {
			if ns.Type == specs.CgroupNamespace {
				n++
			}
		}
		if want := map[bool]int{false: 0, true: 1}[unified]; n != want {
			t.Errorf("defaultSpec(unified=%v): %d cgroup namespaces, want %d", unified, n, want)
		}
	}
}

// TestRaisableAmbient: an ambient capability stays only when permitted and
// inheritable (the kernel refuses to raise it otherwise); runc's default
// config has none inheritable, so its ambient set is dropped, with a
// warning each.
func TestRaisableAmbient(t *testing.T) {
	c := &specs.LinuxCapabilities{
		Permitted:   []string{"CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"},
		Inheritable: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"},
		Ambient:     []string{"CAP_KILL", "CAP_CHOWN", "CAP_SYS_ADMIN"},
	}
	kept, dropped := raisableAmbient(c)
	if !slices.Equal(kept, []string{"CAP_CHOWN"}) || !slices.Equal(dropped, []string{"CAP_KILL", "CAP_SYS_ADMIN"}) {
		t.Errorf("raisableAmbient = %q, %q; want [CAP_CHOWN], [CAP_KILL CAP_SYS_ADMIN]", kept, dropped)
	}
	var warns []string
	r := New(t.TempDir(), warnLog(func(m string) { warns = append(warns, m) }))
	s := validSpec()
	s.Process.Capabilities.Ambient = slices.Clone(s.Process.Capabilities.Permitted)
	if err := r.validateSpec(s); err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Capabilities.Ambient) != 0 || len(warns) != 3 || !strings.Contains(warns[0], "process.capabilities.ambient") {
		t.Errorf("runc's default caps: ambient %q, warnings %q", s.Process.Capabilities.Ambient, warns)
	}
}

// warnLog is a Logger that hands each warning to f.
type warnLog func(msg string)

func (warnLog) Debugf(string, ...any)           {}
func (w warnLog) Warnf(format string, a ...any) { w(fmt.Sprintf(format, a...)) }
