package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/image/fetch"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// podrunBinary is a static podrun-pod (the re-executed init and the
// pause): the one next to $PODRUN_BINARY or built once per test binary.
func podrunBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("PODRUN_BINARY"); p != "" {
			binPath = filepath.Join(filepath.Dir(p), "podrun-pod")
			return
		}
		dir, err := os.MkdirTemp("", "podrun-pod-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "podrun-pod")
		cmd := exec.Command("go", "build", "-tags", "netgo osusergo", "-ldflags", "-extldflags -static", "-o", binPath, "./cmd/podrun-pod")
		cmd.Dir = testimage.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building podrun-pod: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	storeOnce sync.Once
	storeDir  string
	storeErr  error
)

// testStore is an image store holding the test busybox image as
// "busybox:test", shared by the tests of this binary.
func testStore(t *testing.T) *image.Store {
	t.Helper()
	storeOnce.Do(func() {
		storeDir, storeErr = os.MkdirTemp("", "podrun-pod-store-")
		if storeErr != nil {
			return
		}
		archive := filepath.Join(storeDir, "busybox.tar")
		testimage.OCIArchive(t, archive, "busybox:test")
		s, err := image.Open(filepath.Join(storeDir, "store"))
		if err != nil {
			storeErr = err
			return
		}
		_, storeErr = fetch.Import(context.Background(), s, archive, fetch.ImportOptions{Name: "busybox:test"})
	})
	if storeErr != nil {
		t.Fatal(storeErr)
	}
	s, err := image.Open(filepath.Join(storeDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && os.Getenv("PODRUN_BINARY") == "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	if storeDir != "" {
		os.RemoveAll(storeDir)
	}
	os.Exit(code)
}

// newManager returns a Manager with private state, data and runtime dirs;
// the test fails if a pod it made leaves anything behind.
func newManager(t *testing.T) *Manager {
	t.Helper()
	testutil.RequiresRoot(t)
	bin := podrunBinary(t)
	base := t.TempDir()
	rt := runtime.New(filepath.Join(base, "run"), nil)
	rt.Self = bin
	m := &Manager{
		Runtime: rt, Images: testStore(t), Pause: bin,
		StateDir: filepath.Join(base, "run", "pods"), DataDir: filepath.Join(base, "data"),
		// Its own cgroup root: other pods on the host keep theirs.
		CgroupRoot: fmt.Sprintf("podrun-test-%d-pods", os.Getpid()),
	}
	return m
}

func parsePod(t *testing.T, yaml string) *manifest.Pod {
	t.Helper()
	p, err := manifest.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return p
}

// createPod creates the sandbox and destroys it (checking that nothing is
// left) when the test ends.
func createPod(t *testing.T, m *Manager, yaml string, o CreateOptions) *Sandbox {
	t.Helper()
	sb, err := m.Create(parsePod(t, yaml), o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(sb); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		assertPodGone(t, m, sb)
	})
	return sb
}

// assertPodGone checks that nothing of the pod is left: containers,
// state and data dirs, mounts, cgroups.
func assertPodGone(t *testing.T, m *Manager, sb *Sandbox) {
	t.Helper()
	if ids, _ := m.Runtime.IDs(); len(ids) > 0 {
		t.Errorf("containers left: %v", ids)
	}
	for _, d := range []string{sb.StateDir, sb.DataDir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is left", d)
		}
	}
	ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(sb.DataDir))
	if len(ms) > 0 {
		t.Errorf("mounts left under %s: %d", sb.DataDir, len(ms))
	}
	others, _ := m.List()
	for _, p := range sb.CgroupPaths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("cgroup %s is left", p)
		}
		// The cgroup root (this test process's own) goes with its last pod.
		if _, err := os.Stat(filepath.Dir(p)); err == nil && len(others) == 0 {
			t.Errorf("cgroup %s is left after the last pod", filepath.Dir(p))
		}
	}
	if _, err := m.Get(sb.Name); err == nil {
		t.Errorf("pod %s still listed", sb.Name)
	}
}

// run is one container of the pod run to completion: its output and exit
// status.
type result struct {
	out  string
	code int
	id   string
}

// start creates and starts a container with stdout+stderr to a file.
func start(t *testing.T, m *Manager, sb *Sandbox, name string) (id string, wait func() result) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	id, child, err := m.CreateContainer(sb, name, 0, [3]*os.File{nil, out, out})
	if err != nil {
		out.Close()
		t.Fatalf("CreateContainer %s: %v", name, err)
	}
	if err := m.Runtime.Start(id); err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	return id, func() result {
		st, err := child.Wait()
		if err != nil {
			t.Errorf("wait %s: %v", name, err)
			st = &os.ProcessState{}
		}
		code := 0
		if ws, ok := st.Sys().(syscall.WaitStatus); ok {
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		data, _ := os.ReadFile(out.Name())
		out.Close()
		return result{out: string(data), code: code, id: id}
	}
}

func runToEnd(t *testing.T, m *Manager, sb *Sandbox, name string) result {
	t.Helper()
	_, wait := start(t, m, sb, name)
	return wait()
}

const twoContainers = `
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  hostname: %s
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: web
    image: busybox:test
    command: [sh, -c, 'echo hello-from-web > /www/index.html; exec httpd -f -p 8080 -h /www']
    volumeMounts: [{name: shared, mountPath: /www}]
  - name: client
    image: busybox:test
    command: [sh, -c]
    args:
    - |
      i=0; until wget -q -O - http://localhost:8080/ ; do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.05; done
      cat /data/index.html
      readlink /proc/self/ns/net
      echo "hostname=$(hostname) etc=$(cat /etc/hostname)"
      grep -v '^#' /etc/hosts
    volumeMounts: [{name: shared, mountPath: /data, readOnly: true}]
`

func TestPodLocalhostVolumeHosts(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, fmt.Sprintf(twoContainers, "twoc", "myhost"), CreateOptions{})
	webID, _ := start(t, m, sb, "web")
	r := runToEnd(t, m, sb, "client")
	if r.code != 0 {
		t.Fatalf("client exit %d: %s", r.code, r.out)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) < 4 || lines[0] != "hello-from-web" || lines[1] != "hello-from-web" {
		t.Fatalf("client output: %q", r.out)
	}
	// One net namespace: the client's is the web's and the infra's.
	st, err := m.Runtime.State(webID)
	if err != nil {
		t.Fatal(err)
	}
	webNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", st.Pid))
	infraNS, _ := os.Readlink(sb.NetNS)
	if lines[2] != webNS || webNS != infraNS || webNS == "" {
		t.Errorf("net namespaces: client %q web %q infra %q", lines[2], webNS, infraNS)
	}
	hostNS, _ := os.Readlink("/proc/self/ns/net")
	if webNS == hostNS {
		t.Errorf("pod shares the host's net namespace")
	}
	if lines[3] != "hostname=myhost etc=myhost" {
		t.Errorf("hostname line: %q", lines[3])
	}
	hosts := strings.Join(lines[4:], "\n")
	if !strings.Contains(hosts, "127.0.0.1\tlocalhost") || !strings.Contains(hosts, "127.0.1.1\tmyhost") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
}

func TestPodMemoryLimit(t *testing.T) {
	m := newManager(t)
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: memlimit}
spec:
  containers:
  - name: hog
    image: busybox:test
    command: [sh, -c, 'head -c 200m /dev/zero | tail > /dev/null; echo "tail=$?"']
    resources: {limits: {memory: 32Mi}}
  - name: small
    image: busybox:test
    command: [sh, -c, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max']
    resources: {limits: {memory: 16Mi}}
`, CreateOptions{})
	r := runToEnd(t, m, sb, "small")
	if strings.TrimSpace(r.out) != fmt.Sprint(16<<20) {
		t.Errorf("container memory limit: %q", r.out)
	}
	r = runToEnd(t, m, sb, "hog")
	// tail buffers 200 MiB looking for a newline: the OOM killer ends it
	// (or, now and then, the shell, when its own allocation meets the
	// limit first: the container then exits 137 itself).
	if !strings.Contains(r.out, "tail=137") && r.code != 137 {
		t.Errorf("hog was not stopped by its 32Mi limit: exit %d %q", r.code, r.out)
	}
	oom, err := m.Runtime.OOMKilled(r.id)
	if err != nil || !oom {
		t.Errorf("hog: OOMKilled %v %v", oom, err)
	}
	// The pod cgroup carries the sum.
	for k, p := range sb.CgroupPaths {
		var f string
		switch k {
		case "memory":
			f = "memory.limit_in_bytes"
		case "":
			f = "memory.max"
		default:
			continue
		}
		data, err := os.ReadFile(filepath.Join(p, f))
		if err == nil && strings.TrimSpace(string(data)) != fmt.Sprint(48<<20) {
			t.Errorf("pod cgroup %s: %s", f, data)
		}
	}
}

func TestPodDestroyAfterKill(t *testing.T) {
	m := newManager(t)
	sb, err := m.Create(parsePod(t, `
apiVersion: v1
kind: Pod
metadata: {name: killed}
spec:
  volumes:
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
  containers:
  - name: a
    image: busybox:test
    command: [sleep, "1000"]
    volumeMounts: [{name: mem, mountPath: /mem}]
`), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy(sb) }) // if the test fails early; Destroy is idempotent
	id, wait := start(t, m, sb, "a")
	_ = id
	// kill -9 of everything: the container and the pause.
	st, _ := m.Runtime.State(id)
	syscallKill(st.Pid)
	syscallKill(sb.InfraPid)
	wait()
	loaded, err := m.Get("killed")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(loaded); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	assertPodGone(t, m, loaded)
	if err := m.Destroy(loaded); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestPodBadInputLeavesNothing(t *testing.T) {
	m := newManager(t)
	p := parsePod(t, `
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  volumes:
  - {name: h, hostPath: {path: /nonexistent-podrun-dir, type: Directory}}
  containers:
  - {name: a, image: busybox:test}
`)
	_, err := m.Create(p, CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.volumes[0].hostPath") {
		t.Fatalf("Create: %v", err)
	}
	assertPodGone(t, m, &Sandbox{Name: "bad", StateDir: m.podDir("bad"), DataDir: filepath.Join(m.DataDir, p.Metadata.UID)})
	if ents, _ := os.ReadDir(m.StateDir); len(ents) > 0 {
		t.Errorf("state left: %v", ents)
	}
	// A missing image with imagePullPolicy Never does not refuse the pod
	// (kubelet): its container cannot be created, ErrImageNeverPull.
	sb := createPod(t, m, `
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - {name: a, image: "nosuchimage:v1", imagePullPolicy: Never}
`, CreateOptions{})
	if _, _, err := m.CreateContainer(sb, "a", 0, [3]*os.File{}); !errors.Is(err, ErrImageNeverPull) ||
		err.Error() != `Container image "nosuchimage:v1" is not present with pull policy of Never` {
		t.Errorf("CreateContainer with a missing Never image: %v", err)
	}
}

func syscallKill(pid int) {
	if pid > 0 {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
