package namespaces

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxRootfsFile bounds what the init reads from the container's own files
// (/etc/passwd): they belong to the image, which may make them huge.
const maxRootfsFile = 4 << 20

// readRootfsFile reads a small regular file of the container. A FIFO,
// device (a link to /dev/zero) or oversized file would hang or exhaust
// the init: it is an error instead.
func readRootfsFile(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRootfsFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRootfsFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxRootfsFile)
	}
	return b, nil
}
