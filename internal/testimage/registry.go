package testimage

import (
	"encoding/json"
	"runtime"
	"testing"

	"github.com/podrun/podrun/internal/ocispec"
)

// OneLayerImage returns the manifest and config of an image for the host's
// platform whose one layer is the uncompressed tar layer, for tests that
// serve an image from a registry of their own. The manifest gives the
// layer layerSize bytes (0: its real size), so a test can claim more.
func OneLayerImage(t testing.TB, layer []byte, layerSize int64) (manifest, config []byte) {
	t.Helper()
	lb := newBlob(layer)
	config, err := json.Marshal(ocispec.Config{OS: "linux", Architecture: runtime.GOARCH,
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []string{lb.digest}}})
	if err != nil {
		t.Fatal(err)
	}
	if layerSize == 0 {
		layerSize = int64(len(layer))
	}
	manifest, err = json.Marshal(ocispec.Manifest{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeOCIConfig, Digest: newBlob(config).digest, Size: int64(len(config))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeOCILayer, Digest: lb.digest, Size: layerSize}}})
	if err != nil {
		t.Fatal(err)
	}
	return manifest, config
}
