package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/overlay"
)

// memRegistry answers the registry client in memory: GET /manifests/v1
// is top (the reference's tag), any other manifest is child, any blob
// config. What does not match the descriptor's digest must be refused.
type memRegistry struct{ top, child, config []byte }

func (m memRegistry) RoundTrip(req *http.Request) (*http.Response, error) {
	body := m.config
	switch {
	case strings.HasSuffix(req.URL.Path, "/manifests/v1"):
		body = m.top
	case strings.Contains(req.URL.Path, "/manifests/"):
		body = m.child
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// FuzzResolveManifest feeds the registry client a fuzzed index or manifest
// (by tag), a second manifest and a config, and resolves the image as a
// pull does before fetching layers: no panic, errors in one line, and what
// it accepts is consistent (digests match the bytes, layers have valid
// digests and diff IDs, no more than overlayfs takes).
func FuzzResolveManifest(f *testing.F) {
	host := HostPlatform()
	cfg, _ := json.Marshal(image.Config{OS: "linux", Architecture: host.Architecture,
		RootFS: image.RootFS{Type: "layers", DiffIDs: []string{"sha256:" + strings.Repeat("ab", 32)}}})
	layer := image.Descriptor{MediaType: ocispec.MediaTypeOCILayerGzip, Digest: "sha256:" + strings.Repeat("cd", 32), Size: 100}
	man, _ := json.Marshal(image.Manifest{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIManifest,
		Config: image.Descriptor{MediaType: ocispec.MediaTypeOCIConfig, Digest: sha256Digest(cfg), Size: int64(len(cfg))},
		Layers: []image.Descriptor{layer}})
	idx, _ := json.Marshal(image.Index{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIIndex, Manifests: []image.Descriptor{
		{MediaType: ocispec.MediaTypeOCIManifest, Digest: "sha256:" + strings.Repeat("ef", 32), Size: 10, Platform: &image.Platform{OS: "linux", Architecture: "s390x"}},
		{MediaType: ocispec.MediaTypeOCIManifest, Digest: sha256Digest(man), Size: int64(len(man)), Platform: &host},
	}})
	docker := bytes.ReplaceAll(man, []byte(ocispec.MediaTypeOCIManifest), []byte(ocispec.MediaTypeDockerManifest))
	f.Add(man, man, cfg)
	f.Add(idx, man, cfg)
	f.Add(docker, man, cfg)
	f.Add([]byte(`{"manifests":[{"digest":"sha256:../../x","mediaType":"application/vnd.oci.image.manifest.v1+json"}]}`), man, cfg)
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("0", 64)+`"},"layers":[{"digest":"md5:x"}]}`), man, cfg)
	f.Add([]byte(strings.Repeat(`{"manifests":[`, 1000)), man, cfg)
	f.Fuzz(func(t *testing.T, top, child, config []byte) {
		c := newRegistryClient(Reference{Registry: "127.0.0.1", Repository: "fuzz/img", Tag: "v1"},
			PullOptions{Client: &http.Client{Transport: memRegistry{top, child, config}}, IdleTimeout: -1})
		p, err := c.resolve(context.Background())
		if err == nil {
			err = p.Check()
		}
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error is not one line: %q", err)
			}
			return
		}
		if sha256Digest(p.ManifestRaw) != p.ManifestDigest || sha256Digest(p.ConfigRaw) != p.ConfigDigest {
			t.Errorf("accepted a manifest or config whose digest does not match its bytes")
		}
		if len(p.Layers) == 0 || len(p.Layers) > overlay.MaxLayers {
			t.Errorf("accepted %d layers", len(p.Layers))
		}
		for _, l := range p.Layers {
			if _, err := overlay.ParseDigest(l.Digest); err != nil {
				t.Errorf("accepted layer digest %q", l.Digest)
			}
			if _, err := overlay.ParseDigest(l.DiffID); err != nil {
				t.Errorf("accepted diff ID %q", l.DiffID)
			}
		}
	})
}
