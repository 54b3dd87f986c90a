package overlay

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Compression of a layer stream, as found by its magic bytes.
type Compression string

const (
	Uncompressed Compression = "tar"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

// Stats describes an unpacked layer (overlay/layer.Unpack's result, kept
// in the image store's layer records).
type Stats struct {
	// DiffID is the digest ("sha256:...") of the uncompressed tar stream.
	DiffID      string
	Compression Compression
	// Size is the uncompressed tar size; Entries the number of tar entries.
	Size    int64
	Entries int
}

// ParseDigest splits "sha256:<64 hex>" and checks its form.
func ParseDigest(d string) (hexPart string, err error) {
	algo, h, ok := strings.Cut(d, ":")
	if !ok || algo != "sha256" || len(h) != 64 {
		return "", fmt.Errorf("unsupported or malformed digest %q (want sha256:<64 hex digits>)", d)
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return "", fmt.Errorf("malformed digest %q", d)
	}
	return h, nil
}
