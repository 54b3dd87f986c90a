package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/testimage"
)

// imageEnv is a harness with its own image store.
type imageEnv struct {
	*H
	store string
}

func newImageEnv(t *testing.T) *imageEnv {
	h := New(t)
	e := &imageEnv{H: h, store: filepath.Join(t.TempDir(), "store")}
	t.Cleanup(func() { e.assertNoOverlay(t) })
	return e
}

// img runs `podrun image SUB --store S ARGS...`.
func (e *imageEnv) img(sub string, args ...string) Result {
	e.t.Helper()
	return e.Must(append([]string{"image", sub, "--store", e.store}, args...)...)
}

// bundle writes a bundle of image ref and lets edit change its spec.
func (e *imageEnv) bundle(ref string, edit func(*Spec)) string {
	e.t.Helper()
	b := filepath.Join(e.t.TempDir(), "bundle")
	e.Must("bundle", "--store", e.store, "--image", ref, b)
	if edit != nil {
		s := testimage.Spec(e.t, b)
		edit(s)
		testimage.WriteSpec(e.t, b, s)
	}
	return b
}

// assertNoOverlay fails unless no process on the host has a mount of the
// store (the container overlays live only in their mount namespaces) and
// no container dir is left in the store.
func (e *imageEnv) assertNoOverlay(t *testing.T) {
	t.Helper()
	if ents, _ := os.ReadDir(filepath.Join(e.store, "containers")); len(ents) > 0 {
		t.Errorf("container overlay dirs left in the store: %v", ents)
	}
	if pids := mountsMentioning(e.store); len(pids) > 0 {
		t.Errorf("processes with a mount of the store: %v", pids)
	}
}

// mountsMentioning returns the pids whose mountinfo mentions s.
func mountsMentioning(s string) []string {
	var pids []string
	matches, _ := filepath.Glob("/proc/[0-9]*/mountinfo")
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err == nil && strings.Contains(string(data), s) {
			pids = append(pids, strings.Split(m, "/")[2])
		}
	}
	return pids
}

func shArgs(script string) func(*Spec) {
	return func(s *Spec) {
		s.Process.Args = []string{"sh", "-c", script}
		s.Process.Terminal = false
	}
}

// TestImageRun: import the two-layer test image, write a bundle, run it:
// the whited-out file is absent, the opaque dir hides the lower layer,
// the rootfs is writable, and nothing stays after the run.
func TestImageRun(t *testing.T) {
	e := newImageEnv(t)
	archive := filepath.Join(t.TempDir(), "oci.tar")
	testimage.OCIArchive(t, archive, "docker.io/podrun/busybox:test")
	e.img("import", archive)
	if ls := e.img("ls"); !strings.Contains(ls.Stdout, "docker.io/podrun/busybox:test") {
		t.Fatalf("image ls:\n%s", ls.Stdout)
	}
	b := e.bundle("docker.io/podrun/busybox:test", shArgs(fmt.Sprintf(
		"test -e %s && echo whiteout-visible; ls %s; echo data > /written; cat /written; grep -c ' / / .* - overlay ' /proc/self/mountinfo",
		testimage.WhiteoutFile, testimage.OpaqueDir)))
	if ents, _ := os.ReadDir(filepath.Join(b, "rootfs")); len(ents) != 0 {
		t.Errorf("the bundle's rootfs is not empty on the host: %v", ents)
	}
	r := e.Must("run", "--bundle", b, e.ID())
	if r.Stdout != "upper\ndata\n1\n" {
		t.Errorf("container output %q, want upper, data and the overlay root", r.Stdout)
	}
	// The next container of the bundle starts from the image again.
	r = e.Must("run", "--bundle", b, e.ID())
	if r.Stdout != "upper\ndata\n1\n" {
		t.Errorf("second run %q", r.Stdout)
	}
}

// TestImageDeleteFreesOverlay: the overlay exists only in the container's
// mount namespace; exec sees it; image rm refuses while the container
// uses the image; delete frees the upper dir and leaves no mount.
func TestImageDeleteFreesOverlay(t *testing.T) {
	e := newImageEnv(t)
	layout := filepath.Join(t.TempDir(), "layout")
	testimage.OCILayout(t, layout, "")
	e.img("import", "--name", "busy:1", layout)
	b := e.bundle("busy:1", shArgs("sleep 1000"))
	id := e.ID()
	pid := e.RunDetached(b, id)

	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	var upper string
	for _, f := range strings.FieldsFunc(string(mi), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if v, ok := strings.CutPrefix(f, "upperdir="); ok {
			upper = v
		}
	}
	if !strings.HasPrefix(upper, e.store) {
		t.Fatalf("no overlay with an upper dir in the store in the container's mountinfo:\n%s", mi)
	}
	host, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(host), e.store) {
		t.Error("the overlay is mounted on the host")
	}
	e.Must("exec", id, "sh", "-c", "echo via-exec > /from-exec")
	if data, err := os.ReadFile(filepath.Join(upper, "from-exec")); err != nil || string(data) != "via-exec\n" {
		t.Errorf("exec's write is not in the upper dir: %q %v", data, err)
	}
	e.Fails("in use", "image", "rm", "--store", e.store, "busy:1")

	e.Must("delete", "--force", id)
	if _, err := os.Stat(upper); !os.IsNotExist(err) {
		t.Errorf("upper dir left after delete: %v", err)
	}
	if pids := mountsMentioning(upper); len(pids) > 0 {
		t.Errorf("the overlay is still mounted in %v", pids)
	}
	r := e.img("rm", "busy:1")
	if !strings.Contains(r.Stdout, "deleted: sha256:") {
		t.Errorf("image rm: %q", r.Stdout)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.store, "layers")); len(ents) != 0 {
		t.Errorf("layers left after rm: %v", ents)
	}
}

// TestImageBundleConfig: the bundle's process comes from the image
// config: Entrypoint+Cmd, Env, WorkingDir, User resolved in the image's
// /etc/passwd and /etc/group, StopSignal and volumes.
func TestImageBundleConfig(t *testing.T) {
	e := newImageEnv(t)
	cfg := testimage.Config(t)
	cfg.Config = ocispec.RunConfig{
		User: "tester", Env: []string{"FOO=bar baz"}, WorkingDir: "/home/tester",
		Entrypoint: []string{testimage.CheckerInRootfs}, Cmd: []string{"report"},
		StopSignal: "SIGQUIT", Volumes: map[string]struct{}{testimage.OpaqueDir: {}},
	}
	layout := filepath.Join(t.TempDir(), "layout")
	testimage.WriteLayout(t, layout, "", cfg, testimage.Layers(t))
	e.img("import", "--name", "cfg", layout)
	b := e.bundle("cfg", func(s *Spec) { s.Process.Terminal = false })
	s := testimage.Spec(t, b)
	if s.Annotations["org.opencontainers.image.stopSignal"] != "SIGQUIT" {
		t.Errorf("annotations %v", s.Annotations)
	}
	r := e.Must("run", "--bundle", b, e.ID())
	rep := parseReport(t, r.Stdout)
	if !slices.Equal(rep.Args, []string{testimage.CheckerInRootfs, "report"}) {
		t.Errorf("args %q", rep.Args)
	}
	if rep.UID != testimage.TesterUID || rep.GID != testimage.TesterGID || !slices.Contains(rep.Groups, testimage.ExtraGID) {
		t.Errorf("uid %d gid %d groups %v", rep.UID, rep.GID, rep.Groups)
	}
	if rep.Cwd != "/home/tester" || !slices.Contains(rep.Env, "FOO=bar baz") || !slices.Contains(rep.Env, "HOME=/home/tester") {
		t.Errorf("cwd %q env %q", rep.Cwd, rep.Env)
	}
	vol := false
	for _, m := range rep.Mounts {
		if m.Mountpoint == testimage.OpaqueDir && m.FSType == "tmpfs" {
			vol = true
		}
	}
	if !vol {
		t.Errorf("volume %s is not a tmpfs in the container", testimage.OpaqueDir)
	}
}

// TestImageManyLayers runs a container of a 110-layer image.
func TestImageManyLayers(t *testing.T) {
	e := newImageEnv(t)
	layers := testimage.Layers(t)
	const extra = 108
	for i := 0; i < extra; i++ {
		name := fmt.Sprintf("many/layer-%03d", i)
		layers = append(layers, testimage.Tar(t, []*tar.Header{{Name: "many/", Typeflag: tar.TypeDir}, {Name: name, Typeflag: tar.TypeReg}}, map[string]string{name: fmt.Sprint(i)}))
	}
	comp := make([]string, len(layers))
	layout := filepath.Join(t.TempDir(), "layout")
	testimage.WriteLayout(t, layout, "", testimage.Config(t), layers, comp...)
	e.img("import", "--name", "many", layout)
	b := e.bundle("many", shArgs("ls /many | wc -l; cat /many/layer-107"))
	r := e.Must("run", "--bundle", b, e.ID())
	if strings.Fields(r.Stdout)[0] != fmt.Sprint(extra) || !strings.HasSuffix(r.Stdout, "107") {
		t.Errorf("output %q", r.Stdout)
	}
}

// TestImageFormatsCLI imports a docker-save archive and an OCI layout of
// the same image, inspects, untags, prunes.
func TestImageFormatsCLI(t *testing.T) {
	e := newImageEnv(t)
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker.tar")
	id := testimage.DockerArchive(t, docker, "podrun/saved:1")
	layout := filepath.Join(dir, "layout")
	testimage.OCILayout(t, layout, "")
	if r := e.img("import", "-q", docker); strings.TrimSpace(r.Stdout) != id {
		t.Errorf("import -q: %q, want %s", r.Stdout, id)
	}
	e.img("import", "--name", "other", layout)
	var ins struct {
		ID     string   `json:"id"`
		Names  []string `json:"names"`
		Layers []string `json:"layers"`
		Config struct {
			Config struct{ Cmd []string }
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(e.img("inspect", "podrun/saved:1").Stdout), &ins); err != nil {
		t.Fatal(err)
	}
	if ins.ID != id || len(ins.Names) != 2 || len(ins.Layers) != 2 || !slices.Equal(ins.Config.Config.Cmd, []string{"sh"}) {
		t.Errorf("inspect %+v", ins)
	}
	if r := e.img("rm", "other"); !strings.Contains(r.Stdout, "untagged: other:latest") {
		t.Errorf("rm other: %q", r.Stdout)
	}
	e.img("prune") // the image still has a name: kept
	if r := e.img("ls", "-q"); strings.TrimSpace(r.Stdout) != id {
		t.Errorf("ls after prune: %q", r.Stdout)
	}
	e.img("prune", "--all")
	if r := e.img("ls", "-q"); r.Stdout != "" {
		t.Errorf("ls after prune --all: %q", r.Stdout)
	}
	e.Fails("not found", "image", "inspect", "--store", e.store, "podrun/saved:1")
}
