package pod

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
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
