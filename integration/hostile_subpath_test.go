package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A container that shares an emptyDir with a restarting victim keeps
// swapping the directory the victim names in subPath for a symlink to a
// host directory (kubelet's CVE-2017-1002101 / CVE-2021-25741). The
// subPath is resolved, created and bind-mounted by fd, so the victim must
// only ever see a directory of the volume: each run leaves a file there,
// and if it ever sees the host's marker it writes "pwned" through the
// mount, into the host directory.
// Before the fix the victim won within 2 to 7 runs.
func TestHostilePodSubPathSymlinkSwap(t *testing.T) {
	e := newSvEnv(t, "PODRUN_POD_BACKOFF=10ms,20ms,10m")
	host := filepath.Join(t.TempDir(), "host")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("host-marker-%d", os.Getpid())
	if err := os.WriteFile(filepath.Join(host, marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.run("swap", podYAML("swap", "Always", "1", fmt.Sprintf(`  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: attacker
    image: busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; cd /shared; mkdir d; while :; do ln -s %[1]s x; rm x; mv d x; mv x d; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: victim
    image: busybox:test
    command: ["sh", "-c", "echo run >> /shared/runs; touch /data/victim-$(wc -l < /shared/runs); if [ -e /data/%[2]s ]; then echo escaped > /data/pwned; fi"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: shared, mountPath: /data, subPath: x}
`, host, marker)))
	runs := filepath.Join(e.data, "*", "volumes", "shared", "runs")
	count := func() int {
		m, _ := filepath.Glob(runs)
		if len(m) != 1 {
			return 0
		}
		data, _ := os.ReadFile(m[0])
		return bytes.Count(data, []byte("run\n"))
	}
	pwned := filepath.Join(host, "pwned")
	escaped := func() bool { _, err := os.Stat(pwned); return err == nil }
	// Until 40 runs of the victim, the escape, or 40 s (a bound, not an
	// assertion: the runs are counted below).
	waitFor(40*time.Second, func() bool { return escaped() || count() >= 40 })
	n := count()
	if escaped() {
		t.Fatalf("the victim's subPath was the host directory %s (after %d runs)", host, n)
	}
	if n < 10 {
		t.Fatalf("the victim ran only %d times: the race was not exercised; events:\n%s", n, e.pod("events", "swap").Stdout)
	}
	// Each run's subPath was a directory of the volume: its file is there.
	// The last counted run may still be between its two writes: wait
	// for its file (bounded).
	m, _ := filepath.Glob(runs)
	inVolume := 0
	waitFor(5*time.Second, func() bool {
		inVolume = 0
		filepath.WalkDir(filepath.Dir(m[0]), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), "victim-") {
				inVolume++
			}
			return nil
		})
		return inVolume >= n
	})
	if inVolume < n {
		t.Errorf("%d runs, only %d of them wrote into the volume", n, inVolume)
	}
	t.Logf("%d runs of the victim, none saw the host", n)
	e.mustPod("rm", "-f", "swap")
	e.pods = nil
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), e.data) {
		t.Errorf("mounts of the pod left:\n%s", mi)
	}
}
