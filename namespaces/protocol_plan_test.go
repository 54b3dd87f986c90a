package namespaces

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/seccomp"
)

// planSpecs are real specs written by others (runc 1.1.5's and crun
// 1.8.1's `spec`, in testdata/specs) and the runtime's test configs
// (a full one, a hostile one, a rootless one), by name.
func planSpecs(t testing.TB) map[string]*specs.Spec {
	t.Helper()
	files, err := filepath.Glob("testdata/specs/*.json")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../runtime/testdata/configs/*.json")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %d spec files: %v", len(files), files)
	}
	out := map[string]*specs.Spec{"everyField": everyFieldSpec(), "bench": benchConfig().Spec}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Keys the runtime would refuse (hostile.json has one; see
		// TestPlanRefuses) are dropped, to cover the rest of the spec.
		if s.Linux != nil {
			for k := range s.Linux.Sysctl {
				if _, _, err := SysctlName(k); err != nil {
					delete(s.Linux.Sysctl, k)
				}
			}
		}
		out[filepath.Base(f)] = &s
	}
	return out
}

// everyFieldSpec sets every field the plan carries, with values at the
// edges of their types.
func everyFieldSpec() *specs.Spec {
	u32 := func(v uint32) *uint32 { return &v }
	mode := os.FileMode(0o620)
	timeout := 1 << 40
	return &specs.Spec{
		Hostname: "h\x00st", Domainname: "example.org",
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal: true, ConsoleSize: &specs.Box{Height: 1 << 40, Width: 80},
			User: specs.User{UID: 4294967295, GID: 65534, Umask: u32(0o077), AdditionalGids: []uint32{0, 5, 4294967294}},
			Args: []string{"/bin/sh", "-c", "echo \"é\"", ""}, Env: []string{"A=1", "A=2", "EMPTY="}, Cwd: "/work dir",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE", "CAP_SYS_ADMIN"}, Effective: []string{"CAP_KILL"},
				Permitted: []string{"CAP_KILL", "CAP_NOT_A_CAP"}, Inheritable: []string{"CAP_NET_RAW"}, Ambient: []string{"CAP_KILL"},
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: ^uint64(0), Soft: 0}, {Type: "RLIMIT_STACK", Hard: 8 << 20, Soft: 8 << 20},
			},
			NoNewPrivileges: true, ApparmorProfile: "podrun-test", SelinuxLabel: "system_u:system_r:container_t:s0",
			Scheduler:       &specs.Scheduler{Policy: "SCHED_DEADLINE", Nice: -20, Priority: -2147483648, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_RESET_ON_FORK"}, Runtime: ^uint64(0), Deadline: 2, Period: 3},
			IOPriority:      &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE", Priority: -7},
			ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "0-1"},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "data", Type: "bind", Source: "./data", Options: []string{"rbind", "ro", "rprivate"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 4294967295, HostID: 1, Size: 1}}},
			{Destination: "/tmp", Type: "tmpfs", Options: []string{}},
		},
		Hooks: &specs.Hooks{
			CreateContainer: []specs.Hook{{Path: "/bin/hook", Args: []string{"hook", "create"}, Env: []string{"X=1"}, Timeout: &timeout}},
			StartContainer:  []specs.Hook{{Path: "/bin/true"}},
			CreateRuntime:   []specs.Hook{{Path: "/not/in/the/plan"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network", Path: "/run/netns/x"}, {Type: "mount"},
				{Type: "ipc"}, {Type: "uts"}, {Type: "user"}, {Type: "cgroup"}, {Type: "time"}},
			Sysctl:            map[string]string{"net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.100/forwarding": "0", "kernel.msgmax": ""},
			RootfsPropagation: "rslave", MountLabel: "system_u:object_r:container_file_t:s0",
			Devices: []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: u32(0), GID: u32(4294967295)},
				{Path: "/dev/sda", Type: "b", Major: -1, Minor: 1 << 40},
			},
			MaskedPaths:   []string{"/proc/kcore", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/sys"},
			Personality:   &specs.LinuxPersonality{Domain: "LINUX32", Flags: []specs.LinuxPersonalityFlag{"x"}},
		},
	}
}

// planConfig is the InitConfig create would make of s, with every
// runtime-side field set.
func planConfig(s *specs.Spec) *InitConfig {
	f, err := seccomp.Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}})
	if err != nil {
		panic(err)
	}
	return &InitConfig{
		ID: "plan-test", Spec: s, Process: s.Process,
		Rootfs: "/b/rootfs", BundleDir: "/b", NoPivot: true, NewKeyring: true, PreserveFds: 2,
		FifoFd: 7, ConsoleFd: 8, JoinFds: map[string]int{"mnt": 9, "net": 10, "uts": 11},
		NewMountNS: true, UnshareCgroup: true, Seccomp: f,
		Overlay: &overlay.Mount{Lower: []string{"/l/2", "/l/1"}, Upper: "/u", Work: "/w", LinkDir: "/l", Links: []string{"A", "B"}, Detached: true},
		State: &specs.State{Version: specs.Version, ID: "plan-test", Status: specs.StateCreating, Bundle: "/b",
			Annotations: map[string]string{"a": "1", "b": ""}},
		MountFds: []int{-1, 12, -1},
	}
}

// roundTrip encodes pl and decodes it.
func roundTrip(t testing.TB, pl *Plan) *Plan {
	t.Helper()
	got, err := decodePlan(encodePlan(nil, pl))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPlanRoundTrip: what the parent resolves is what the init decodes,
// for real specs and one with every field set.
func TestPlanRoundTrip(t *testing.T) {
	for name, s := range planSpecs(t) {
		t.Run(name, func(t *testing.T) {
			for _, cfg := range []*InitConfig{planConfig(s), {ID: "x", Process: s.Process}} {
				pl, err := newPlan(cfg)
				if err != nil {
					t.Fatal(err)
				}
				got := roundTrip(t, pl)
				if want := normalized(pl); !reflect.DeepEqual(normalized(got), want) {
					t.Fatalf("plan changed on the wire:\n got %+v\nwant %+v", got, want)
				}
			}
		})
	}
}

// TestPlanResolvesSpec: the init's view of the plan is the spec's.
func TestPlanResolvesSpec(t *testing.T) {
	for name, s := range planSpecs(t) {
		t.Run(name, func(t *testing.T) {
			pl, err := newPlan(planConfig(s))
			if err != nil {
				t.Fatal(err)
			}
			pl = roundTrip(t, pl)
			rs := pl.rootfsSpec()
			l := s.Linux
			if l == nil {
				l = &specs.Linux{}
			}
			root := s.Root != nil && s.Root.Readonly
			for what, pair := range map[string][2]any{
				"mounts":            {s.Mounts, rs.Mounts},
				"devices":           {l.Devices, rs.Linux.Devices},
				"maskedPaths":       {l.MaskedPaths, rs.Linux.MaskedPaths},
				"readonlyPaths":     {l.ReadonlyPaths, rs.Linux.ReadonlyPaths},
				"rootfsPropagation": {l.RootfsPropagation, rs.Linux.RootfsPropagation},
				"mountLabel":        {l.MountLabel, rs.Linux.MountLabel},
				"root.readonly":     {root, rs.Root.Readonly},
				"personality":       {l.Personality, pl.Personality},
				"hostname":          {s.Hostname, pl.Hostname},
			} {
				if !reflect.DeepEqual(normalized(pair[0]), normalized(pair[1])) {
					t.Errorf("%s: got %+v, want %+v", what, pair[1], pair[0])
				}
			}
			for _, ns := range l.Namespaces {
				if !Has(rs.Linux.Namespaces, ns.Type) || !pl.hasNamespace(ns.Type) {
					t.Errorf("namespace %s lost", ns.Type)
				}
			}
			if len(rs.Linux.Namespaces) != len(l.Namespaces) {
				t.Errorf("namespaces: got %v, want %v", rs.Linux.Namespaces, l.Namespaces)
			}
			wantNet := Has(l.Namespaces, specs.NetworkNamespace) && Path(l.Namespaces, specs.NetworkNamespace) == ""
			if pl.NewNetNS != wantNet {
				t.Errorf("new network namespace: got %v, want %v", pl.NewNetNS, wantNet)
			}
			if len(pl.Sysctls) != len(l.Sysctl) {
				t.Errorf("sysctls: got %d, want %d", len(pl.Sysctls), len(l.Sysctl))
			}
			for _, sc := range pl.Sysctls {
				if l.Sysctl[sc.Key] != sc.Value || !strings.HasPrefix(sc.Path, "/proc/sys/") {
					t.Errorf("sysctl %s: got %+v", sc.Key, sc)
				}
			}
			checkCaps(t, s.Process.Capabilities, &pl.Caps)
			if len(pl.Rlimits) != len(s.Process.Rlimits) {
				t.Fatalf("rlimits: got %d, want %d", len(pl.Rlimits), len(s.Process.Rlimits))
			}
			for i, rl := range s.Process.Rlimits {
				if r := pl.Rlimits[i]; r.Resource != rlimits[rl.Type] || r.Soft != rl.Soft || r.Hard != rl.Hard {
					t.Errorf("rlimit %s: got %+v", rl.Type, r)
				}
			}
			var hc, hs []specs.Hook
			if s.Hooks != nil {
				hc, hs = s.Hooks.CreateContainer, s.Hooks.StartContainer
			}
			if !reflect.DeepEqual(normalized(hc), normalized(pl.CreateContainer)) || !reflect.DeepEqual(normalized(hs), normalized(pl.StartContainer)) {
				t.Errorf("hooks: got %+v / %+v", pl.CreateContainer, pl.StartContainer)
			}
			want := []NSFd{{"net", 10}, {"uts", 11}, {"mnt", 9}}
			if !reflect.DeepEqual(pl.JoinFds, want) {
				t.Errorf("join fds: got %v, want %v (mnt last)", pl.JoinFds, want)
			}
		})
	}
}

// checkCaps compares the plan's masks with the capability names.
func checkCaps(t *testing.T, c *specs.LinuxCapabilities, masks *[numCapSets]uint64) {
	t.Helper()
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	for i, names := range [numCapSets][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		var known int
		for _, n := range names {
			cp, ok := capabilityByName(n)
			if !ok {
				continue
			}
			known++
			if masks[i]&(1<<uint(cp)) == 0 {
				t.Errorf("capability set %d: %s missing from %#x", i, n, masks[i])
			}
		}
		if got := popcount(masks[i]); got != known {
			t.Errorf("capability set %d: %d bits for %d known names %v", i, got, known, names)
		}
	}
}

func capabilityByName(n string) (capability.Cap, bool) {
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == n {
			return c, true
		}
	}
	return 0, false
}

func popcount(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// TestPlanRefuses: what the init could not apply fails in the parent.
func TestPlanRefuses(t *testing.T) {
	s := everyFieldSpec()
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
	if _, err := newPlan(planConfig(s)); err == nil || !strings.Contains(err.Error(), `process.rlimits: unknown type "RLIMIT_BOGUS"`) {
		t.Errorf("unknown rlimit: got %v", err)
	}
	s = everyFieldSpec()
	s.Linux.Sysctl = map[string]string{"net/../../kcore": "1", "kernel.msgmax": "1"}
	if _, err := newPlan(planConfig(s)); err == nil || !strings.Contains(err.Error(), "linux.sysctl:") {
		t.Errorf("bad sysctl: got %v", err)
	}
	if _, err := newPlan(&InitConfig{}); err == nil {
		t.Error("a config without a process was accepted")
	}
}

// TestDecodePlanRejects: truncated, padded or out-of-range input is an
// error, never a partial plan.
func TestDecodePlanRejects(t *testing.T) {
	pl, err := newPlan(planConfig(everyFieldSpec()))
	if err != nil {
		t.Fatal(err)
	}
	b := encodePlan(nil, pl)
	for i := 0; i < len(b); i++ {
		if _, err := decodePlan(b[:i]); err == nil {
			t.Fatalf("a plan cut at %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := decodePlan(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	for name, bad := range map[string][]byte{
		"version":      {2},
		"kind":         {1, 3, 'r', 'u', 'n'},
		"huge string":  {1, 6, 'c', 'r', 'e', 'a', 't', 'e', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge list":    append([]byte{1, 4, 'e', 'x', 'e', 'c', 0, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"bad varint":   {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"bad fd":       {1, 4, 'e', 'x', 'e', 'c', 0, 3},
		"bad bool":     {1, 4, 'e', 'x', 'e', 'c', 0, 0, 0, 0, 0, 0, 2},
		"fd > 32 bits": {1, 4, 'e', 'x', 'e', 'c', 0, 0x80, 0x80, 0x80, 0x80, 0x10},
	} {
		if _, err := decodePlan(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestProtocolFrames: the framing refuses a frame over maxFrame and one
// cut short, and carries error texts and plans.
func TestProtocolFrames(t *testing.T) {
	p, c := connPair(t)
	pl, err := newPlan(planConfig(everyFieldSpec()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.send(message{Type: msgConfig, Plan: pl}); err != nil {
		t.Fatal(err)
	}
	m, err := c.recv(msgConfig)
	if err != nil || !reflect.DeepEqual(normalized(m.Plan), normalized(pl)) {
		t.Fatalf("config: %v, %+v", err, m.Plan)
	}
	if err := c.send(message{Type: msgError, Error: "it failed"}); err != nil {
		t.Fatal(err)
	}
	var ie *InitError
	if _, err := p.recv(msgReady); err == nil || !errors.As(err, &ie) || ie.Msg != "it failed" {
		t.Errorf("error message: got %v", err)
	}
	if err := c.send(message{Type: msgHooksDone}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.recv(msgReady); err == nil || !strings.Contains(err.Error(), `got hooksDone, want ready`) {
		t.Errorf("wrong type: got %v", err)
	}

	p, c = connPair(t)
	if _, err := p.f.Write([]byte{byte(msgConfig), 0xff, 0xff, 0xff, 0x7f}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.recvAny(); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized frame: got %v", err)
	}
	p, c = connPair(t)
	if _, err := p.f.Write([]byte{byte(msgConfig), 0, 0, 0x20, 0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	p.f.Close()
	if _, err := c.recvAny(); err == nil || err == errChildExited {
		t.Errorf("frame cut short: got %v", err)
	}
	p, c = connPair(t)
	p.f.Close()
	if _, err := c.recvAny(); err != errChildExited {
		t.Errorf("EOF: got %v", err)
	}
}

// normalized returns a copy of v with empty slices and maps as nil: the
// wire form does not tell them apart, and nothing in the init does.
func normalized(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	normalize(out, rv)
	return out.Interface()
}

func normalize(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			normalize(dst.Elem(), src.Elem())
		}
	case reflect.Slice:
		if src.Len() > 0 {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
			for i := 0; i < src.Len(); i++ {
				normalize(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Map:
		if src.Len() > 0 {
			dst.Set(reflect.MakeMap(src.Type()))
			for _, k := range src.MapKeys() {
				dst.SetMapIndex(k, src.MapIndex(k))
			}
		}
	case reflect.Struct:
		for i := 0; i < src.NumField(); i++ {
			normalize(dst.Field(i), src.Field(i))
		}
	case reflect.Array:
		for i := 0; i < src.Len(); i++ {
			normalize(dst.Index(i), src.Index(i))
		}
	default:
		dst.Set(src)
	}
}
