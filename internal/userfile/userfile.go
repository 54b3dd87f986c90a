// Package userfile reads the files users hand to podrun (a Pod manifest,
// config.json, exec --process, update --resources) with the limits that
// keep hostile input from hanging or exhausting the process: a size cap, a
// regular file or stdin only (a FIFO, device or directory is refused
// without blocking), and a nesting-depth check run before any decoder
// recurses into the data.
package userfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// MaxSize bounds a file: real manifests and configs are a few KiB, tens with
// a big seccomp profile.
const MaxSize = 4 << 20

// MaxDepth bounds the nesting of JSON objects and arrays. A Pod manifest or
// an OCI config nests about 10 deep; decoders recurse (and the manifest
// parser builds a field path) per level.
const MaxDepth = 100

// Errors, returned (ErrNotRegular wrapped) by Read and CheckDepth; their
// text names the limit.
var (
	ErrTooLarge   = fmt.Errorf("larger than %d MiB", MaxSize>>20)
	ErrNotRegular = errors.New("not a regular file")
	ErrTooDeep    = fmt.Errorf("nested more than %d levels deep", MaxDepth)
)

// Read returns the content of path, or of stdin when path is "-" (a
// command's "-f -"); see ReadFile.
func Read(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return readCapped(stdin)
	}
	return ReadFile(path)
}

// ReadFile returns the content of path, at most MaxSize bytes. path must
// name a regular file: it is opened non-blocking and checked with fstat
// before any read, so a FIFO (whose open or read would block) or a device
// such as /dev/zero (which never ends) is refused at once. Errors are one
// line, name the limit and not the path (callers say which file it is):
// ErrTooLarge, ErrNotRegular, or the open's errno (errors.Is(err,
// fs.ErrNotExist) holds for a missing file).
func ReadFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w (%s)", ErrNotRegular, typeName(st.Mode))
	}
	if st.Size > MaxSize {
		return nil, ErrTooLarge
	}
	return readCapped(f)
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, ErrTooLarge
	}
	return b, nil
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "a special file"
}

// CheckDepth reports whether the JSON text nests objects and arrays more
// than MaxDepth deep. It scans bytes once, counting brackets outside
// strings, and allocates nothing, so it is safe on any input up to
// MaxSize; malformed JSON is left for the decoder to report.
func CheckDepth(data []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > MaxDepth {
				return ErrTooDeep
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
