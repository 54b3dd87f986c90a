// Package image is podrun's image store: OCI and Docker images imported
// from archives or pulled from a registry, kept content-addressed under a
// state directory, with layers unpacked once (package overlay) and shared
// by every image and container that has them.
//
// The OCI types are package ocispec's (written out, not image-spec's, for
// start-up cost).
package image

import (
	"encoding/json"
	"runtime"

	"github.com/podrun/podrun/internal/ocispec"
)

// The OCI types of package ocispec, under the names the store's callers
// use.
type (
	Descriptor = ocispec.Descriptor
	Platform   = ocispec.Platform
	Index      = ocispec.Index
	Manifest   = ocispec.Manifest
	Config     = ocispec.Config
	RunConfig  = ocispec.RunConfig
	RootFS     = ocispec.RootFS
	History    = ocispec.History
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
func HostPlatform() Platform {
	p := Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}
