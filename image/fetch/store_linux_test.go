package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
)

func newStore(t *testing.T) *image.Store {
	t.Helper()
	testutil.RequiresRoot(t)
	s, err := image.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// assertOnly checks the store holds exactly the given images and layers
// and nothing in tmp/.
func assertOnly(t *testing.T, s *image.Store, images, layers int) {
	t.Helper()
	if n := names(t, filepath.Join(s.Dir, "images")); len(n) != images {
		t.Errorf("images/: %v, want %d", n, images)
	}
	if n := names(t, filepath.Join(s.Dir, "layers")); len(n) != layers {
		t.Errorf("layers/: %v, want %d", n, layers)
	}
	if n := names(t, filepath.Join(s.Dir, "tmp")); len(n) != 0 {
		t.Errorf("tmp/ not empty: %v", n)
	}
}

// TestImportFormats imports the test image as an OCI layout, an OCI
// archive, a docker-save archive and a gzipped docker-save archive: one
// image, its two layers unpacked once, four names.
func TestImportFormats(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	testimage.OCILayout(t, layout, "busybox:test")
	archive := filepath.Join(dir, "oci.tar")
	testimage.OCIArchive(t, archive, "docker.io/podrun/busybox:test")
	docker := filepath.Join(dir, "docker.tar")
	id := testimage.DockerArchive(t, docker, "podrun/docker:saved")
	dockerGz := filepath.Join(dir, "docker.tar.gz")
	data, _ := os.ReadFile(docker)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	os.WriteFile(dockerGz, gz.Bytes(), 0o644)

	ctx := context.Background()
	for _, c := range []struct{ src, name, want string }{
		{layout, "layout:v1", "layout:v1"},
		{archive, "", "docker.io/podrun/busybox:test"},
		{docker, "", "podrun/docker:saved"},
		{dockerGz, "gz", "gz:latest"},
	} {
		img, err := Import(ctx, s, c.src, ImportOptions{Name: c.name})
		if err != nil {
			t.Fatalf("import %s: %v", c.src, err)
		}
		if img.ID != id || len(img.Layers) != 2 {
			t.Errorf("import %s: id %s (want %s), %d layers", c.src, img.ID, id, len(img.Layers))
		}
		if got, err := s.Lookup(c.want); err != nil || got.ID != id {
			t.Errorf("lookup %s: %v", c.want, err)
		}
	}
	assertOnly(t, s, 1, 2)
	if _, err := s.Lookup(id[7:19]); err != nil {
		t.Errorf("lookup by short ID: %v", err)
	}
	img, _ := s.Lookup("layout:v1")
	if len(img.Names) != 4 {
		t.Errorf("names %v", img.Names)
	}
	// The layers as overlayfs will show them.
	if _, err := s.ReadImageFile(img, testimage.WhiteoutFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("whited-out file readable: %v", err)
	}
	if _, err := s.ReadImageFile(img, testimage.OpaqueDir+"/lower"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file under an opaque dir readable: %v", err)
	}
	if b, err := s.ReadImageFile(img, testimage.OpaqueDir+"/upper"); err != nil || len(b) == 0 {
		t.Errorf("upper file: %v", err)
	}
	if b, err := s.ReadImageFile(img, "/etc/passwd"); err != nil || !strings.Contains(string(b), "tester:x:1000") {
		t.Errorf("/etc/passwd: %v", err)
	}
}

// TestSharedLayers: an image whose lower layer is the test image's, in
// zstd instead of gzip, and whose upper layer is uncompressed and new,
// shares the lower layer's directory.
func TestSharedLayers(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a := filepath.Join(t.TempDir(), "a")
	testimage.OCILayout(t, a, "a")
	b := filepath.Join(t.TempDir(), "b")
	layers := testimage.Layers(t)
	extra := testimage.Tar(t, []*tar.Header{{Name: "b-only", Typeflag: tar.TypeReg}}, map[string]string{"b-only": "b"})
	cfg := testimage.Config(t)
	cfg.Config.Cmd = []string{"echo", "b"}
	testimage.WriteLayout(t, b, "b", cfg, [][]byte{layers[0], extra}, testimage.Zstd, testimage.Uncompressed)
	ia, err := Import(ctx, s, a, ImportOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ib, err := Import(ctx, s, b, ImportOptions{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ia.ID == ib.ID || ia.Layers[0] != ib.Layers[0] || ia.Layers[1] == ib.Layers[1] {
		t.Fatalf("layers %v and %v", ia.Layers, ib.Layers)
	}
	assertOnly(t, s, 2, 3)
	da, _ := s.LayerDir(ia.Layers[0])
	db, _ := s.LayerDir(ib.Layers[0])
	sa, err1 := os.Stat(filepath.Join(da, "bin/busybox"))
	sb, err2 := os.Stat(filepath.Join(db, "bin/busybox"))
	if err1 != nil || err2 != nil || !os.SameFile(sa, sb) {
		t.Errorf("the shared layer is not one directory on disk: %v %v", err1, err2)
	}
	// Removing one image keeps the shared layer for the other.
	if _, _, err := s.Remove("a", image.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, s, 1, 2)
	if _, err := os.Stat(filepath.Join(db, "bin/busybox")); err != nil {
		t.Errorf("shared layer removed with the first image: %v", err)
	}
}

// TestHostileImportLeavesNothing: a layer that escapes is refused with a
// clear error; neither it nor the good layers unpacked beside it stay.
func TestHostileImportLeavesNothing(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	evil := testimage.Tar(t, []*tar.Header{
		{Name: "ok", Typeflag: tar.TypeReg},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
		{Name: "link/pwned", Typeflag: tar.TypeReg},
	}, map[string]string{"ok": "x", "link/pwned": "owned"})
	dir := t.TempDir()
	testimage.WriteLayout(t, dir, "evil", testimage.Config(t), append(testimage.Layers(t), evil))
	_, err := Import(context.Background(), s, dir, ImportOptions{Name: "evil"})
	if err == nil || !strings.Contains(err.Error(), `"link/pwned" escapes the layer: path goes through the symlink "link"`) {
		t.Fatalf("import: %v", err)
	}
	assertOnly(t, s, 0, 0)
	if n := names(t, outside); len(n) != 0 {
		t.Errorf("written outside: %v", n)
	}
	if _, err := s.Lookup("evil"); err == nil {
		t.Error("the hostile image is listed")
	}
}

// TestInterruptedImportRetried: a corrupt blob fails the import (digest
// check) with nothing visible; leftovers of a killed import are cleaned;
// the retry with the right blob succeeds.
func TestInterruptedImportRetried(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	testimage.OCILayout(t, dir, "retry")
	// Corrupt the upper layer's blob (same size).
	var man image.Manifest
	var idx image.Index
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	readJSON(t, filepath.Join(dir, "blobs/sha256", idx.Manifests[0].Digest[7:]), &man)
	blob := filepath.Join(dir, "blobs/sha256", man.Layers[1].Digest[7:])
	good, _ := os.ReadFile(blob)
	bad := append([]byte{}, good...)
	bad[len(bad)/2] ^= 0xff
	os.WriteFile(blob, bad, 0o644)
	// A killed import's staging (pid 2^22+1 does not exist).
	os.MkdirAll(filepath.Join(s.Dir, "tmp", "layer-4194305-junk", "diff", "half"), 0o755)

	if _, err := Import(context.Background(), s, dir, ImportOptions{}); err == nil {
		t.Fatal("import of a corrupt blob succeeded")
	}
	assertOnly(t, s, 0, 0)
	os.WriteFile(blob, good, 0o644)
	imgRec, err := Import(context.Background(), s, dir, ImportOptions{})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	assertOnly(t, s, 1, 2)
	if _, err := s.Lookup("retry"); err != nil || len(imgRec.Layers) != 2 {
		t.Errorf("retry: %v", err)
	}
}

// TestRemovePruneRespectUsers: an image a container uses is neither
// removed nor pruned, nor are its layers even with --force, until the
// container releases it.
func TestRemovePruneRespectUsers(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	testimage.OCILayout(t, dir, "x")
	img, err := Import(context.Background(), s, dir, ImportOptions{Name: "used:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), s, dir, ImportOptions{Name: "used:2"}); err != nil { // a second name
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "ctr"), 0o700) // the runtime's state dir
	m, use, err := s.Acquire(img.ID, img.Layers, root, "ctr")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Lower) != 2 || !strings.HasSuffix(m.Lower[0], img.Layers[1][7:]+"/diff") {
		t.Errorf("lower dirs %v (want topmost first)", m.Lower)
	}
	if _, err := os.Stat(m.Upper); err != nil {
		t.Fatal(err)
	}
	// A name of an image with two names is only untagged.
	if untagged, removed, err := s.Remove("used:2", image.RemoveOptions{}); err != nil || removed != nil || len(untagged) != 1 {
		t.Errorf("untag: %v %v %v", untagged, removed, err)
	}
	if _, _, err := s.Remove("used:1", image.RemoveOptions{}); !errors.Is(err, image.ErrInUse) || !strings.Contains(err.Error(), "ctr") {
		t.Errorf("rm of a used image: %v", err)
	}
	if rep, err := s.Prune(image.PruneOptions{All: true}); err != nil || len(rep.Images) != 0 {
		t.Errorf("prune removed a used image: %+v %v", rep, err)
	}
	assertOnly(t, s, 1, 2)
	// --force removes the record; the layers stay for the container.
	if _, _, err := s.Remove("used:1", image.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, s, 0, 2)
	if _, _, err := s.Acquire(img.ID, img.Layers, root, "ctr2"); err != nil {
		t.Errorf("a second container of the removed image: %v", err)
	}
	if err := image.Release(use); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Upper); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("upper dir left after release: %v", err)
	}
	// ctr2's runtime state never existed: its use is stale and prune
	// drops it with the now unused layers.
	rep, err := s.Prune(image.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.StaleUses) != 1 || rep.Layers != 2 || rep.BytesFreed == 0 {
		t.Errorf("prune: %+v", rep)
	}
	assertOnly(t, s, 0, 0)
	if n := names(t, filepath.Join(s.Dir, "containers")); len(n) != 0 {
		t.Errorf("containers/: %v", n)
	}
	if n := names(t, filepath.Join(s.Dir, "blobs", "sha256")); len(n) != 0 {
		t.Errorf("blobs left: %v", n)
	}
	if _, _, err := s.Acquire(img.ID, img.Layers, root, "ctr3"); err == nil || !strings.Contains(err.Error(), "not in the store") {
		t.Errorf("acquire of removed layers: %v", err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// A store an older podrun made (0711 top, layers/, l/ and containers/;
// 0711 layer dirs, 0755 diff dirs) is made root-only when opened: the
// host's other users then reach no layer nor upper dir through any path.
func TestOpenFixesUpOldStoreModes(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "store")
	diff := filepath.Join(dir, "layers", "0123", "diff")
	upper := filepath.Join(dir, "containers", "key", "upper")
	for _, d := range []string{diff, upper, filepath.Join(dir, "l")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, "layers"), filepath.Join(dir, "l"), filepath.Join(dir, "containers"), filepath.Dir(diff), filepath.Dir(upper)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	stat := func() error {
		return testutil.AsUser(testutil.Nobody, testutil.Nobody, func() error {
			for _, p := range []string{diff, upper} {
				if _, err := os.Stat(p); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := stat(); err != nil {
		t.Fatalf("the old store is not reachable before image.Open, the test proves nothing: %v", err)
	}
	if _, err := image.Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "layers"), filepath.Join(dir, "l"), filepath.Join(dir, "containers")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s: mode %04o after image.Open, want 0700", d, m)
		}
	}
	if err := stat(); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("nobody stats a layer or an upper dir after Open: %v, want permission denied", err)
	}
}
