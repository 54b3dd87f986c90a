package pod

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podrun/podrun/pod/manifest"
)

// uidPod is a defaulted valid pod whose images Create need not resolve.
func uidPod(t *testing.T, name, ns string) (*manifest.Pod, CreateOptions) {
	t.Helper()
	p, err := manifest.Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  containers: [{name: a, image: busybox}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.Default()
	return p, CreateOptions{Images: map[string]string{"a": "sha256:x"}}
}

// A pod whose uid is another pod's must fail before it can touch that
// pod's data (the uid names the data dir, cgroup and CNI attachment), and
// leave nothing of its own.
func TestCreateRefusesAUIDInUse(t *testing.T) {
	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "pods"), DataDir: filepath.Join(base, "data")}
	p, o := uidPod(t, "second", "default")
	other := filepath.Join(m.DataDir, p.Metadata.UID)
	if err := os.MkdirAll(filepath.Join(other, "volumes"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := m.Create(p, o)
	if err == nil || !strings.HasPrefix(err.Error(), "metadata.uid: ") || !strings.Contains(err.Error(), "another pod") {
		t.Fatalf("Create with a uid in use: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "volumes")); err != nil {
		t.Errorf("the other pod's data was touched: %v", err)
	}
	if _, err := os.Stat(m.podDir("second")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state of the refused pod left: %v", err)
	}
}

// Through the Go API a uid is used only if it is a UUID: it becomes a
// path, a cgroup name and a CNI argument.
func TestCreateRefusesAUIDThatIsNotAUUID(t *testing.T) {
	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "pods"), DataDir: filepath.Join(base, "data")}
	for _, uid := range []string{"x;y", "../../etc", "AAAAAAAA-0000-4000-8000-000000000000", "0000000-0000-4000-8000-000000000000", "."} {
		p, o := uidPod(t, "p", "default")
		p.Metadata.UID = uid
		_, err := m.Create(p, o)
		if err == nil || !strings.HasPrefix(err.Error(), "metadata.uid: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("uid %q: %v", uid, err)
		}
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("refused pods left %v", ents)
	}
}

// Pods are keyed by name: a second pod of the same name fails with
// ErrExist, also from another namespace, and leaves the first alone.
func TestCreateRefusesANameInUse(t *testing.T) {
	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "pods"), DataDir: filepath.Join(base, "data")}
	if err := os.MkdirAll(filepath.Join(m.podDir("web"), "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"default", "other"} {
		p, o := uidPod(t, "web", ns)
		if _, err := m.Create(p, o); !errors.Is(err, ErrExist) {
			t.Errorf("namespace %s: %v, want ErrExist", ns, err)
		}
		if _, err := os.Stat(filepath.Join(m.DataDir, p.Metadata.UID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s: data dir of the refused pod left", ns)
		}
	}
	if _, err := os.Stat(filepath.Join(m.podDir("web"), "keep")); err != nil {
		t.Errorf("the existing pod's state was touched: %v", err)
	}
}

// A valid pod name of up to 253 characters would make container ids longer
// than a directory name: refused up front, naming the field.
func TestCheckIDLength(t *testing.T) {
	p, _ := uidPod(t, "x", "default")
	// "_" + container "a" (the infra's "POD" is longer) + "_" + 10 digits
	fits := strings.Repeat("a", maxIDLength-len("_POD_2147483647"))
	for name, ok := range map[string]bool{fits: true, fits + "a": false, strings.Repeat("a", 253): false} {
		p.Metadata.Name = name
		err := checkIDLength(p)
		if (err == nil) != ok || (err != nil && !strings.HasPrefix(err.Error(), "metadata.name: ")) {
			t.Errorf("name of %d: %v", len(name), err)
		}
	}
	p.Metadata.Name = fits
	p.Spec.Containers[0].Name = "abcd"
	if err := checkIDLength(p); err == nil || !strings.Contains(err.Error(), `"abcd"`) {
		t.Errorf("a container name longer than POD: %v", err)
	}

	base := t.TempDir()
	m := &Manager{StateDir: filepath.Join(base, "pods"), DataDir: filepath.Join(base, "data")}
	p, o := uidPod(t, strings.Repeat("a", 253), "default")
	if _, err := m.Create(p, o); err == nil || !strings.HasPrefix(err.Error(), "metadata.name: ") {
		t.Errorf("Create: %v", err)
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("refused pod left %v", ents)
	}
}
