// Package fetch brings images into the store of package image: Import
// reads an OCI layout, an OCI archive or a docker-save archive, Pull an
// OCI distribution registry; both unpack the layers with overlay/layer.
// Only the image commands link it (podrun-pod), not the start path.
package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/ocispec"
)

func isIndex(mediaType string, raw []byte) bool {
	switch mediaType {
	case ocispec.MediaTypeOCIIndex, ocispec.MediaTypeDockerList:
		return true
	case ocispec.MediaTypeOCIManifest, ocispec.MediaTypeDockerManifest:
		return false
	}
	// No media type: an index has "manifests", a manifest "config".
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	if probe.MediaType != "" {
		return probe.MediaType == ocispec.MediaTypeOCIIndex || probe.MediaType == ocispec.MediaTypeDockerList
	}
	return probe.Manifests != nil
}

// HostPlatform is the platform images are chosen for.
func HostPlatform() image.Platform {
	p := image.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
