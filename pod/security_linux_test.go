package pod

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podrun/podrun/internal/checkreport"
)

func report(t *testing.T, r result) *checkreport.Report {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("checker exit %d: %s", r.code, r.out)
	}
	i := strings.Index(r.out, "{")
	if i < 0 {
		t.Fatalf("no report: %q", r.out)
	}
	rep, err := checkreport.Parse([]byte(strings.TrimSpace(r.out[i:])))
	if err != nil {
		t.Fatalf("report: %v\n%s", err, r.out)
	}
	return rep
}

// The securityContext, env expansion, fieldRefs, workingDir, subPath, pod
// sysctls and a shared PID namespace, seen from inside by the checker.
func TestPodSecurityContext(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: sec, labels: {tier: back}}
spec:
  shareProcessNamespace: true
  securityContext:
    runAsUser: 1000
    runAsGroup: 2000
    supplementalGroups: [3000]
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "80"}]
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: sec
    image: busybox:test
    command: [/usr/bin/checker, report, --sysctl, net.ipv4.ip_unprivileged_port_start, --path, /data, --path, /data/../sub]
    workingDir: /tmp
    env:
    - {name: A, value: x}
    - {name: B, value: $(A)-y-$(NOPE)-$$(A)}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    volumeMounts: [{name: data, mountPath: /data, subPath: sub/dir}]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
  - name: root
    image: busybox:test
    command: [/usr/bin/checker, report]
    securityContext: {runAsUser: 0, capabilities: {add: [NET_ADMIN], drop: [CHOWN]}}
`, CreateOptions{})
	rep := report(t, runToEnd(t, m, sb, "sec"))
	if rep.UID != 1000 || rep.GID != 2000 {
		t.Errorf("uid/gid %d/%d, want 1000/2000", rep.UID, rep.GID)
	}
	for _, g := range []int{1001, 3000} { // tester's group "extra" from the image, supplementalGroups
		if !slices.Contains(rep.Groups, g) {
			t.Errorf("groups %v lack %d", rep.Groups, g)
		}
	}
	if b := rep.Capabilities.Bounding; !b.Has("CAP_NET_BIND_SERVICE") || b.Has("CAP_CHOWN") || b.Has("CAP_KILL") {
		t.Errorf("bounding set %v", b)
	}
	if !rep.NoNewPrivs {
		t.Errorf("no_new_privs not set")
	}
	if root := rep.Mount("/"); root == nil || !root.HasOption("ro") {
		t.Errorf("root not read-only: %+v", root)
	}
	for k, want := range map[string]string{"A": "x", "B": "x-y-$(NOPE)-$(A)", "POD": "sec", "TIER": "back"} {
		if v, _ := rep.Getenv(k); v != want {
			t.Errorf("env %s=%q, want %q", k, v, want)
		}
	}
	if rep.Cwd != "/tmp" {
		t.Errorf("cwd %q", rep.Cwd)
	}
	if s := rep.Sysctls["net.ipv4.ip_unprivileged_port_start"]; s.Value != "80" {
		t.Errorf("pod sysctl: %+v", s)
	}
	if p := rep.Paths["/data"]; !p.IsDir || !p.Writable {
		t.Errorf("/data (subPath): %+v", p)
	}
	if st, err := os.Stat(filepath.Join(sb.volumeDir("data"), "sub", "dir")); err != nil || !st.IsDir() {
		t.Errorf("subPath not created in the volume: %v", err)
	}
	infraPID, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", sb.InfraPid))
	if rep.Namespaces["pid"] != infraPID {
		t.Errorf("pid namespace %q, infra's %q (shareProcessNamespace)", rep.Namespaces["pid"], infraPID)
	}

	rep = report(t, runToEnd(t, m, sb, "root"))
	if e := rep.Capabilities.Effective; rep.UID != 0 || !e.Has("CAP_NET_ADMIN") || e.Has("CAP_CHOWN") || !e.Has("CAP_KILL") || e.Has("CAP_SYS_ADMIN") {
		t.Errorf("uid %d caps %v", rep.UID, e)
	}
	if rep.NoNewPrivs {
		t.Errorf("no_new_privs set without allowPrivilegeEscalation: false")
	}
	if root := rep.Mount("/"); root == nil || root.HasOption("ro") {
		t.Errorf("root read-only")
	}
}

func TestPodRunAsNonRoot(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  containers:
  - {name: a, image: busybox:test, securityContext: {runAsNonRoot: true}}
  - {name: b, image: busybox:test, command: [id, -u], securityContext: {runAsNonRoot: true, runAsUser: 1000}}
`, CreateOptions{})
	_, _, err := m.CreateContainer(sb, "a", 0, [3]*os.File{})
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0].securityContext.runAsNonRoot") {
		t.Errorf("runAsNonRoot with a root image: %v", err)
	}
	if r := runToEnd(t, m, sb, "b"); strings.TrimSpace(r.out) != "1000" {
		t.Errorf("runAsUser 1000: %q", r.out)
	}
}

// hostNetwork and hostIPC: the host's namespaces and hostname.
func TestPodHostNetwork(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  hostIPC: true
  containers:
  - {name: a, image: busybox:test, command: [/usr/bin/checker, report]}
`, CreateOptions{})
	rep := report(t, runToEnd(t, m, sb, "a"))
	for _, ns := range []string{"net", "ipc", "uts"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		if rep.Namespaces[ns] != host {
			t.Errorf("%s namespace %q, host's %q", ns, rep.Namespaces[ns], host)
		}
	}
	if h, _ := os.Hostname(); rep.Hostname != h {
		t.Errorf("hostname %q, host's %q", rep.Hostname, h)
	}
}

// A symlink in a volume cannot lead a subPath out of it: it resolves
// inside the volume (internal/inroot).
func TestPodSubPathSymlinkStaysInside(t *testing.T) {
	m := newManager(t)
	vol := t.TempDir()
	if err := os.Symlink("/", filepath.Join(vol, "esc")); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("podrun-subpath-%d", os.Getpid())
	sb := createPod(t, m, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: subpath}
spec:
  volumes: [{name: v, hostPath: {path: %s, type: Directory}}]
  containers:
  - name: a
    image: busybox:test
    command: [sh, -c, 'touch /mnt/%s']
    volumeMounts: [{name: v, mountPath: /mnt, subPath: esc/tmp}]
`, vol, marker), CreateOptions{})
	if r := runToEnd(t, m, sb, "a"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.out)
	}
	if _, err := os.Stat(filepath.Join("/tmp", marker)); err == nil {
		os.Remove(filepath.Join("/tmp", marker))
		t.Fatalf("the subPath followed the symlink to the host's /tmp")
	}
	if _, err := os.Stat(filepath.Join(vol, "tmp", marker)); err != nil {
		t.Errorf("marker not inside the volume: %v", err)
	}
}

// A privileged container gets every capability, the host's devices and
// writable /sys, no masked paths.
func TestPodPrivileged(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  containers:
  - {name: a, image: busybox:test, command: [/usr/bin/checker, report, --path, /dev/kmsg, --path, /proc/timer_list], securityContext: {privileged: true}}
`, CreateOptions{})
	rep := report(t, runToEnd(t, m, sb, "a"))
	if e := rep.Capabilities.Effective; !e.Has("CAP_SYS_ADMIN") || !e.Has("CAP_NET_ADMIN") {
		t.Errorf("caps %v", e)
	}
	if _, err := os.Stat("/dev/kmsg"); err == nil && !rep.Paths["/dev/kmsg"].Exists {
		t.Errorf("host device /dev/kmsg missing: %+v", rep.Paths["/dev/kmsg"])
	}
	if sys := rep.Mount("/sys"); sys == nil || sys.HasOption("ro") {
		t.Errorf("/sys: %+v", sys)
	}
	// Masked paths are /dev/null bound over them; a privileged one sees the file.
	if k := rep.Paths["/proc/timer_list"]; !k.Exists || strings.HasPrefix(k.Mode, "c") {
		t.Errorf("/proc/timer_list masked: %+v", k)
	}
}
