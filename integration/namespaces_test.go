package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testimage"
)

// coreNSNames are the namespaces a default container has of its own.
var coreNSNames = []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"}

// coreDropNS removes namespace t from the spec.
func coreDropNS(s *Spec, t specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

// coreSetNS adds namespace t (joined at path when not empty) or replaces
// its entry.
func coreSetNS(s *Spec, t specs.LinuxNamespaceType, path string) {
	coreDropNS(s, t)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

func TestNamespacesOwn(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, nil, coreChecker()...))
	coreNoErrors(t, rep)
	for _, name := range coreNSNames {
		host := coreNS(t, "self", name)
		if got := rep.Namespaces[name]; got == "" || got == host {
			t.Errorf("namespace %s = %q, host %q: want a new one", name, got, host)
		}
	}
	// A new pid namespace: the children are in it too.
	if rep.Namespaces["pid_for_children"] != rep.Namespaces["pid"] {
		t.Errorf("pid_for_children %q != pid %q", rep.Namespaces["pid_for_children"], rep.Namespaces["pid"])
	}
	// Not asked for: the host's.
	for _, name := range []string{"user", "time"} {
		if _, err := os.Stat("/proc/self/ns/" + name); err != nil {
			continue
		}
		if got, host := rep.Namespaces[name], coreNS(t, "self", name); got != host {
			t.Errorf("namespace %s = %q, want the host's %q", name, got, host)
		}
	}
}

// TestNamespacesOmitted: a namespace the config leaves out is the host's.
func TestNamespacesOmitted(t *testing.T) {
	h := New(t)
	for _, tc := range []struct {
		typ  specs.LinuxNamespaceType
		name string
	}{
		{specs.NetworkNamespace, "net"},
		{specs.IPCNamespace, "ipc"},
		{specs.CgroupNamespace, "cgroup"},
		{specs.PIDNamespace, "pid"},
	} {
		rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
			coreDropNS(s, tc.typ)
			if tc.typ == specs.NetworkNamespace {
				// sysfs needs a network namespace of its own.
				s.Mounts = coreDropMount(s.Mounts, "/sys")
				s.Mounts = coreDropMount(s.Mounts, "/sys/fs/cgroup")
			}
		}, coreChecker()...))
		coreNoErrors(t, rep)
		if got, host := rep.Namespaces[tc.name], coreNS(t, "self", tc.name); got != host {
			t.Errorf("without %s: namespace %s = %q, want the host's %q", tc.typ, tc.name, got, host)
		}
		// The others are still new.
		for _, name := range coreNSNames {
			if name == tc.name {
				continue
			}
			if got, host := rep.Namespaces[name], coreNS(t, "self", name); got == host {
				t.Errorf("without %s: namespace %s is the host's", tc.typ, name)
			}
		}
		if tc.typ == specs.PIDNamespace && rep.Pid == 1 {
			t.Errorf("without a pid namespace the process is pid 1")
		}
	}
}

func coreDropMount(ms []specs.Mount, dest string) []specs.Mount {
	var out []specs.Mount
	for _, m := range ms {
		if m.Destination != dest {
			out = append(out, m)
		}
	}
	return out
}

// TestNamespacesJoinByPath: a container joins another's network and IPC
// namespaces by /proc/<pid>/ns path, as podman pods do.
func TestNamespacesJoinByPath(t *testing.T) {
	h := New(t)
	_, pid := coreSleeper(h, nil)
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		coreSetNS(s, specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", pid))
		coreSetNS(s, specs.IPCNamespace, fmt.Sprintf("/proc/%d/ns/ipc", pid))
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	}, coreChecker("--sysctl", "net.ipv4.ip_forward")...))
	coreNoErrors(t, rep)
	for _, name := range []string{"net", "ipc"} {
		if got, want := rep.Namespaces[name], coreNS(t, pid, name); got != want {
			t.Errorf("namespace %s = %q, want the first container's %q", name, got, want)
		}
	}
	for _, name := range []string{"pid", "uts", "mnt", "cgroup"} {
		if got := rep.Namespaces[name]; got == coreNS(t, pid, name) || got == coreNS(t, "self", name) {
			t.Errorf("namespace %s = %q: want a new one", name, got)
		}
	}
	// The sysctl went to the joined namespace.
	if got := rep.Sysctls["net.ipv4.ip_forward"]; got.Value != "1" {
		t.Errorf("net.ipv4.ip_forward in the joined namespace = %+v, want 1", got)
	}

	// A path that is not a namespace of the given type is refused.
	bundle := coreBundle(h, func(s *Spec) {
		coreSetNS(s, specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/ipc", pid))
	}, coreChecker()...)
	h.Fails("linux.namespaces", "run", "--bundle", bundle, h.ID())
	bundle = coreBundle(h, func(s *Spec) {
		coreSetNS(s, specs.NetworkNamespace, "/proc/self/does-not-exist")
	}, coreChecker()...)
	h.Fails("linux.namespaces", "run", "--bundle", bundle, h.ID())
}

// TestNamespacesJoinPid: joining the pid namespace of another container
// (podman's shared pid namespace): the joiner is not pid 1 and sees the
// first container's init.
func TestNamespacesJoinPid(t *testing.T) {
	h := New(t)
	_, pid := coreSleeper(h, nil)
	r := h.Must("run", "--bundle", coreBundle(h, func(s *Spec) {
		coreSetNS(s, specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/pid", pid))
	}, "sh", "-c", "cat /proc/1/cmdline; echo; exec checker report"), h.ID())
	rep := parseReport(t, r.Stdout)
	if got, want := rep.Namespaces["pid"], coreNS(t, pid, "pid"); got != want {
		t.Errorf("namespace pid = %q, want %q", got, want)
	}
	if rep.Pid == 1 {
		t.Errorf("pid = 1 in a joined pid namespace")
	}
	if !strings.Contains(r.Stdout, "checker\x00sleep") {
		t.Errorf("/proc/1/cmdline is not the first container's init: %q", r.Stdout)
	}
}

func TestNamespacesHostnameDomainname(t *testing.T) {
	h := New(t)
	hostBefore, _ := os.Hostname()
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Hostname = "box-1"
		s.Domainname = "example.test"
	}, coreChecker()...))
	if rep.Hostname != "box-1" || rep.Domainname != "example.test" {
		t.Errorf("hostname/domainname = %q/%q, want box-1/example.test", rep.Hostname, rep.Domainname)
	}
	if after, _ := os.Hostname(); after != hostBefore {
		t.Errorf("host hostname changed: %q -> %q", hostBefore, after)
	}
	// No hostname: the new UTS namespace keeps the host's name.
	rep = coreRunReport(h, coreBundle(h, func(s *Spec) { s.Hostname = "" }, coreChecker()...))
	if rep.Hostname != hostBefore {
		t.Errorf("hostname = %q, want the host's %q", rep.Hostname, hostBefore)
	}
	// A hostname without a UTS namespace would rename the host: refused.
	bundle := coreBundle(h, func(s *Spec) { coreDropNS(s, specs.UTSNamespace) }, coreChecker()...)
	h.Fails("hostname", "run", "--bundle", bundle, h.ID())
}

func coreReadSysctl(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestNamespacesSysctl(t *testing.T) {
	h := New(t)
	fwd := coreReadSysctl(t, "net.ipv4.ip_forward")
	shm := coreReadSysctl(t, "kernel.shmmax")
	rep := coreRunReport(h, coreBundle(h, func(s *Spec) {
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_forward": "1",
			"kernel.shmmax":       "123456789",
		}
	}, coreChecker("--sysctl", "net.ipv4.ip_forward", "--sysctl", "kernel.shmmax")...))
	for name, want := range map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"} {
		if got := rep.Sysctls[name]; got.Value != want || got.Error != "" {
			t.Errorf("%s = %+v, want %s", name, got, want)
		}
	}
	if got := coreReadSysctl(t, "net.ipv4.ip_forward"); got != fwd {
		t.Errorf("host net.ipv4.ip_forward changed: %s -> %s", fwd, got)
	}
	if got := coreReadSysctl(t, "kernel.shmmax"); got != shm {
		t.Errorf("host kernel.shmmax changed: %s -> %s", shm, got)
	}
}

func TestNamespacesSysctlRefused(t *testing.T) {
	h := New(t)
	panic0 := coreReadSysctl(t, "kernel.panic")
	// Not namespaced: it would change the host.
	bundle := coreBundle(h, func(s *Spec) {
		s.Linux.Sysctl = map[string]string{"kernel.panic": "42"}
	}, coreChecker()...)
	r := h.Fails("linux.sysctl", "run", "--bundle", bundle, h.ID())
	if !strings.Contains(r.Stderr, "kernel.panic") {
		t.Errorf("error does not name the sysctl: %q", r.Stderr)
	}
	if got := coreReadSysctl(t, "kernel.panic"); got != panic0 {
		t.Errorf("host kernel.panic changed: %s -> %s", panic0, got)
	}
	// Namespaced, but in a namespace the container shares with the host.
	fwd := coreReadSysctl(t, "net.ipv4.ip_forward")
	bundle = coreBundle(h, func(s *Spec) {
		coreDropNS(s, specs.NetworkNamespace)
		s.Mounts = coreDropMount(s.Mounts, "/sys")
		s.Mounts = coreDropMount(s.Mounts, "/sys/fs/cgroup")
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": flip(fwd)}
	}, coreChecker()...)
	h.Fails("linux.sysctl", "run", "--bundle", bundle, h.ID())
	if got := coreReadSysctl(t, "net.ipv4.ip_forward"); got != fwd {
		t.Errorf("host net.ipv4.ip_forward changed: %s -> %s", fwd, got)
	}
	// Nothing of the refused containers is left (the harness checks too).
	if ents, _ := os.ReadDir(h.Root); len(ents) != 0 {
		t.Errorf("state left after refused create: %d entries", len(ents))
	}
}

func flip(v string) string {
	if v == "1" {
		return "0"
	}
	return "1"
}

// TestNamespacesCgroup: in its cgroup namespace the container's cgroup is
// the root; without one it sees its host path.
func TestNamespacesCgroup(t *testing.T) {
	h := New(t)
	rep := coreRunReport(h, coreBundle(h, nil, coreChecker()...))
	if len(rep.Cgroups) == 0 {
		t.Fatalf("no cgroups in the report (errors %q)", rep.Errors)
	}
	for _, cg := range rep.Cgroups {
		if cg.Path != "/" {
			t.Errorf("cgroup %d:%v path %q, want /", cg.ID, cg.Controllers, cg.Path)
		}
	}

	id := h.ID()
	bundle := coreBundle(h, func(s *Spec) { coreDropNS(s, specs.CgroupNamespace) }, coreChecker()...)
	rep = parseReport(t, h.Must("run", "--bundle", bundle, id).Stdout)
	for _, c := range []string{"memory", "pids", "cpu"} {
		p, ok := rep.Cgroup(c)
		if !ok {
			continue
		}
		if !strings.Contains(p, id) {
			t.Errorf("without a cgroup namespace, %s cgroup = %q: want the container's (with %s)", c, p, id)
		}
	}
}

// coreUserNSSpec gives the spec a new user namespace mapping container
// ids 0-65535 to host 100000-165535, and chowns the rootfs to match.
func coreUserNSSpec(t *testing.T, bundle string, s *Spec) {
	t.Helper()
	coreSetNS(s, specs.UserNamespace, "")
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	rootfs := filepath.Join(bundle, "rootfs")
	err := filepath.Walk(rootfs, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		return os.Lchown(p, int(st.Uid)+100000, int(st.Gid)+100000)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The mapped root is "other" to the host dirs above the rootfs: the
	// bundle and the test's temp dir (0700) must be searchable.
	for _, d := range []string{bundle, filepath.Dir(bundle)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
}

func coreUserNSBundle(h *H, edit func(*Spec), args ...string) string {
	h.t.Helper()
	bundle := h.Bundle(args...)
	s := testimage.Spec(h.t, bundle)
	coreUserNSSpec(h.t, bundle, s)
	if edit != nil {
		edit(s)
	}
	testimage.WriteSpec(h.t, bundle, s)
	return bundle
}

func TestNamespacesUser(t *testing.T) {
	h := New(t)
	bundle := coreUserNSBundle(h, nil, "sh", "-c",
		"echo uid_map: $(cat /proc/self/uid_map); echo gid_map: $(cat /proc/self/gid_map); exec checker report --path /etc/passwd --path /root")
	r := h.Must("run", "--bundle", bundle, h.ID())
	rep := parseReport(t, r.Stdout)
	coreNoErrors(t, rep)
	if rep.UID != 0 || rep.EUID != 0 || rep.GID != 0 {
		t.Errorf("uid/euid/gid = %d/%d/%d, want 0 inside", rep.UID, rep.EUID, rep.GID)
	}
	if got, host := rep.Namespaces["user"], coreNS(t, "self", "user"); got == host {
		t.Errorf("user namespace is the host's %q", host)
	}
	for _, m := range []string{"uid_map", "gid_map"} {
		if !strings.Contains(r.Stdout, m+": 0 100000 65536\n") {
			t.Errorf("%s not 0 100000 65536; output:\n%s", m, r.Stdout)
		}
	}
	// The chowned rootfs is root's inside.
	for _, p := range []string{"/etc/passwd", "/root"} {
		if pi := rep.Paths[p]; !pi.Exists || pi.UID != 0 || pi.GID != 0 || !pi.Readable {
			t.Errorf("%s: %+v, want owned by (mapped) root and readable", p, pi)
		}
	}
	// The capabilities of the spec, in the user namespace.
	coreCapsEqual(t, "effective", rep.Capabilities.Effective, []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"})
}

// TestNamespacesUserExec: exec into a container with a user namespace
// joins it (through the nsenter constructor) and is root there.
func TestNamespacesUserExec(t *testing.T) {
	h := New(t)
	id := h.ID()
	pid := h.RunDetached(coreUserNSBundle(h, nil, testimage.CheckerInRootfs, "sleep"), id)
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(data)); strings.Join(f, " ") != "0 100000 65536" {
		t.Errorf("host view of the init's uid_map = %q, want 0 100000 65536", data)
	}
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil || st.Sys().(*syscall.Stat_t).Uid != 100000 {
		t.Errorf("init not owned by host uid 100000: %v", err)
	}

	rep := parseReport(t, h.Must("exec", id, "checker", "report").Stdout)
	coreNoErrors(t, rep)
	for _, name := range append([]string{"user"}, coreNSNames...) {
		if got, want := rep.Namespaces[name], coreNS(t, pid, name); got != want {
			t.Errorf("exec namespace %s = %q, want the init's %q", name, got, want)
		}
	}
	if rep.UID != 0 || rep.GID != 0 {
		t.Errorf("exec uid/gid = %d/%d, want 0/0", rep.UID, rep.GID)
	}
	// A non-root user of the user namespace.
	rep = parseReport(t, h.Must("exec", "--user", "1000:1000", id, "checker", "report").Stdout)
	if rep.UID != 1000 || rep.GID != 1000 || rep.Namespaces["user"] != coreNS(t, pid, "user") {
		t.Errorf("exec --user 1000:1000: uid/gid %d/%d in %q", rep.UID, rep.GID, rep.Namespaces["user"])
	}
}
