package fetch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/overlay/layer"
)

// files is random access to the files of an image layout: a directory or
// an uncompressed tar archive.
type files interface {
	open(name string) (io.ReadCloser, int64, error)
	exists(name string) bool
	Close() error
}

type dirFiles struct{ root *os.Root }

func (d dirFiles) open(name string) (io.ReadCloser, int64, error) {
	f, err := d.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	return f, st.Size(), nil
}

func (d dirFiles) exists(name string) bool {
	_, err := d.root.Stat(name)
	return err == nil
}

func (d dirFiles) Close() error { return d.root.Close() }

// tarFiles indexes the regular files of a tar archive by offset, so blobs
// are read in place without extracting the archive.
type tarFiles struct {
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct{ off, size int64 }

type offsetReader struct {
	r   io.Reader
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.off += int64(n)
	return n, err
}

func indexTar(f *os.File) (*tarFiles, error) {
	or := &offsetReader{r: f}
	tr := tar.NewReader(or)
	t := &tarFiles{f: f, entries: map[string]tarEntry{}}
	links := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			// archive/tar reads whole 512-byte blocks from an unbuffered
			// reader: the data starts where the header reading stopped.
			t.entries[name] = tarEntry{off: or.off, size: hdr.Size}
		case tar.TypeLink, tar.TypeSymlink:
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				target = path.Join(path.Dir(name), target)
			}
			links[name] = path.Clean(strings.TrimPrefix(target, "/"))
		}
	}
	// docker save links identical layers to one another.
	for name, target := range links {
		for i := 0; i < 8; i++ {
			if e, ok := t.entries[target]; ok {
				t.entries[name] = e
				break
			}
			next, ok := links[target]
			if !ok {
				break
			}
			target = next
		}
	}
	return t, nil
}

func (t *tarFiles) open(name string) (io.ReadCloser, int64, error) {
	e, ok := t.entries[path.Clean(name)]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(t.f, e.off, e.size)), e.size, nil
}

func (t *tarFiles) exists(name string) bool {
	_, ok := t.entries[path.Clean(name)]
	return ok
}

func (t *tarFiles) Close() error { return t.f.Close() }

func readAll(fs files, name string, max int64) ([]byte, error) {
	rc, size, err := fs.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > max {
		return nil, fmt.Errorf("%s: %d bytes is too large", name, size)
	}
	return io.ReadAll(rc)
}

const maxJSON = 8 << 20

// ImportOptions tune Import.
type ImportOptions struct {
	// Name names the image (NAME[:TAG]); by default the archive's own
	// names (index.json ref annotations, docker-save RepoTags).
	Name string
}

// Import imports an OCI image layout directory, an OCI archive (a tar of
// a layout, optionally compressed) or a `docker save` archive. Of a
// multi-platform index it takes the host's platform; of a layout holding
// several images it takes the one named by opts.Name's tag when it
// matches a ref annotation, or the only one.
func Import(ctx context.Context, s *image.Store, src string, opts ImportOptions) (*image.Image, error) {
	fsys, err := openSource(s, src)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	var p *image.Pending
	switch {
	case fsys.exists("index.json"):
		p, err = readOCILayout(fsys, opts.Name)
	case fsys.exists("manifest.json"):
		p, err = readDockerArchive(fsys, opts.Name)
	default:
		return nil, fmt.Errorf("%s: neither an OCI image layout (index.json) nor a docker-save archive (manifest.json)", src)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if opts.Name != "" {
		p.Names = []string{image.NormalizeName(opts.Name)}
	}
	p.Source = src
	img, err := s.Ingest(ctx, p, layer.Unpack)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", src, err)
	}
	return img, nil
}

// openSource opens a directory, or a tar archive (decompressing a gzip or
// zstd one into tmp/ first, since blobs are read by offset).
func openSource(s *image.Store, src string) (files, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		r, err := os.OpenRoot(src)
		if err != nil {
			return nil, err
		}
		return dirFiles{r}, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	if bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		zr, _, err := layer.Decompress(br)
		if err != nil {
			f.Close()
			return nil, err
		}
		tmp, err := s.TempDir("archive")
		if err != nil {
			f.Close()
			zr.Close()
			return nil, err
		}
		out, err := os.Create(filepath.Join(tmp, "archive.tar"))
		if err == nil {
			_, err = io.Copy(out, zr)
			if err == nil {
				_, err = out.Seek(0, io.SeekStart)
			}
		}
		zr.Close()
		f.Close()
		// The open file outlives its name.
		os.RemoveAll(tmp)
		if err != nil {
			if out != nil {
				out.Close()
			}
			return nil, fmt.Errorf("%s: decompressing: %w", src, err)
		}
		f = out
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	t, err := indexTar(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return t, nil
}

func blobPath(digest string) (string, error) {
	h, err := overlay.ParseDigest(digest)
	if err != nil {
		return "", err
	}
	return "blobs/sha256/" + h, nil
}

// readBlob reads and verifies a small blob of a layout.
func readBlob(fsys files, d image.Descriptor) ([]byte, error) {
	p, err := blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	data, err := readAll(fsys, p, maxJSON)
	if err != nil {
		return nil, err
	}
	if got := sha256Digest(data); got != d.Digest {
		return nil, fmt.Errorf("blob %s: content has digest %s", d.Digest, got)
	}
	if d.Size > 0 && int64(len(data)) != d.Size {
		return nil, fmt.Errorf("blob %s: %d bytes, its descriptor says %d", d.Digest, len(data), d.Size)
	}
	return data, nil
}

func readOCILayout(fsys files, name string) (*image.Pending, error) {
	raw, err := readAll(fsys, "index.json", maxJSON)
	if err != nil {
		return nil, err
	}
	var idx image.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if len(idx.Manifests) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	// Choose the image: by ref name when asked and present, else the only
	// one (several manifests differing only by platform count as one).
	cands := idx.Manifests
	if name != "" {
		var byName []image.Descriptor
		tag := image.NormalizeName(name)
		for _, d := range idx.Manifests {
			ref := d.Annotations[ocispec.AnnotationRefName]
			full := d.Annotations[ocispec.AnnotationContainerdName]
			if ref != "" && (ref == name || ref == tag[strings.LastIndex(tag, ":")+1:] || full == tag || full == name) {
				byName = append(byName, d)
			}
		}
		if len(byName) > 0 {
			cands = byName
		}
	}
	get := func(d image.Descriptor) ([]byte, error) { return readBlob(fsys, d) }
	desc, manRaw, err := resolveManifest(cands, get, 0)
	if err != nil {
		return nil, err
	}
	p, err := pendingFromManifest(desc, manRaw, get, func(d image.Descriptor) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) {
			bp, err := blobPath(d.Digest)
			if err != nil {
				return nil, err
			}
			rc, _, err := fsys.open(bp)
			return rc, err
		}
	})
	if err != nil {
		return nil, err
	}
	for _, d := range cands {
		if n := d.Annotations[ocispec.AnnotationContainerdName]; n != "" {
			p.Names = append(p.Names, image.NormalizeName(n))
		} else if n := d.Annotations[ocispec.AnnotationRefName]; n != "" {
			p.Names = append(p.Names, image.NormalizeName(n))
		}
	}
	return p, nil
}

// resolveManifest picks, among descriptors (an index's manifests), the
// image manifest for the host platform, descending into nested indexes.
func resolveManifest(descs []image.Descriptor, get func(image.Descriptor) ([]byte, error), depth int) (image.Descriptor, []byte, error) {
	if depth > 4 {
		return image.Descriptor{}, nil, errors.New("indexes nested too deeply")
	}
	host := HostPlatform()
	var platforms []string
	var tried []image.Descriptor
	for _, d := range descs {
		if d.Platform != nil && !host.Matches(d.Platform) {
			platforms = append(platforms, (*d.Platform).String())
			continue
		}
		tried = append(tried, d)
	}
	if len(tried) == 0 {
		return image.Descriptor{}, nil, fmt.Errorf("no image for %s (the index has %s)", host, strings.Join(platforms, ", "))
	}
	var lastErr error
	for _, d := range tried {
		raw, err := get(d)
		if err != nil {
			return image.Descriptor{}, nil, err
		}
		if isIndex(d.MediaType, raw) {
			var idx image.Index
			if err := json.Unmarshal(raw, &idx); err != nil {
				return image.Descriptor{}, nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			md, mraw, err := resolveManifest(idx.Manifests, get, depth+1)
			if err == nil {
				return md, mraw, nil
			}
			lastErr = err
			continue
		}
		return d, raw, nil
	}
	return image.Descriptor{}, nil, lastErr
}

func pendingFromManifest(desc image.Descriptor, raw []byte, get func(image.Descriptor) ([]byte, error), opener func(image.Descriptor) func(context.Context) (io.ReadCloser, error)) (*image.Pending, error) {
	var m image.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest %s: schema version %d is not supported", desc.Digest, m.SchemaVersion)
	}
	cfgRaw, err := get(m.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	p := &image.Pending{ManifestDigest: desc.Digest, ManifestRaw: raw, ConfigDigest: m.Config.Digest, ConfigRaw: cfgRaw}
	for _, l := range m.Layers {
		if _, err := overlay.ParseDigest(l.Digest); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		switch l.MediaType {
		case "", ocispec.MediaTypeOCILayer, ocispec.MediaTypeOCILayerGzip, ocispec.MediaTypeOCILayerZstd, ocispec.MediaTypeDockerLayer,
			"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		default:
			return nil, fmt.Errorf("layer %s: unsupported media type %q", l.Digest, l.MediaType)
		}
		p.Layers = append(p.Layers, image.LayerSource{Digest: l.Digest, Size: l.Size, Open: opener(l)})
	}
	// The config is checked against its digest in image.Pending's check (Store.Ingest).
	return p, nil
}

// dockerManifest is one image of a docker-save manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func readDockerArchive(fsys files, name string) (*image.Pending, error) {
	raw, err := readAll(fsys, "manifest.json", maxJSON)
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	m := ms[0]
	if len(ms) > 1 {
		found := false
		for _, c := range ms {
			for _, t := range c.RepoTags {
				if name != "" && (t == name || t == image.NormalizeName(name)) {
					m, found = c, true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("the archive holds %d images: name one with --name (one of its RepoTags)", len(ms))
		}
	}
	cfgRaw, err := readAll(fsys, m.Config, maxJSON)
	if err != nil {
		return nil, err
	}
	p := &image.Pending{ConfigDigest: sha256Digest(cfgRaw), ConfigRaw: cfgRaw}
	// Docker names its config "<hex>.json" or "blobs/sha256/<hex>".
	want := strings.TrimSuffix(path.Base(m.Config), ".json")
	if len(want) == 64 && "sha256:"+want != p.ConfigDigest {
		return nil, fmt.Errorf("config %s: content has digest %s", m.Config, p.ConfigDigest)
	}
	for _, ln := range m.Layers {
		ln := ln
		_, size, err := fsys.open(ln)
		if err != nil {
			return nil, err
		}
		p.Layers = append(p.Layers, image.LayerSource{Size: size, Open: func(context.Context) (io.ReadCloser, error) {
			rc, _, err := fsys.open(ln)
			return rc, err
		}})
	}
	for _, t := range m.RepoTags {
		p.Names = append(p.Names, image.NormalizeName(t))
	}
	return p, nil
}
