// Package image is podrun's image store: OCI and Docker images kept
// content-addressed under a state directory, with layers unpacked once and
// shared by every image and container that has them; the containers' use
// of layers (Acquire, Release) and the bundles made from images. Images
// enter it through package image/fetch (import and pull), which holds the
// archive readers, the registry client and the decompressors, so that a
// container's start, which only reads the store, links none of them.
//
// The OCI types are package ocispec's (written out, not image-spec's, for
// start-up cost).
package image

import (
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
