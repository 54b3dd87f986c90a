// Package layer unpacks image layer tars (gzip, zstd or plain) into
// directories following overlayfs's conventions for deletions (see package
// overlay). It holds the decompressors, so only image import and pull link
// it; the container start path imports just overlay.
package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/overlay"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns the uncompressed stream of a layer: gzip and zstd are
// recognised by their magic bytes, anything else is taken as a tar. Close
// the returned reader when done.
func Decompress(r io.Reader) (io.ReadCloser, overlay.Compression, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, "", err
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		return zr, overlay.Gzip, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, "", fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, overlay.Zstd, nil
	}
	return io.NopCloser(br), overlay.Uncompressed, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// Unpack reads a layer tar (gzip, zstd or plain) from r and writes it into
// dir, which must exist and should be empty, mapping whiteouts to
// overlayfs's conventions and preserving modes, owners, times, xattrs,
// hard links, symlinks, devices and fifos. An entry that would escape dir
// (absolute or ".." names, hard links out of the layer, writing through a
// symlink) stops the unpack with an *overlay.EscapeError; the caller removes dir
// (the store unpacks into a temporary directory and renames it only on
// success). Owners are kept only when running as root.
func Unpack(r io.Reader, dir string) (overlay.Stats, error) {
	zr, comp, err := Decompress(r)
	if err != nil {
		return overlay.Stats{}, err
	}
	defer zr.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(zr, h)}
	u, err := newUnpacker(dir)
	if err != nil {
		return overlay.Stats{}, err
	}
	defer u.close()
	tr := tar.NewReader(cr)
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return overlay.Stats{}, fmt.Errorf("reading layer tar: %w", err)
		}
		n++
		if err := u.entry(hdr, tr); err != nil {
			return overlay.Stats{}, err
		}
	}
	if err := u.finish(); err != nil {
		return overlay.Stats{}, err
	}
	// The diff ID covers the whole stream, padding included.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return overlay.Stats{}, fmt.Errorf("reading layer tar: %w", err)
	}
	return overlay.Stats{DiffID: digestOf(h), Compression: comp, Size: cr.n, Entries: n}, nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type dirTimes struct {
	path         string
	atime, mtime time.Time
}

type unpacker struct {
	root   int // O_PATH fd of the layer directory
	asRoot bool
	// The last parent directory opened, tar entries come grouped by
	// directory.
	cacheDir string
	cacheFd  int
	dirs     []dirTimes
	buf      []byte
}

func newUnpacker(dir string) (*unpacker, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &unpacker{root: fd, asRoot: os.Geteuid() == 0, cacheFd: -1, buf: make([]byte, 1<<20)}, nil
}

func (u *unpacker) close() {
	if u.cacheFd >= 0 {
		unix.Close(u.cacheFd)
		u.cacheFd = -1
	}
	unix.Close(u.root)
}

// openDir opens the layer-relative directory p ("" is the root) without
// following any symlink, creating missing directories (0755, root-owned)
// when create is set. The fd belongs to the caller unless it is u.cacheFd.
func (u *unpacker) openDir(entry, p string, create bool) (int, error) {
	fd, err := unix.Dup(u.root)
	if err != nil {
		return -1, err
	}
	if p == "" {
		return fd, nil
	}
	walked := ""
	for _, c := range strings.Split(p, "/") {
		walked = path.Join(walked, c)
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || err == unix.EEXIST {
				next, err = unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		if err == unix.ENOTDIR || err == unix.ELOOP {
			var st unix.Stat_t
			if unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = &overlay.EscapeError{Name: entry, Reason: fmt.Sprintf("path goes through the symlink %q", walked)}
			} else {
				err = fmt.Errorf("layer entry %q: %q is not a directory", entry, walked)
			}
		}
		unix.Close(fd)
		if err != nil {
			var ee *overlay.EscapeError
			if errors.As(err, &ee) {
				return -1, err
			}
			return -1, fmt.Errorf("layer entry %q: opening %q: %w", entry, walked, err)
		}
		fd = next
	}
	return fd, nil
}

// parent returns the (cached) fd of p's parent directory and p's base name.
func (u *unpacker) parent(entry, p string) (int, string, error) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if u.cacheFd >= 0 && u.cacheDir == dir {
		return u.cacheFd, base, nil
	}
	fd, err := u.openDir(entry, dir, true)
	if err != nil {
		return -1, "", err
	}
	if u.cacheFd >= 0 {
		unix.Close(u.cacheFd)
	}
	u.cacheDir, u.cacheFd = dir, fd
	return fd, base, nil
}

// dropCache forgets the cached parent when p is it or lies under it: the
// directory is about to be replaced.
func (u *unpacker) dropCache(p string) {
	if u.cacheFd >= 0 && (u.cacheDir == p || strings.HasPrefix(u.cacheDir, p+"/")) {
		unix.Close(u.cacheFd)
		u.cacheFd = -1
		u.cacheDir = ""
	}
}

// removeExisting removes what is at parent/base unless keepDir and it is
// a directory. It reports whether a directory was kept.
func (u *unpacker) removeExisting(pfd int, p, base string, keepDir bool) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false, unix.Unlinkat(pfd, base, 0)
	}
	if keepDir {
		return true, nil
	}
	u.dropCache(p)
	return false, os.RemoveAll(fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base))
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	p, err := overlay.CleanEntryPath(hdr.Name)
	if err != nil {
		return err
	}
	if p == "" {
		// The layer root: only its metadata.
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("layer entry %q: the layer root is not a directory", hdr.Name)
		}
		return u.meta(u.root, "", ".", hdr, true)
	}
	switch kind, target := overlay.ClassifyWhiteout(p); kind {
	case overlay.MetaWhiteout:
		return nil
	case overlay.Whiteout:
		pfd, base, err := u.parent(hdr.Name, target)
		if err != nil {
			return err
		}
		if _, err := u.removeExisting(pfd, target, base, false); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := unix.Mknodat(pfd, base, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("layer entry %q: creating whiteout %q: %w", hdr.Name, target, err)
		}
		return nil
	case overlay.Opaque:
		if target == "" {
			return nil // nothing lies below a layer's root to hide
		}
		fd, err := u.openDir(hdr.Name, target, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Setxattr(fmt.Sprintf("/proc/self/fd/%d", fd), overlay.OpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("layer entry %q: marking %q opaque: %w", hdr.Name, target, err)
		}
		return nil
	}

	pfd, base, err := u.parent(hdr.Name, p)
	if err != nil {
		return err
	}
	kept, err := u.removeExisting(pfd, p, base, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return fmt.Errorf("layer entry %q: replacing: %w", hdr.Name, err)
	}
	perm := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !kept {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
		}
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		f := os.NewFile(uintptr(fd), p)
		_, err = io.CopyBuffer(onlyWriter{f}, r, u.buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		target, err := overlay.CleanLinkTarget(hdr.Name, hdr.Linkname)
		if err != nil {
			return err
		}
		tdir, tbase := path.Split(target)
		tfd, err := u.openDir(hdr.Name, strings.TrimSuffix(tdir, "/"), false)
		if err != nil {
			return err
		}
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("layer entry %q: hard link to %q: %w", hdr.Name, hdr.Linkname, err)
		}
		return nil // a hard link shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := unix.Mknodat(pfd, base, mode|perm, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("layer entry %q: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
	}
	return u.meta(pfd, p, base, hdr, hdr.Typeflag == tar.TypeDir)
}

// onlyWriter hides os.File's ReadFrom, so CopyBuffer uses our buffer
// rather than falling back to small reads.
type onlyWriter struct{ io.Writer }

// meta applies owner, mode, xattrs and times to dirfd/base.
func (u *unpacker) meta(dirfd int, p, base string, hdr *tar.Header, isDir bool) error {
	isLink := hdr.Typeflag == tar.TypeSymlink
	if u.asRoot {
		if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("layer entry %q: chown: %w", hdr.Name, err)
		}
	}
	if !isLink {
		// After chown, which clears the set-id bits.
		if err := unix.Fchmodat(dirfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("layer entry %q: chmod: %w", hdr.Name, err)
		}
	}
	if err := u.xattrs(dirfd, base, hdr); err != nil {
		return err
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if isDir {
		// Later entries change a directory's mtime: set it at the end.
		u.dirs = append(u.dirs, dirTimes{path: p, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	return setTimes(dirfd, base, atime, hdr.ModTime)
}

func setTimes(dirfd int, base string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %q: %w", base, err)
	}
	return nil
}

const xattrPrefix = "SCHILY.xattr."

func (u *unpacker) xattrs(dirfd int, base string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		// overlayfs's own xattrs (opaque, redirect, origin, metacopy) in a
		// layer would let an image steer the overlay mount: they come only
		// from whiteout entries.
		if strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		p := fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
		if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
			if !u.asRoot && (err == unix.EPERM || err == unix.ENOTSUP) {
				continue
			}
			return fmt.Errorf("layer entry %q: xattr %s: %w", hdr.Name, name, err)
		}
	}
	return nil
}

func (u *unpacker) finish() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		var fd int
		var base string
		var err error
		if d.path == "" {
			fd, base = u.root, "."
		} else if fd, base, err = u.parent(d.path, d.path); err != nil {
			return err
		}
		if err := setTimes(fd, base, d.atime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}
