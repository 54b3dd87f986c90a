package pod

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

// A subPath naming a file is bound as that file; a missing one is created
// as directories with the volume's mode (an emptyDir's 0777); the staging
// mounts are gone once the container is created; a subPath that a symlink
// leads out of the volume fails with an error naming the field and shows
// nothing outside.
func TestPodSubPathFileDirAndStaging(t *testing.T) {
	m := newManager(t)
	vol, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "conf"), []byte("from the volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(vol, "leak")); err != nil {
		t.Fatal(err)
	}
	sb := createPod(t, m, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: subpaths}
spec:
  volumes:
  - {name: h, hostPath: {path: %s, type: Directory}}
  - {name: e, emptyDir: {}}
  containers:
  - name: a
    image: busybox:test
    command: [sh, -c, 'cat /etc/conf && echo hi > /new/f && ls -ld /new']
    volumeMounts:
    - {name: h, mountPath: /etc/conf, subPath: conf, readOnly: true}
    - {name: e, mountPath: /new, subPath: a/b}
  - name: leak
    image: busybox:test
    command: [cat, /etc/leak]
    volumeMounts: [{name: h, mountPath: /etc/leak, subPath: leak}]
`, vol), CreateOptions{})
	r := runToEnd(t, m, sb, "a")
	if r.code != 0 || !strings.HasPrefix(r.out, "from the volume\n") || !strings.Contains(r.out, "drwxrwxrwx") {
		t.Errorf("exit %d, output %q: want the file's content and /new drwxrwxrwx", r.code, r.out)
	}
	for _, p := range []string{"a", "a/b"} {
		st, err := os.Stat(filepath.Join(sb.volumeDir("e"), p))
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o777 {
			t.Errorf("emptyDir %s: %v %v, want a directory of mode 0777", p, st, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(sb.volumeDir("e"), "a/b/f")); err != nil || string(data) != "hi\n" {
		t.Errorf("a/b/f in the emptyDir: %q %v", data, err)
	}
	stage := filepath.Join(sb.DataDir, "volume-subpaths")
	if ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(stage)); len(ms) > 0 {
		t.Errorf("staging mounts left after create: %d", len(ms))
	}
	if ents, _ := os.ReadDir(stage); len(ents) > 0 {
		t.Errorf("staging dirs left after create: %v", ents)
	}

	// leak -> <outside>/secret resolves to <vol>/<outside>/secret: missing,
	// and not created through the symlink.
	_, _, err := m.CreateContainer(sb, "leak", 0, [3]*os.File{})
	if err == nil || !strings.Contains(err.Error(), "spec.containers[1].volumeMounts[0].subPath") {
		t.Errorf("subPath through a symlink out of the volume: %v, want an error naming the field", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("the directory outside the volume changed: %v", ents)
	}
	if ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(stage)); len(ms) > 0 {
		t.Errorf("staging mounts left after a failed create: %d", len(ms))
	}
}

// stage against a goroutine that keeps exchanging (renameat2
// RENAME_EXCHANGE) the subPath's directory with a symlink to a host
// directory, so the name flips between the two every few microseconds:
// over many rounds, what is staged is never the host directory, and
// nothing is created there, neither the subPath nor a missing child.
func TestSubPathStageSwapRace(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	vol, outside := filepath.Join(base, "vol"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(vol, "x", "b"), filepath.Join(outside, "b")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"marker", "b/marker"} {
		if err := os.WriteFile(filepath.Join(outside, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x, l := filepath.Join(vol, "x"), filepath.Join(vol, "l")
	if err := os.Symlink(outside, l); err != nil {
		t.Fatal(err)
	}
	dir, err := os.Open(x) // the volume's directory, wherever its name is
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	sb := &Sandbox{DataDir: filepath.Join(base, "data")}
	stop, done := make(chan struct{}), make(chan struct{})
	swaps := 0
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, x, unix.AT_FDCWD, l, unix.RENAME_EXCHANGE); err == nil {
				swaps++
			}
		}
	}()
	staged := 0
	for i := 0; i < 300; i++ {
		st := subPathStageOf(sb, "c")
		unix.Unlinkat(int(dir.Fd()), "new", unix.AT_REMOVEDIR)
		for j, sub := range []string{"x", "x/b", "x/new"} {
			target, err := st.stage(vol, sub, j)
			if err != nil {
				continue // the swap made it fail: fine, nothing staged
			}
			staged++
			if _, err := os.Stat(filepath.Join(target, "marker")); err == nil {
				st.release()
				close(stop)
				<-done
				t.Fatalf("round %d: subPath %s staged the host directory", i, sub)
			}
		}
		if err := st.release(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	if staged == 0 || swaps == 0 {
		t.Fatalf("%d stagings, %d swaps: the race was not exercised", staged, swaps)
	}
	if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
		t.Errorf("the missing subPath was created in the host directory")
	}
	t.Logf("%d stagings of 900, %d swaps", staged, swaps)
}
