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
	"testing"
	"time"
)

// Media types of the OCI image spec (v1.0).
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"

	// AnnotationRefName names an image in index.json.
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is the platform of an image manifest.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Index is an OCI image index (index.json).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// ImageConfig is the part of the OCI image configuration the archive
// sets.
type ImageConfig struct {
	Created      string         `json:"created"`
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Config       ImageRunConfig `json:"config"`
	RootFS       ImageRootFS    `json:"rootfs"`
	History      []ImageHistory `json:"history,omitempty"`
}

// ImageRunConfig is the execution part of an image configuration.
type ImageRunConfig struct {
	Env        []string `json:"Env,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
}

// ImageRootFS lists the layers' uncompressed digests.
type ImageRootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// ImageHistory is one history entry of an image configuration.
type ImageHistory struct {
	Created   string `json:"created,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
}

// epoch is the time stamp of every file and of the image, so that the
// archive of one rootfs is the same every time.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// OCIArchive writes to dst a tar of an OCI image layout (oci-layout,
// index.json, blobs/sha256/...) holding one image of the busybox rootfs
// (with the checker) for linux/GOARCH, Cmd ["sh"], in one gzip layer.
// index.json names it ref with the org.opencontainers.image.ref.name
// annotation; containerd 1.6 (`ctr images import dst`) takes a full
// reference such as "docker.io/podrun/busybox:test" as the image name. It
// returns the manifest's digest.
func OCIArchive(t testing.TB, dst string, ref string) string {
	t.Helper()
	rootfs := filepath.Join(pristine(t), "rootfs")
	digest, err := writeOCIArchive(rootfs, dst, ref)
	if err != nil {
		t.Fatalf("testimage: OCIArchive: %v", err)
	}
	return digest
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func writeOCIArchive(rootfs, dst, ref string) (string, error) {
	layerTar, err := tarRootfs(rootfs)
	if err != nil {
		return "", err
	}
	diffID := newBlob(layerTar).digest
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(layerTar); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	layer := newBlob(gz.Bytes())

	created := epoch.Format(time.RFC3339)
	cfgData, err := json.Marshal(ImageConfig{
		Created:      created,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config: ImageRunConfig{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:        []string{"sh"},
			WorkingDir: "/",
		},
		RootFS:  ImageRootFS{Type: "layers", DiffIDs: []string{diffID}},
		History: []ImageHistory{{Created: created, CreatedBy: "podrun testdata/mkbundle.sh"}},
	})
	if err != nil {
		return "", err
	}
	cfg := newBlob(cfgData)

	manData, err := json.Marshal(Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeManifest,
		Config:        Descriptor{MediaType: MediaTypeConfig, Digest: cfg.digest, Size: int64(len(cfg.data))},
		Layers:        []Descriptor{{MediaType: MediaTypeLayerGz, Digest: layer.digest, Size: int64(len(layer.data))}},
	})
	if err != nil {
		return "", err
	}
	man := newBlob(manData)

	manDesc := Descriptor{
		MediaType: MediaTypeManifest,
		Digest:    man.digest,
		Size:      int64(len(man.data)),
		Platform:  &Platform{Architecture: runtime.GOARCH, OS: "linux"},
	}
	if ref != "" {
		manDesc.Annotations = map[string]string{AnnotationRefName: ref}
	}
	indexData, err := json.Marshal(Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{manDesc}})
	if err != nil {
		return "", err
	}

	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addDir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch})
	}
	err = addDir("blobs/")
	if err == nil {
		err = addDir("blobs/sha256/")
	}
	for _, b := range []blob{layer, cfg, man} {
		if err == nil {
			err = add("blobs/sha256/"+strings.TrimPrefix(b.digest, "sha256:"), b.data)
		}
	}
	if err == nil {
		err = add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	}
	if err == nil {
		err = add("index.json", indexData)
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", dst, err)
	}
	return man.digest, nil
}

// tarRootfs makes the layer: the rootfs as a tar, in a stable order, owned
// by root but for /home/tester, with fixed time stamps.
func tarRootfs(rootfs string) ([]byte, error) {
	var paths []string
	err := filepath.Walk(rootfs, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if path != rootfs {
			paths = append(paths, path)
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
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
