package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/podrun/podrun/internal/ocispec"
)

// Layer compressions for WriteLayout.
const (
	Gzip         = "gzip"
	Zstd         = "zstd"
	Uncompressed = ""
)

// Layers returns the test image's uncompressed layer tars, bottom first
// (see OCIArchive).
func Layers(t testing.TB) [][]byte {
	t.Helper()
	return append([][]byte{}, build(t).tars...)
}

// Config returns the test image's configuration.
func Config(t testing.TB) ocispec.Config {
	t.Helper()
	var c ocispec.Config
	if err := json.Unmarshal(build(t).config.data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Tar returns a layer tar of the given headers; a regular file's content
// is data[hdr.Name] (its Size is set from it). Missing ModTimes are the
// image's epoch.
func Tar(t testing.TB, hdrs []*tar.Header, data map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h := *h
		if h.ModTime.IsZero() {
			h.ModTime = epoch
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data[h.Name]))
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeLink {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(data[h.Name])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Compress compresses a layer tar (Gzip, Zstd or Uncompressed) and
// returns the blob and its media type.
func Compress(t testing.TB, layer []byte, how string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	switch how {
	case Gzip:
		zw := gzip.NewWriter(&buf)
		zw.Write(layer)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), ocispec.MediaTypeOCILayerGzip
	case Zstd:
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(layer)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), ocispec.MediaTypeOCILayerZstd
	}
	return layer, ocispec.MediaTypeOCILayer
}

// WriteLayout writes an OCI image layout at dir holding one image (named
// ref in index.json when ref is not empty) of the given uncompressed
// layers, compressed as compress[i] (Gzip when compress is short), with
// cfg as configuration (its rootfs is set from the layers). Blobs already
// in dir stay, so several images can share a layout only through
// separate calls writing separate dirs. It returns the manifest digest and
// the config digest (the image ID).
func WriteLayout(t testing.TB, dir, ref string, cfg ocispec.Config, layers [][]byte, compress ...string) (manifest, config string) {
	t.Helper()
	if cfg.OS == "" {
		cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	var blobs []blob
	man := ocispec.Manifest{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIManifest}
	for i, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, newBlob(l).digest)
		how := Gzip
		if i < len(compress) {
			how = compress[i]
		}
		data, mt := Compress(t, l, how)
		b := newBlob(data)
		blobs = append(blobs, b)
		man.Layers = append(man.Layers, ocispec.Descriptor{MediaType: mt, Digest: b.digest, Size: int64(len(data))})
	}
	cfgData, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cb := newBlob(cfgData)
	man.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeOCIConfig, Digest: cb.digest, Size: int64(len(cfgData))}
	manData, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	mb := newBlob(manData)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeOCIManifest, Digest: mb.digest, Size: int64(len(manData)),
		Platform: &ocispec.Platform{Architecture: cfg.Architecture, OS: cfg.OS}}
	if ref != "" {
		desc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	}
	idx, err := json.Marshal(ocispec.Index{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIIndex, Manifests: []ocispec.Descriptor{desc}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range append(blobs, cb, mb) {
		p := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(b.digest, "sha256:"))
		if err := os.WriteFile(p, b.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	return mb.digest, cb.digest
}
