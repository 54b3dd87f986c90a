// Package overlay turns image layers into an overlayfs: it mounts a stack of
// layer directories with a private upper and work directory, and holds the
// conventions of layer contents that overlay/layer (the unpacker) follows.
//
// Conventions (the OCI image spec's, mapped to overlayfs's):
//   - a tar entry "dir/.wh.NAME" (a whiteout) becomes a character device
//     0/0 at dir/NAME, which overlayfs shows as "NAME does not exist";
//   - "dir/.wh..wh..opq" (an opaque marker) sets trusted.overlay.opaque=y
//     on dir, which hides whatever lower layers have in dir.
//
// It is linked into every podrun start (the container init mounts the
// overlay), so it imports nothing heavy and does no work at init time;
// the decompressors live in overlay/layer.
package overlay

import (
	"fmt"
	"path"
	"strings"
)

const (
	// WhiteoutPrefix marks a deleted file in a layer tar.
	WhiteoutPrefix = ".wh."
	// OpaqueMarker marks a directory whose lower content is hidden.
	OpaqueMarker = ".wh..wh..opq"
	// OpaqueXattr is the xattr overlayfs reads for opaque directories.
	OpaqueXattr = "trusted.overlay.opaque"
)

// EscapeError is returned for a tar entry that would reach outside the
// layer directory.
type EscapeError struct {
	Name   string // the tar entry's name
	Reason string
}

func (e *EscapeError) Error() string {
	return fmt.Sprintf("layer entry %q escapes the layer: %s", e.Name, e.Reason)
}

// CleanEntryPath returns the layer-relative path of a tar entry name
// ("./a/b/" -> "a/b"). Absolute names and names with a ".." component are
// refused: a layer only ever describes paths inside itself. The root
// itself ("." or "./") yields "".
func CleanEntryPath(name string) (string, error) {
	if name == "" {
		return "", &EscapeError{Name: name, Reason: "empty name"}
	}
	if strings.HasPrefix(name, "/") {
		return "", &EscapeError{Name: name, Reason: "absolute path"}
	}
	if strings.ContainsRune(name, 0) {
		return "", &EscapeError{Name: name, Reason: "NUL in name"}
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", &EscapeError{Name: name, Reason: `".." component`}
		}
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	return p, nil
}

// CleanLinkTarget checks a hard link's target the same way: it must name a
// path inside the layer.
func CleanLinkTarget(entry, target string) (string, error) {
	p, err := CleanEntryPath(target)
	if err != nil {
		return "", &EscapeError{Name: entry, Reason: fmt.Sprintf("hard link to %q: %s", target, err.(*EscapeError).Reason)}
	}
	if p == "" {
		return "", &EscapeError{Name: entry, Reason: "hard link to the layer root"}
	}
	return p, nil
}

// WhiteoutKind classifies a cleaned entry path.
type WhiteoutKind int

const (
	NotWhiteout  WhiteoutKind = iota
	Whiteout                  // delete Target
	Opaque                    // make the directory Target opaque
	MetaWhiteout              // another .wh..wh. entry (aufs metadata): ignored
)

// ClassifyWhiteout tells whether the cleaned path p is a whiteout and, if
// so, what it acts on (a layer-relative path, "" for the root).
func ClassifyWhiteout(p string) (WhiteoutKind, string) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == OpaqueMarker:
		return Opaque, dir
	case strings.HasPrefix(base, WhiteoutPrefix+WhiteoutPrefix):
		return MetaWhiteout, ""
	case strings.HasPrefix(base, WhiteoutPrefix):
		name := strings.TrimPrefix(base, WhiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return MetaWhiteout, ""
		}
		return Whiteout, path.Join(dir, name)
	}
	return NotWhiteout, ""
}
