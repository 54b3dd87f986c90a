package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/testimage"
)

// Helpers shared by process_test.go, namespaces_test.go, exec_test.go,
// terminal_test.go and fds_test.go. Their names start with "core" so they
// do not collide with the other test files of the package.

// coreChecker returns the args that run the checker's report in a
// container, followed by extra report flags.
func coreChecker(extra ...string) []string {
	return append([]string{testimage.CheckerInRootfs, "report"}, extra...)
}

// coreBundle returns the test's bundle with config.json rewritten from the
// default spec to run args, edited. Copying the rootfs is most of the cost
// of a container run, so a test copies it once (on its first call) and
// every call returns the same directory: podrun reads config.json at
// create, so a container already created keeps its own config. The rootfs
// is shared by the test's containers (the default root is read-only).
func coreBundle(h *H, edit func(*Spec), args ...string) string {
	h.t.Helper()
	v, ok := coreBundleCache.Load(h)
	if !ok {
		bundle := h.Bundle("true")
		v = &coreBundleBase{dir: bundle, spec: testimage.Spec(h.t, bundle)}
		coreBundleCache.Store(h, v)
		h.t.Cleanup(func() { coreBundleCache.Delete(h) })
	}
	b := v.(*coreBundleBase)
	data, err := json.Marshal(b.spec)
	if err != nil {
		h.t.Fatal(err)
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		h.t.Fatal(err)
	}
	s.Process.Args = args
	if edit != nil {
		edit(&s)
	}
	testimage.WriteSpec(h.t, b.dir, &s)
	return b.dir
}

// coreBundleCache maps a test's *H to its coreBundleBase.
var coreBundleCache sync.Map

type coreBundleBase struct {
	dir  string
	spec *Spec // the default config.json
}

// coreSleeper starts a container running `checker sleep` (spec edited
// first) and returns its id and init pid.
func coreSleeper(h *H, edit func(*Spec)) (string, int) {
	h.t.Helper()
	id := h.ID()
	pid := h.RunDetached(coreBundle(h, edit, testimage.CheckerInRootfs, "sleep"), id)
	if pid <= 0 {
		h.t.Fatalf("container %s: pid %d after run -d", id, pid)
	}
	return id, pid
}

// coreNoGoFDs is the environment entry that stops the checker's Go
// runtime (1.25+) from keeping its cgroup CPU files (cpu.cfs_quota_us,
// cpu.max...) open from before main: with it, the report's fds are only
// what the runtime under test passed in.
const coreNoGoFDs = "GODEBUG=containermaxprocs=0"

// coreRunReport runs bundle in the foreground (`podrun run`) and parses
// the checker's report from its output.
func coreRunReport(h *H, bundle string) *checkreport.Report {
	h.t.Helper()
	r := h.Must("run", "--bundle", bundle, h.ID())
	return parseReport(h.t, r.Stdout)
}

// coreNS returns the readlink of /proc/<pid>/ns/<name> on the host ("self"
// for the test process).
func coreNS(t *testing.T, pid any, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%v/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// coreNoErrors fails t if the checker could not read something.
func coreNoErrors(t *testing.T, rep *checkreport.Report) {
	t.Helper()
	if len(rep.Errors) > 0 {
		t.Errorf("checker errors: %q", rep.Errors)
	}
}

// coreSorted returns a sorted copy of names.
func coreSorted(names []string) []string {
	out := slices.Clone(names)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// coreCapsEqual checks one capability set of a report against want.
func coreCapsEqual(t *testing.T, set string, got checkreport.CapSet, want []string) {
	t.Helper()
	if g, w := coreSorted(got.Names), coreSorted(want); !slices.Equal(g, w) {
		t.Errorf("capabilities %s = %v (%s), want %v", set, g, got.Hex, w)
	}
}

func TestProcessArgsPathLookup(t *testing.T) {
	h := New(t)
	// "checker" has no slash: found through the spec's PATH.
	bundle := coreBundle(h, func(s *Spec) {
		s.Process.Env = []string{"PATH=/nowhere:/usr/bin"}
	}, "checker", "report", "--path", "/etc/passwd")
	rep := coreRunReport(h, bundle)
	coreNoErrors(t, rep)
	if want := []string{"checker", "report", "--path", "/etc/passwd"}; !slices.Equal(rep.Args, want) {
		t.Errorf("args = %q, want %q", rep.Args, want)
	}
	if rep.Pid != 1 || rep.Ppid != 0 {
		t.Errorf("pid/ppid = %d/%d, want 1/0", rep.Pid, rep.Ppid)
	}

	// Without the directory in PATH the same command is not found, and
	// the error says so in runc's words.
	bundle = coreBundle(h, func(s *Spec) {
		s.Process.Env = []string{"PATH=/nowhere"}
	}, "checker", "report")
	h.Fails("executable file not found in $PATH", "run", "--bundle", bundle, h.ID())
}

func TestProcessEnv(t *testing.T) {
	h := New(t)
	env := []string{
		"PATH=/usr/bin:/bin",
		"FOO=bar",
		"WITH_EQUALS=a=b=c",
		"EMPTY=",
		"SPACES=x y  z",
		"HOME=/custom/home",
	}
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.Env = env }, coreChecker()...))
	if !slices.Equal(rep.Env, env) {
		t.Errorf("env = %q, want exactly %q", rep.Env, env)
	}
	// A variable given twice: the last value wins, as in runc.
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.Env = []string{"DUP=first", "PATH=/usr/bin", "DUP=second", "HOME=/"}
	}, coreChecker()...))
	if want := []string{"PATH=/usr/bin", "DUP=second", "HOME=/"}; !slices.Equal(rep.Env, want) {
		t.Errorf("env = %q, want %q", rep.Env, want)
	}
}

// TestProcessHome: like runc, the runtime sets HOME from the container's
// /etc/passwd when process.env has none.
func TestProcessHome(t *testing.T) {
	h := New(t)
	for _, tc := range []struct {
		uid  uint32
		home string
	}{
		{0, "/root"},
		{testimage.TesterUID, "/home/tester"},
		{4242, "/"}, // not in /etc/passwd
	} {
		rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
		}, coreChecker()...))
		if got, _ := rep.Getenv("HOME"); got != tc.home {
			t.Errorf("uid %d: HOME = %q, want %q (env %q)", tc.uid, got, tc.home, rep.Env)
		}
	}
}

func TestProcessCwd(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.Cwd = "/tmp" }, coreChecker()...))
	if rep.Cwd != "/tmp" {
		t.Errorf("cwd = %q, want /tmp", rep.Cwd)
	}

	// A cwd that does not exist is created (in the rootfs, not on the host).
	bundle := coreBundle(h, func(s *Spec) {
		s.Root.Readonly = false
		s.Process.Cwd = "/new/work/dir"
	}, coreChecker()...)
	rep = coreRunReport(h, bundle)
	if rep.Cwd != "/new/work/dir" {
		t.Errorf("cwd = %q, want /new/work/dir", rep.Cwd)
	}
	if st, err := os.Stat(filepath.Join(bundle, "rootfs", "new", "work", "dir")); err != nil || !st.IsDir() {
		t.Errorf("cwd not created in the rootfs: %v", err)
	}
	if _, err := os.Stat("/new/work/dir"); err == nil {
		t.Errorf("cwd created on the host")
	}
}

func TestProcessUser(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: testimage.TesterUID, GID: testimage.TesterGID, AdditionalGids: []uint32{testimage.ExtraGID, 4242}}
	}, coreChecker()...))
	coreNoErrors(t, rep)
	if rep.UID != 1000 || rep.EUID != 1000 || rep.GID != 1000 || rep.EGID != 1000 {
		t.Errorf("uid/euid/gid/egid = %d/%d/%d/%d, want 1000 each", rep.UID, rep.EUID, rep.GID, rep.EGID)
	}
	if g := coreSortedInts(rep.Groups); !slices.Equal(g, []int{testimage.ExtraGID, 4242}) {
		t.Errorf("groups = %v, want [1001 4242]", g)
	}

	// No additionalGids: no supplementary groups at all, neither podrun's
	// nor the ones /etc/group lists for the user (runc does not add them
	// for a numeric user).
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: testimage.TesterUID, GID: testimage.TesterGID}
	}, coreChecker()...))
	if len(rep.Groups) != 0 {
		t.Errorf("groups = %v, want none", rep.Groups)
	}

	// root with a gid of its own.
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: 0, GID: 1001}
	}, coreChecker()...))
	if rep.UID != 0 || rep.GID != 1001 || len(rep.Groups) != 0 {
		t.Errorf("uid/gid/groups = %d/%d/%v, want 0/1001/[]", rep.UID, rep.GID, rep.Groups)
	}
}

func coreSortedInts(v []int) []int {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

func TestProcessUmask(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, nil, coreChecker()...))
	if rep.Umask != 0o022 {
		t.Errorf("default umask = %#o, want 022", rep.Umask)
	}
	umask := uint32(0o077)
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.User.Umask = &umask }, coreChecker()...))
	if rep.Umask != 0o077 {
		t.Errorf("umask = %#o, want 077", rep.Umask)
	}
	zero := uint32(0)
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.User.Umask = &zero }, coreChecker()...))
	if rep.Umask != 0 {
		t.Errorf("umask = %#o, want 0", rep.Umask)
	}
}

func TestProcessRlimits(t *testing.T) {
	h := New(t)
	want := map[string]checkreport.Rlimit{
		"RLIMIT_NOFILE":  {Soft: 512, Hard: 2048},
		"RLIMIT_NPROC":   {Soft: 300, Hard: 400},
		"RLIMIT_CORE":    {Soft: 0, Hard: checkreport.RlimInfinity},
		"RLIMIT_MEMLOCK": {Soft: 65536, Hard: 131072},
		"RLIMIT_STACK":   {Soft: 4 << 20, Hard: 16 << 20},
	}
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.Rlimits = nil
		for name, l := range want {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: name, Soft: l.Soft, Hard: l.Hard})
		}
	}, coreChecker()...))
	coreNoErrors(t, rep)
	for name, w := range want {
		got, ok := rep.Rlimit(name)
		if !ok || got != w {
			t.Errorf("%s = %+v (known %v), want %+v", name, got, ok, w)
		}
	}
	// A non-root user gets its limits too: they are set before the switch
	// of ids. Raising a hard limit above podrun's own needs
	// CAP_SYS_RESOURCE, which some sandboxes withhold even from root.
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	hard := cur.Max
	if coreHostHasCap(t, unix.CAP_SYS_RESOURCE) {
		hard = cur.Max + 1000
	}
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: testimage.TesterUID, GID: testimage.TesterGID}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: hard - 10, Hard: hard}}
	}, coreChecker()...))
	if got, _ := rep.Rlimit("NOFILE"); got != (checkreport.Rlimit{Soft: hard - 10, Hard: hard}) {
		t.Errorf("tester RLIMIT_NOFILE = %+v, want %d/%d", got, hard-10, hard)
	}
}

// coreHostHasCap reports whether this test process has capability c in
// its effective set (podrun then has it too).
func coreHostHasCap(t *testing.T, c int) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	set, err := checkreport.ParseCapSet(checkreport.ParseStatus(string(data))["CapEff"])
	if err != nil {
		t.Fatal(err)
	}
	return set.Has(checkreport.CapNames[c])
}

func TestProcessOOMScoreAdj(t *testing.T) {
	h := New(t)
	values := []int{500, 1000, 0}
	// Going below the current value needs CAP_SYS_RESOURCE.
	if coreHostHasCap(t, unix.CAP_SYS_RESOURCE) {
		values = append(values, -300)
	} else {
		t.Log("no CAP_SYS_RESOURCE here: negative oom_score_adj not tried")
	}
	for _, v := range values {
		adj := v
		rep := coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.OOMScoreAdj = &adj }, coreChecker()...))
		if rep.OOMScoreAdj != v {
			t.Errorf("oom_score_adj = %d, want %d", rep.OOMScoreAdj, v)
		}
	}
}

func TestProcessCapabilitiesRoot(t *testing.T) {
	h := New(t)
	all := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETPCAP"}
	inh := []string{"CAP_KILL", "CAP_NET_RAW"}
	amb := []string{"CAP_NET_RAW"}
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: all, Effective: all, Permitted: all, Inheritable: inh, Ambient: amb,
		}
	}, coreChecker()...))
	coreNoErrors(t, rep)
	c := rep.Capabilities
	coreCapsEqual(t, "bounding", c.Bounding, all)
	coreCapsEqual(t, "effective", c.Effective, all)
	coreCapsEqual(t, "permitted", c.Permitted, all)
	coreCapsEqual(t, "inheritable", c.Inheritable, inh)
	coreCapsEqual(t, "ambient", c.Ambient, amb)

	// The default spec: three capabilities in bounding, effective and
	// permitted, nothing inheritable or ambient.
	def := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	rep = coreRunReport(h, coreBundle(h, nil, coreChecker()...))
	c = rep.Capabilities
	coreCapsEqual(t, "default bounding", c.Bounding, def)
	coreCapsEqual(t, "default effective", c.Effective, def)
	coreCapsEqual(t, "default permitted", c.Permitted, def)
	coreCapsEqual(t, "default inheritable", c.Inheritable, nil)
	coreCapsEqual(t, "default ambient", c.Ambient, nil)

	// No capabilities object at all: nothing, not the host's.
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.Capabilities = nil }, coreChecker()...))
	c = rep.Capabilities
	for name, set := range map[string]checkreport.CapSet{"bounding": c.Bounding, "effective": c.Effective,
		"permitted": c.Permitted, "inheritable": c.Inheritable, "ambient": c.Ambient} {
		coreCapsEqual(t, "nil-spec "+name, set, nil)
	}
}

// TestProcessCapabilitiesAmbient: a non-root user keeps only what is
// ambient across its execve, so ambient is how it gets capabilities.
func TestProcessCapabilitiesAmbient(t *testing.T) {
	h := New(t)
	bnd := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}
	set := []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: testimage.TesterUID, GID: testimage.TesterGID}
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: bnd, Effective: set, Permitted: set, Inheritable: set, Ambient: set,
		}
	}, coreChecker()...))
	coreNoErrors(t, rep)
	if rep.UID != testimage.TesterUID {
		t.Errorf("uid = %d, want %d", rep.UID, testimage.TesterUID)
	}
	c := rep.Capabilities
	coreCapsEqual(t, "bounding", c.Bounding, bnd)
	coreCapsEqual(t, "effective", c.Effective, set)
	coreCapsEqual(t, "permitted", c.Permitted, set)
	coreCapsEqual(t, "inheritable", c.Inheritable, set)
	coreCapsEqual(t, "ambient", c.Ambient, set)

	// Without ambient the same user ends up with nothing effective.
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Process.User = specs.User{UID: testimage.TesterUID, GID: testimage.TesterGID}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: bnd, Effective: set, Permitted: set}
	}, coreChecker()...))
	coreCapsEqual(t, "no-ambient effective", rep.Capabilities.Effective, nil)
	coreCapsEqual(t, "no-ambient permitted", rep.Capabilities.Permitted, nil)
	coreCapsEqual(t, "no-ambient bounding", rep.Capabilities.Bounding, bnd)
}

func TestProcessNoNewPrivileges(t *testing.T) {
	h := New(t)
	for _, nnp := range []bool{true, false} {
		rep := coreRunReport(h, coreBundle(h, func(s *Spec) { s.Process.NoNewPrivileges = nnp }, coreChecker()...))
		if rep.NoNewPrivs != nnp {
			t.Errorf("noNewPrivileges %v: no_new_privs = %v", nnp, rep.NoNewPrivs)
		}
	}
	// Field absent from config.json: off.
	bundle := coreBundle(h, nil, coreChecker()...)
	editConfigJSON(t, bundle, func(m map[string]any) {
		delete(m["process"].(map[string]any), "noNewPrivileges")
	})
	if rep := coreRunReport(h, bundle); rep.NoNewPrivs {
		t.Errorf("noNewPrivileges absent: no_new_privs = true")
	}
}

// TestProcessSessionAndStdio: without a terminal the init gets the
// caller's stdio (pipes here) and nothing else.
func TestProcessSessionAndStdio(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, nil, coreChecker()...))
	for fd := 0; fd < 3; fd++ {
		f := rep.FD(fd)
		if f == nil {
			t.Errorf("fd %d not open", fd)
			continue
		}
		if f.IsTerminal {
			t.Errorf("fd %d is a terminal", fd)
		}
	}
	for _, f := range []int{1, 2} {
		if fd := rep.FD(f); fd != nil && !strings.HasPrefix(fd.Target, "pipe:") {
			t.Errorf("fd %d = %q, want the caller's pipe", f, fd.Target)
		}
	}
}

// The init runs its Go runtime with a wider timer slack (nsenter.c); the
// container's process must get podrun's, as it was forked with.
func TestProcessTimerSlack(t *testing.T) {
	h := New(t)
	// Every thread of the test has the slack it started with; podrun is
	// forked from one of them.
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := h.Must("run", "--bundle", h.Bundle("cat", "/proc/self/timerslack_ns"), h.ID())
	if got, want := strings.TrimSpace(r.Stdout), strconv.Itoa(own); got != want {
		t.Errorf("container's timer slack = %s ns, want podrun's %s ns", got, want)
	}
}
