package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/ocispec"
)

// epoch is the time stamp of every file and of the image, so that the
// archive of one rootfs is the same every time.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// The layer logic the test image exercises. The lower layer has both
// files below; the upper layer deletes WhiteoutFile with a whiteout
// (etc/.wh.podrun-removed) and makes OpaqueDir opaque (.wh..wh..opq), so
// that in the image's rootfs WhiteoutFile and OpaqueDir/lower are absent
// and OpaqueDir holds only "upper".
const (
	WhiteoutFile = "/etc/podrun-removed"
	OpaqueDir    = "/var/podrun-opaque"
)

// OCIArchive writes to dst a tar of an OCI image layout (oci-layout,
// index.json, blobs/sha256/...) holding one image of the busybox rootfs
// (with the checker) for linux/GOARCH, Cmd ["sh"], in two gzip layers: the
// rootfs without the checker plus the files WhiteoutFile and
// OpaqueDir/lower, then the checker with a whiteout of WhiteoutFile and an
// opaque OpaqueDir holding "upper". index.json names it ref with the
// org.opencontainers.image.ref.name annotation; containerd 1.6 (`ctr
// images import dst`) takes a full reference such as
// "docker.io/podrun/busybox:test" as the image name. It returns the
// manifest's digest.
func OCIArchive(t testing.TB, dst string, ref string) string {
	t.Helper()
	img := build(t)
	if err := img.writeArchive(dst, ref); err != nil {
		t.Fatalf("testimage: OCIArchive: %v", err)
	}
	return img.manifest.digest
}

// OCILayout writes the same image as OCIArchive as an OCI image layout
// directory dst (created if missing) and returns the manifest's digest.
func OCILayout(t testing.TB, dst string, ref string) string {
	t.Helper()
	img := build(t)
	if err := img.writeLayout(dst, ref); err != nil {
		t.Fatalf("testimage: OCILayout: %v", err)
	}
	return img.manifest.digest
}

// DockerArchive writes the same image as a `docker save` archive
// (manifest.json, <hex>.json config, <hex>/layer.tar uncompressed layers)
// tagged tag, and returns the config digest (docker's image ID).
func DockerArchive(t testing.TB, dst string, tag string) string {
	t.Helper()
	img := build(t)
	if err := img.writeDocker(dst, tag); err != nil {
		t.Fatalf("testimage: DockerArchive: %v", err)
	}
	return img.config.digest
}

// ImageDiffIDs returns the diff IDs of the test image's layers, bottom
// first.
func ImageDiffIDs(t testing.TB) []string {
	t.Helper()
	img := build(t)
	return append([]string{}, img.diffIDs...)
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

// image is the built test image: its blobs.
type ociImage struct {
	tars     [][]byte // uncompressed layers
	layers   []blob   // gzip layers
	diffIDs  []string
	config   blob
	manifest blob
}

var (
	imageOnce sync.Once
	imageVal  *ociImage
	imageErr  error
)

func build(t testing.TB) *ociImage {
	t.Helper()
	rootfs := filepath.Join(pristine(t), "rootfs")
	imageOnce.Do(func() { imageVal, imageErr = buildImage(rootfs) })
	if imageErr != nil {
		t.Fatalf("testimage: building the image: %v", imageErr)
	}
	return imageVal
}

func buildImage(rootfs string) (*ociImage, error) {
	checker := filepath.Join(rootfs, strings.TrimPrefix(CheckerInRootfs, "/"))
	lower, err := tarRootfs(rootfs, func(rel string) bool { return "/"+rel != CheckerInRootfs }, []extraEntry{
		{name: strings.TrimPrefix(WhiteoutFile, "/"), data: "removed by the upper layer\n"},
		{name: strings.TrimPrefix(OpaqueDir, "/") + "/", dir: true},
		{name: strings.TrimPrefix(OpaqueDir, "/") + "/lower", data: "hidden by the opaque upper dir\n"},
	})
	if err != nil {
		return nil, err
	}
	var upper []byte
	if _, err := os.Stat(checker); err == nil {
		upper, err = tarRootfs(rootfs, func(rel string) bool {
			return rel == "usr" || rel == "usr/bin" || "/"+rel == CheckerInRootfs
		}, nil)
		if err != nil {
			return nil, err
		}
	}
	upper, err = appendEntries(upper, []extraEntry{
		{name: "etc/", dir: true},
		{name: "etc/.wh." + filepath.Base(WhiteoutFile)},
		{name: strings.TrimPrefix(OpaqueDir, "/") + "/", dir: true},
		{name: strings.TrimPrefix(OpaqueDir, "/") + "/.wh..wh..opq"},
		{name: strings.TrimPrefix(OpaqueDir, "/") + "/upper", data: "from the upper layer\n"},
	})
	if err != nil {
		return nil, err
	}
	img := &ociImage{tars: [][]byte{lower, upper}}
	for _, tarData := range img.tars {
		img.diffIDs = append(img.diffIDs, newBlob(tarData).digest)
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(tarData); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		img.layers = append(img.layers, newBlob(gz.Bytes()))
	}

	created := epoch
	cfgData, err := json.Marshal(ocispec.Config{
		Created:      &created,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config: ocispec.RunConfig{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:        []string{"sh"},
			WorkingDir: "/",
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: img.diffIDs},
		History: []ocispec.History{
			{Created: &created, CreatedBy: "podrun testdata/mkbundle.sh"},
			{Created: &created, CreatedBy: "podrun testdata/checker, a whiteout and an opaque dir"},
		},
	})
	if err != nil {
		return nil, err
	}
	img.config = newBlob(cfgData)
	man := ocispec.Manifest{
		SchemaVersion: 2,
		MediaType:     ocispec.MediaTypeOCIManifest,
		Config:        ocispec.Descriptor{MediaType: ocispec.MediaTypeOCIConfig, Digest: img.config.digest, Size: int64(len(img.config.data))},
	}
	for _, l := range img.layers {
		man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeOCILayerGzip, Digest: l.digest, Size: int64(len(l.data))})
	}
	manData, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	img.manifest = newBlob(manData)
	return img, nil
}

// layoutFiles returns the files of the OCI layout, in write order.
func (img *ociImage) layoutFiles(ref string) ([]string, map[string][]byte, error) {
	manDesc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeOCIManifest,
		Digest:    img.manifest.digest,
		Size:      int64(len(img.manifest.data)),
		Platform:  &ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
	}
	if ref != "" {
		manDesc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	}
	indexData, err := json.Marshal(ocispec.Index{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIIndex, Manifests: []ocispec.Descriptor{manDesc}})
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	var order []string
	for _, b := range append(append([]blob{}, img.layers...), img.config, img.manifest) {
		name := "blobs/sha256/" + strings.TrimPrefix(b.digest, "sha256:")
		if _, dup := files[name]; !dup {
			order = append(order, name)
		}
		files[name] = b.data
	}
	files["oci-layout"] = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	files["index.json"] = indexData
	order = append(order, "oci-layout", "index.json")
	return order, files, nil
}

func (img *ociImage) writeLayout(dst, ref string) error {
	order, files, err := img.layoutFiles(ref)
	if err != nil {
		return err
	}
	for _, name := range order {
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (img *ociImage) writeArchive(dst, ref string) error {
	order, files, err := img.layoutFiles(ref)
	if err != nil {
		return err
	}
	return writeTar(dst, []string{"blobs/", "blobs/sha256/"}, order, files)
}

func (img *ociImage) writeDocker(dst, tag string) error {
	files := map[string][]byte{}
	var order []string
	cfgName := strings.TrimPrefix(img.config.digest, "sha256:") + ".json"
	var dirs, layerNames []string
	for _, tarData := range img.tars {
		h := strings.TrimPrefix(newBlob(tarData).digest, "sha256:")
		dirs = append(dirs, h+"/")
		layerNames = append(layerNames, h+"/layer.tar")
		order = append(order, h+"/layer.tar")
		files[h+"/layer.tar"] = tarData
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": layerNames}})
	if err != nil {
		return err
	}
	files[cfgName] = img.config.data
	files["manifest.json"] = manifest
	order = append(order, cfgName, "manifest.json")
	return writeTar(dst, dirs, order, files)
}

func writeTar(dst string, dirs, order []string, files map[string][]byte) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, d := range dirs {
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch})
		}
	}
	for _, name := range order {
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(files[name])), Mode: 0o644, ModTime: epoch})
		}
		if err == nil {
			_, err = tw.Write(files[name])
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

// extraEntry is a file or directory added to a layer that is not in the
// rootfs (whiteouts are empty regular files).
type extraEntry struct {
	name string
	data string
	dir  bool
}

func appendEntries(layer []byte, extra []extraEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if len(layer) > 0 {
		tr := tar.NewReader(bytes.NewReader(layer))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return nil, err
			}
		}
	}
	if err := writeExtra(tw, extra); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeExtra(tw *tar.Writer, extra []extraEntry) error {
	for _, e := range extra {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch, Uname: "root", Gname: "root"}
		if e.dir {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			return err
		}
	}
	return nil
}

// tarRootfs makes a layer: the rootfs paths keep accepts (relative,
// slash-separated) as a tar, in a stable order, owned by root but for
// /home/tester, with fixed time stamps, then the extra entries.
func tarRootfs(rootfs string, keep func(rel string) bool, extra []extraEntry) ([]byte, error) {
	var paths []string
	err := filepath.Walk(rootfs, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if path != rootfs {
			rel, _ := filepath.Rel(rootfs, path)
			if keep(filepath.ToSlash(rel)) {
				paths = append(paths, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, path := range paths {
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return nil, err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(rootfs, path)
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		if hdr.Name == "home/tester/" {
			hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = TesterUID, TesterGID, "tester", "tester"
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	if err := writeExtra(tw, extra); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
