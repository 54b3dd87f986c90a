package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/testimage"
)

// podEnv is a pod test's podrun: the harness's --root, a private image
// store holding the test busybox as busybox:test, a private data dir.
type podEnv struct {
	*H
	store, data string
}

func newPodEnv(t *testing.T) *podEnv {
	h := New(t)
	dir := t.TempDir()
	p := &podEnv{H: h, store: filepath.Join(dir, "store"), data: filepath.Join(dir, "data")}
	archive := filepath.Join(dir, "busybox.tar")
	testimage.OCIArchive(t, archive, "busybox:test")
	p.Must("image", "import", "--store", p.store, "--name", "busybox:test", archive)
	t.Cleanup(func() {
		// Whatever a failed test left: remove the pods first.
		if ents, _ := os.ReadDir(filepath.Join(h.Root, "pods")); len(ents) > 0 {
			for _, e := range ents {
				p.Run("pod", "rm", "-f", e.Name())
			}
		}
		if ents, _ := os.ReadDir(p.data); len(ents) > 0 {
			t.Errorf("pod data left: %v", ents)
		}
	})
	return p
}

// pod runs `podrun pod <args>` with the env's store and data dir.
func (p *podEnv) podCmd(args ...string) *exec.Cmd {
	cmd := p.Cmd(append([]string{"pod"}, args...)...)
	cmd.Env = append(os.Environ(), "PODRUN_STORE="+p.store, "PODRUN_POD_DATA="+p.data)
	return cmd
}

func (p *podEnv) pod(args ...string) Result {
	p.t.Helper()
	return p.RunCmd(p.podCmd(args...))
}

func (p *podEnv) mustPod(args ...string) Result {
	p.t.Helper()
	r := p.pod(args...)
	if r.Code != 0 {
		p.t.Fatalf("podrun pod %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

func (p *podEnv) manifest(yaml string) string {
	f := filepath.Join(p.t.TempDir(), "pod.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// inspected is the part of `pod inspect` the tests read.
type inspected struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"metadata"`
	Status struct {
		Phase                 string            `json:"phase"`
		InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
		ContainerStatuses     []containerStatus `json:"containerStatuses"`
	} `json:"status"`
}

type containerStatus struct {
	Name  string `json:"name"`
	State struct {
		Waiting    *struct{ Reason string } `json:"waiting"`
		Running    *struct{}                `json:"running"`
		Terminated *struct {
			ExitCode int `json:"exitCode"`
		} `json:"terminated"`
	} `json:"state"`
	RestartCount int `json:"restartCount"`
}

func (p *podEnv) inspect(name string) inspected {
	p.t.Helper()
	var in inspected
	r := p.mustPod("inspect", name)
	if err := json.Unmarshal([]byte(r.Stdout), &in); err != nil {
		p.t.Fatalf("pod inspect: %v\n%s", err, r.Stdout)
	}
	return in
}

// waitPod waits (pod wait) until cond holds, e.g. "phase=Failed".
func (p *podEnv) waitPod(name, cond string) {
	p.t.Helper()
	p.mustPod("wait", "--for", cond, "--timeout", "60s", name)
}

// assertPodRemoved checks what `pod rm` must leave: no state, no data, no
// pod cgroup, no mount of the pod's dirs.
func (p *podEnv) assertPodRemoved(name, uid string) {
	p.t.Helper()
	if _, err := os.Stat(filepath.Join(p.Root, "pods", name)); err == nil {
		p.t.Errorf("pod state left")
	}
	if _, err := os.Stat(filepath.Join(p.data, uid)); err == nil {
		p.t.Errorf("pod data left")
	}
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "pod-"+uid {
			p.t.Errorf("pod cgroup left: %s", path)
			return filepath.SkipDir
		}
		return nil
	})
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), p.data) || strings.Contains(string(mi), uid) {
		p.t.Errorf("mount of the pod left")
	}
	if ids := p.Must("list", "-q").Stdout; strings.TrimSpace(ids) != "" {
		p.t.Errorf("containers left: %s", ids)
	}
}

const initOrderPod = `
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - {name: first, image: busybox:test, command: [sh, -c, 'echo first >> /work/order'], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, image: busybox:test, command: [sh, -c, 'echo second >> /work/order; exit %d'], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - name: app
    image: busybox:test
    command: [sh, -c, 'echo app >> /work/order; exec sleep 1000']
    volumeMounts: [{name: work, mountPath: /work}]
`

// Init containers run in order, to completion, before the app; exec runs
// in the app container and sees the pod's hostname and volume.
func TestPodCLIInitOrderExecRm(t *testing.T) {
	p := newPodEnv(t)
	f := p.manifest(fmt.Sprintf(initOrderPod, "inits", 0))
	p.mustPod("run", "-d", "-f", f)
	p.waitPod("inits", "condition=Ready")
	r := p.mustPod("exec", "inits", "--", "sh", "-c", "cat /work/order; hostname")
	if r.Stdout != "first\nsecond\napp\ninits\n" {
		t.Errorf("exec output %q", r.Stdout)
	}
	if r := p.pod("exec", "inits", "--", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("exec exit code %d", r.Code)
	}
	in := p.inspect("inits")
	// The pod's cgroup nests in the cgroup root the tests gave
	// (PODRUN_POD_CGROUP_ROOT, set by TestMain), not the host's default.
	var infra struct{ Pid int }
	if err := json.Unmarshal([]byte(p.Must("state", "inits_POD").Stdout), &infra); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", infra.Pid))
	cg := string(b)
	if want := "/" + os.Getenv("PODRUN_POD_CGROUP_ROOT") + "/pod-" + in.Metadata.UID + "/"; !strings.Contains(cg, want) {
		t.Errorf("infra cgroup %q does not contain %s", cg, want)
	}
	if in.Kind != "Pod" || in.APIVersion != "v1" || in.Metadata.Name != "inits" || in.Status.Phase != "Running" ||
		len(in.Status.InitContainerStatuses) != 2 || len(in.Status.ContainerStatuses) != 1 || in.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("inspect: %+v", in)
	}
	if r := p.pod("rm", "inits"); r.Code == 0 || !strings.Contains(r.Stderr, "is running") {
		t.Errorf("rm of a running pod: exit %d %q", r.Code, r.Stderr)
	}
	p.mustPod("rm", "-f", "inits")
	p.assertPodRemoved("inits", in.Metadata.UID)
}

// A failing init container (restartPolicy Never) blocks the app
// containers and fails the pod.
func TestPodCLIFailingInitBlocksApp(t *testing.T) {
	p := newPodEnv(t)
	p.mustPod("run", "-d", "-f", p.manifest(fmt.Sprintf(initOrderPod, "badinit", 3)))
	p.waitPod("badinit", "phase=Failed")
	in := p.inspect("badinit")
	ics := in.Status.InitContainerStatuses
	if len(ics) != 2 || ics[1].State.Terminated == nil || ics[1].State.Terminated.ExitCode != 3 {
		t.Errorf("init statuses: %+v", ics)
	}
	if cs := in.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running != nil || cs[0].State.Terminated != nil {
		t.Errorf("the app container ran: %+v", cs)
	}
	if out := p.Must("list").Stdout; strings.Contains(out, "badinit_app") {
		t.Errorf("an app container was created:\n%s", out)
	}
	p.mustPod("rm", "badinit") // not running any more: no -f needed
	p.assertPodRemoved("badinit", in.Metadata.UID)
}

// Foreground `pod run`: output prefixed by container name; SIGINT stops the
// pod and the command returns.
func TestPodCLIForeground(t *testing.T) {
	p := newPodEnv(t)
	f := p.manifest(`
apiVersion: v1
kind: Pod
metadata: {name: fg}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - {name: talker, image: busybox:test, command: [sh, -c, 'echo hello-out; echo hello-err >&2; exec sleep 1000']}
`)
	cmd := p.podCmd("run", "-f", f)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	var got string
	for !strings.Contains(got, "hello-out") {
		n, err := stdout.Read(buf)
		if err != nil {
			t.Fatalf("pod run output %q: %v (stderr %s)", got, err, stderr.String())
		}
		got += string(buf[:n])
	}
	if !strings.Contains(got, "talker | hello-out") {
		t.Errorf("output not prefixed: %q", got)
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest := make([]byte, 0)
	for {
		n, err := stdout.Read(buf)
		rest = append(rest, buf[:n]...)
		if err != nil {
			break
		}
	}
	cmd.Wait()
	if !strings.Contains(stderr.String(), "talker | hello-err") || !strings.Contains(stderr.String(), "stopping pod fg") {
		t.Errorf("stderr: %q", stderr.String())
	}
	in := p.inspect("fg")
	if cs := in.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Terminated == nil {
		t.Errorf("after SIGINT the container is not terminated: %+v", cs)
	}
	p.mustPod("rm", "fg")
	p.assertPodRemoved("fg", in.Metadata.UID)
}

// A bad manifest is refused with the field path, and nothing is created.
func TestPodCLIBadManifest(t *testing.T) {
	p := newPodEnv(t)
	r := p.pod("run", "-d", "-f", p.manifest(`
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - {name: a, image: busybox:test, ports: [{containerPort: 70000}]}
`))
	if r.Code == 0 || !strings.Contains(r.Stderr, "spec.containers[0].ports[0].containerPort") {
		t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(p.Root, "pods")); err == nil {
		t.Errorf("pods dir created")
	}
}

// `pod run --network`: the pod gets an IP of the CNI network, its hostPort
// answers on the host, and `pod rm -f` leaves no veth or iptables rule.
func TestPodCLINetwork(t *testing.T) {
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s missing (scripts/install-deps.sh installs containernetworking-plugins)", p)
		}
	}
	p := newPodEnv(t)
	dir := t.TempDir()
	n := os.Getpid()%200 + 20
	bridge := fmt.Sprintf("prcli%d", n)
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "clinet", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.252.%d.0/24"}]], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}`, bridge, n, filepath.Join(dir, "ipam"))
	os.MkdirAll(filepath.Join(dir, "net.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "net.d", "clinet.conflist"), []byte(conf), 0o644)
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	t.Setenv("PODRUN_CNI_CONF_DIR", filepath.Join(dir, "net.d"))
	t.Setenv("PODRUN_CNI_CACHE_DIR", filepath.Join(dir, "cache"))
	hostPort := 20000 + os.Getpid()%20000
	p.mustPod("run", "-d", "--network", "clinet", "-f", p.manifest(fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: netpod}
spec:
  containers:
  - name: web
    image: busybox:test
    command: [sh, -c, 'mkdir /www; echo "ip $(POD_IP)" > /www/index.html; exec httpd -f -p 80 -h /www']
    env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
    ports: [{containerPort: 80, hostPort: %d}]
`, hostPort)))
	p.waitPod("netpod", "condition=Ready")
	var in struct {
		Metadata struct{ UID string }
		Status   struct{ PodIP string }
	}
	json.Unmarshal([]byte(p.mustPod("inspect", "netpod").Stdout), &in)
	if !strings.HasPrefix(in.Status.PodIP, fmt.Sprintf("10.252.%d.", n)) {
		t.Fatalf("pod IP %q", in.Status.PodIP)
	}
	// From the host: the bridge address is local, portmap DNATs it.
	url := fmt.Sprintf("http://10.252.%d.1:%d/", n, hostPort)
	var body string
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 100 && body == ""; i++ {
		if resp, err := client.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if body != "ip "+in.Status.PodIP+"\n" {
		t.Errorf("GET %s: %q", url, body)
	}
	p.mustPod("rm", "-f", "netpod")
	p.assertPodRemoved("netpod", in.Metadata.UID)
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) != 0 {
		t.Errorf("veths left: %s", out)
	}
	if rules, _ := exec.Command("iptables-save").Output(); strings.Contains(string(rules), in.Metadata.UID) {
		t.Errorf("iptables rules left")
	}
}

// `pod stop --timeout`: a container that ignores SIGTERM (sleep as pid 1)
// is killed after the grace period; the stopped pod is removed without -f.
func TestPodCLIStop(t *testing.T) {
	p := newPodEnv(t)
	r := p.mustPod("run", "-d", "-f", p.manifest(`
apiVersion: v1
kind: Pod
metadata: {name: stopme}
spec:
  nodeSelector: {disk: ssd}
  tolerations: [{key: k, operator: Exists}]
  containers:
  - {name: s, image: busybox:test, command: [sleep, "1000"]}
`))
	if !strings.Contains(r.Stderr, "spec.nodeSelector") || !strings.Contains(r.Stderr, "spec.tolerations") || strings.Count(r.Stderr, "ignoring") != 1 {
		t.Errorf("ignored fields not listed once: %q", r.Stderr)
	}
	p.waitPod("stopme", "condition=Ready")
	start := time.Now()
	p.mustPod("stop", "--timeout", "1", "stopme")
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop returned after %v, before the 1 s grace period", d)
	}
	in := p.inspect("stopme")
	cs := in.Status.ContainerStatuses
	if len(cs) != 1 || cs[0].State.Terminated == nil || cs[0].State.Terminated.ExitCode != 137 {
		t.Errorf("after stop: %+v", cs)
	}
	p.mustPod("rm", "stopme")
	p.assertPodRemoved("stopme", in.Metadata.UID)
}
