package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Hostile manifests (issue 12): a manifest is written by someone podrun
// does not trust. Each input fails fast, in bounded memory, with one line
// naming the limit, and leaves nothing behind.
func TestHostileManifestInput(t *testing.T) {
	p := newPodEnv(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	const n = 200000 // 400 KB: once 1.5 GiB in 2 s
	deepJSON := write("deep.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep","labels":`+
		strings.Repeat("[", n)+strings.Repeat("]", n)+`}}`)
	deepYAML := write("deep.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec:\n  containers:\n"+
		strings.Repeat("  - "+strings.Repeat("[", 9000)+strings.Repeat("]", 9000)+"\n", 200))
	big := write("big.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: big}\n#"+strings.Repeat("x", 4<<20)+"\n")
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	for _, c := range []struct {
		name, file string
		stdin      *os.File
		want       string
	}{
		{"deep JSON", deepJSON, nil, "manifest nested more than 100 levels deep"},
		{"deep YAML", deepYAML, nil, "manifest nested more than 100 levels deep"},
		{"over 4 MiB", big, nil, "pod run: manifest " + big + ": larger than 4 MiB"},
		{"/dev/zero", "/dev/zero", nil, "pod run: manifest /dev/zero: not a regular file (a character device)"},
		{"stdin /dev/zero", "-", zero, "pod run: manifest -: larger than 4 MiB"},
		// RunCmd's timeout guards against the hang this was.
		{"FIFO", fifo, nil, "pod run: manifest " + fifo + ": not a regular file (a FIFO)"},
		{"directory", dir, nil, "not a regular file (a directory)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := p.podCmd("run", "-d", "-f", c.file)
			if c.stdin != nil {
				cmd.Stdin = c.stdin
			}
			r := p.RunCmd(cmd)
			msg := strings.TrimSuffix(r.Stderr, "\n")
			if r.Code == 0 || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d, stderr %q; want one line with %q", r.Code, r.Stderr, c.want)
			}
			// ru_maxrss is in KiB; podrun itself needs about 20 MiB.
			if rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; rss > 256<<10 {
				t.Errorf("pod run used %d MiB", rss>>10)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(p.Root, "pods")); err == nil {
		t.Errorf("pods dir created")
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const uidPod = `
apiVersion: v1
kind: Pod
metadata: {name: %s, uid: %q}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - {name: c, image: busybox:test, command: [sh, -c, 'echo %s > /v/who; exec sleep 1000'], volumeMounts: [{name: v, mountPath: /v}]}
`

// Two pods given the same metadata.uid once shared volumes, logs and the
// cgroup, and pod rm of one killed the other's infra. Each now gets its
// own uid, the manifest's is reported ignored, and removing one leaves the
// other running with its own volume. A pod of the same name is refused.
func TestPodSameManifestUID(t *testing.T) {
	p := newPodEnv(t)
	const shared = "6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e8d17"
	for _, name := range []string{"uid-a", "uid-b"} {
		r := p.mustPod("run", "-d", "-f", p.manifest(fmt.Sprintf(uidPod, name, shared, name)))
		if !strings.Contains(r.Stderr, "metadata.uid") {
			t.Errorf("%s: the dropped uid is not reported: %q", name, r.Stderr)
		}
		p.waitPod(name, "condition=Ready")
	}
	a, b := p.inspect("uid-a").Metadata.UID, p.inspect("uid-b").Metadata.UID
	if a == b || a == shared || b == shared || !uuidRE.MatchString(a) || !uuidRE.MatchString(b) {
		t.Fatalf("uids %q and %q (manifest: %q)", a, b, shared)
	}
	// Pods are keyed by name: the same name (in any namespace) is refused.
	for _, ns := range []string{"default", "other"} {
		m := strings.Replace(fmt.Sprintf(uidPod, "uid-a", shared, "again"), "metadata: {", "metadata: {namespace: "+ns+", ", 1)
		if r := p.pod("run", "-d", "-f", p.manifest(m)); r.Code == 0 || !strings.Contains(r.Stderr, "already exists") {
			t.Errorf("a second uid-a in namespace %s: exit %d, stderr %q", ns, r.Code, r.Stderr)
		}
	}
	if r := p.mustPod("exec", "uid-a", "--", "cat", "/v/who"); r.Stdout != "uid-a\n" {
		t.Errorf("uid-a's volume holds %q", r.Stdout)
	}
	p.mustPod("rm", "-f", "uid-a")
	if in := p.inspect("uid-b"); in.Status.Phase != "Running" || len(in.Status.ContainerStatuses) != 1 || in.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("uid-b after pod rm uid-a: %+v", in.Status)
	}
	if r := p.mustPod("exec", "uid-b", "--", "cat", "/v/who"); r.Stdout != "uid-b\n" {
		t.Errorf("uid-b's volume holds %q", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(p.data, b)); err != nil {
		t.Errorf("uid-b's data dir: %v", err)
	}
	p.mustPod("rm", "-f", "uid-b")
	p.assertPodRemoved("uid-a", a)
	p.assertPodRemoved("uid-b", b)
}

// A uid with ';' once made CNI DEL fail (CNI_ARGS is ';'-separated), so the
// pod could never be removed. The pod runs with a uid of its own, on a CNI
// network when the plugins are installed, and pod rm removes all of it.
func TestPodHostileManifestUID(t *testing.T) {
	p := newPodEnv(t)
	args := []string{"run", "-d"}
	bridge := ""
	if net, br, ok := hostileTestNetwork(t); ok {
		args = append(args, "--network", net)
		bridge = br
	}
	p.mustPod(append(args, "-f", p.manifest(fmt.Sprintf(uidPod, "semi", "x;K8S_POD_NAME=other;y", "semi")))...)
	p.waitPod("semi", "condition=Ready")
	uid := p.inspect("semi").Metadata.UID
	if !uuidRE.MatchString(uid) {
		t.Fatalf("uid %q", uid)
	}
	p.mustPod("rm", "-f", "semi")
	p.assertPodRemoved("semi", uid)
	if bridge != "" {
		if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) != 0 {
			t.Errorf("veths left: %s", out)
		}
	}
}

// hostileTestNetwork makes a bridge CNI network of its own (conflist, cache
// and IPAM dirs in the test's temp dir) when the plugins are installed.
func hostileTestNetwork(t *testing.T) (name, bridge string, ok bool) {
	for _, p := range []string{"bridge", "host-local"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Logf("CNI plugin %s missing: loopback only", p)
			return "", "", false
		}
	}
	dir := t.TempDir()
	n := os.Getpid()%200 + 20
	bridge = fmt.Sprintf("prhst%d", n)
	conf, _ := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": "hostilenet", "plugins": []any{
		map[string]any{"type": "bridge", "bridge": bridge, "ipam": map[string]any{
			"type": "host-local", "ranges": [][]map[string]string{{{"subnet": fmt.Sprintf("10.253.%d.0/24", n)}}},
			"dataDir": filepath.Join(dir, "ipam")}}}})
	if err := os.MkdirAll(filepath.Join(dir, "net.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "net.d", "hostilenet.conflist"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	t.Setenv("PODRUN_CNI_CONF_DIR", filepath.Join(dir, "net.d"))
	t.Setenv("PODRUN_CNI_CACHE_DIR", filepath.Join(dir, "cache"))
	return "hostilenet", bridge, true
}
