package integration

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodDynamicBuild: a plain `go build` of podrun and podrun-pod (cgo
// on, so libc is linked dynamically) runs pods. The infra container runs the podrun
// binary as its pause in an otherwise empty root, where a dynamic binary
// finds no loader unless podrun mounts it and libc in.
func TestPodDynamicBuild(t *testing.T) {
	p := newPodEnv(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "podrun")
	for _, pkg := range []string{"./cmd/podrun", "./cmd/podrun-pod"} {
		build := exec.Command("go", "build", "-o", dir, pkg)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	f, err := elf.Open(filepath.Join(dir, "podrun-pod")) // the pause
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, prog := range f.Progs {
		dynamic = dynamic || prog.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		t.Skip("go build made a static binary here")
	}
	pod := func(args ...string) Result {
		t.Helper()
		cmd := p.podCmd(args...)
		cmd.Path, cmd.Args[0] = bin, bin
		r := p.RunCmd(cmd)
		if r.Code != 0 {
			t.Fatalf("podrun pod %v (plain go build): exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
		}
		return r
	}
	name := fmt.Sprintf("dyn-%d", os.Getpid())
	pod("run", "-d", "-f", p.manifest(fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - {name: app, image: busybox:test, command: [sleep, "1000"]}
`, name)))
	pod("wait", "--for", "condition=Ready", "--timeout", "60s", name)
	// The app joined the infra's namespaces: same network namespace, with
	// loopback up.
	r := pod("exec", name, "--", "sh", "-c", "cat /sys/class/net/lo/operstate; hostname")
	if got := strings.Fields(r.Stdout); len(got) != 2 || got[1] != name {
		t.Errorf("exec in the pod: %q, want lo's state and hostname %s", r.Stdout, name)
	}
	uid := p.inspect(name).Metadata.UID
	pod("rm", "-f", name)
	p.assertPodRemoved(name, uid)
}
