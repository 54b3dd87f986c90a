package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"

	"github.com/podrun/podrun/overlay"
)

func unpackTar(t *testing.T, hdrs []*tar.Header, data map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	_, err := Unpack(bytes.NewReader(testimage.Tar(t, hdrs, data)), dir)
	return dir, err
}

func TestUnpackEntryTypes(t *testing.T) {
	testutil.RequiresRoot(t)
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	hdrs := []*tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 12, Gid: 34, ModTime: mtime},
		{Name: "d/file", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1000, ModTime: mtime,
			PAXRecords: map[string]string{"SCHILY.xattr.user.podrun": "yes", "SCHILY.xattr.trusted.overlay.redirect": "/evil"}},
		{Name: "d/hard", Typeflag: tar.TypeLink, Linkname: "d/file"},
		{Name: "d/sym", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Uid: 5, Gid: 6},
		{Name: "d/fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
		{Name: "d/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "d/blk", Typeflag: tar.TypeBlock, Mode: 0o600, Devmajor: 7, Devminor: 0},
		{Name: "implicit/parent/file", Typeflag: tar.TypeReg},
		{Name: "gone/.wh.file", Typeflag: tar.TypeReg},
		{Name: "opq/.wh..wh..opq", Typeflag: tar.TypeReg},
		{Name: "opq/kept", Typeflag: tar.TypeReg},
		{Name: "replace", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
		{Name: "replace", Typeflag: tar.TypeReg},
	}
	dir, err := unpackTar(t, hdrs, map[string]string{"d/file": "hello", "opq/kept": "k", "replace": "file now"})
	if err != nil {
		t.Fatal(err)
	}
	st := func(p string) *unix.Stat_t {
		t.Helper()
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &s); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return &s
	}
	if s := st("d"); s.Mode&0o7777 != 0o750 || s.Uid != 12 || s.Gid != 34 || s.Mtim.Sec != mtime.Unix() {
		t.Errorf("d: mode %o uid %d gid %d mtime %d", s.Mode&0o7777, s.Uid, s.Gid, s.Mtim.Sec)
	}
	f := st("d/file")
	if f.Mode&0o7777 != 0o4755 || f.Uid != 1000 || f.Nlink != 2 || f.Mtim.Sec != mtime.Unix() {
		t.Errorf("d/file: mode %o uid %d nlink %d", f.Mode&0o7777, f.Uid, f.Nlink)
	}
	if h := st("d/hard"); h.Ino != f.Ino {
		t.Error("d/hard is not a hard link of d/file")
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "d/file"), "user.podrun", buf); err != nil || string(buf[:n]) != "yes" {
		t.Errorf("user.podrun xattr: %q %v", buf[:max(n, 0)], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(dir, "d/file"), "trusted.overlay.redirect", buf); err == nil {
		t.Error("a trusted.overlay.* xattr from the tar was set")
	}
	if l, err := os.Readlink(filepath.Join(dir, "d/sym")); err != nil || l != "/etc/passwd" {
		t.Errorf("d/sym -> %q %v", l, err)
	}
	if s := st("d/sym"); s.Uid != 5 || s.Gid != 6 {
		t.Errorf("d/sym owner %d:%d", s.Uid, s.Gid)
	}
	if s := st("d/fifo"); s.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Error("d/fifo is not a fifo")
	}
	if s := st("d/null"); s.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(s.Rdev) != 1 || unix.Minor(s.Rdev) != 3 {
		t.Error("d/null is not char 1:3")
	}
	if s := st("d/blk"); s.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(s.Rdev) != 7 {
		t.Error("d/blk is not block 7:0")
	}
	if s := st("gone/file"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Error("whiteout gone/file is not a 0/0 char device")
	}
	if _, err := os.Lstat(filepath.Join(dir, "gone/.wh.file")); err == nil {
		t.Error("the .wh. entry itself was written")
	}
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opq"), overlay.OpaqueXattr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opq: opaque xattr %v", err)
	}
	if s := st("replace"); s.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Error("replace: the symlink was not replaced by the file")
	}
	st("implicit/parent/file")
}

// TestUnpackHostile: every way out of the layer is refused with an
// overlay.EscapeError and nothing is written outside.
func TestUnpackHostile(t *testing.T) {
	testutil.RequiresRoot(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	cases := map[string][]*tar.Header{
		"dotdot":   {{Name: "../../../../../../" + strings.TrimPrefix(victim, "/"), Typeflag: tar.TypeReg}},
		"absolute": {{Name: victim, Typeflag: tar.TypeReg}},
		"through symlink": {
			{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "link/victim", Typeflag: tar.TypeReg},
		},
		"through relative symlink": {
			{Name: "a/", Typeflag: tar.TypeDir},
			{Name: "a/up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../../" + strings.TrimPrefix(outside, "/")},
			{Name: "a/up/victim", Typeflag: tar.TypeReg},
		},
		"whiteout through symlink": {
			{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "link/.wh.victim", Typeflag: tar.TypeReg},
		},
		"opaque through symlink": {
			{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "link/.wh..wh..opq", Typeflag: tar.TypeReg},
		},
		"hard link out":     {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../../../../etc/passwd"}},
		"hard link via sym": {{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, {Name: "h", Typeflag: tar.TypeLink, Linkname: "link/passwd"}},
	}
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := unpackTar(t, hdrs, nil)
			var ee *overlay.EscapeError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an EscapeError", err)
			}
			if !strings.Contains(err.Error(), "escapes the layer") {
				t.Errorf("error %q is not clear", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("written outside the layer: %v", ents)
			}
		})
	}
}

func mkLayer(t *testing.T, files map[string]string, extra ...*tar.Header) string {
	t.Helper()
	var hdrs []*tar.Header
	for n := range files {
		hdrs = append(hdrs, &tar.Header{Name: n, Typeflag: tar.TypeReg})
	}
	hdrs = append(hdrs, extra...)
	dir, err := unpackTar(t, hdrs, files)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func mountAndCheck(t *testing.T, m *overlay.Mount, legacy bool) string {
	t.Helper()
	target := t.TempDir()
	var err error
	if legacy {
		err = m.MountLegacy(target)
	} else {
		err = m.MountAt(target)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return target
}

// TestMountWhiteoutOpaque mounts a real overlay of two unpacked layers.
func TestMountWhiteoutOpaque(t *testing.T) {
	testutil.RequiresRoot(t)
	lower := mkLayer(t, map[string]string{"etc/keep": "k", "etc/deleted": "d", "opq/lower": "l", "opq/sub/lower2": "l2"})
	upper := mkLayer(t, map[string]string{"opq/upper": "u"},
		&tar.Header{Name: "etc/.wh.deleted", Typeflag: tar.TypeReg},
		&tar.Header{Name: "opq/.wh..wh..opq", Typeflag: tar.TypeReg})
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			work := t.TempDir()
			m := &overlay.Mount{Lower: []string{upper, lower}, Upper: filepath.Join(work, "u"), Work: filepath.Join(work, "w")}
			os.Mkdir(m.Upper, 0o755)
			os.Mkdir(m.Work, 0o755)
			root := mountAndCheck(t, m, legacy)
			if _, err := os.Stat(filepath.Join(root, "etc/keep")); err != nil {
				t.Error(err)
			}
			if _, err := os.Lstat(filepath.Join(root, "etc/deleted")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file deleted in the upper layer is visible: %v", err)
			}
			ents, _ := os.ReadDir(filepath.Join(root, "opq"))
			if len(ents) != 1 || ents[0].Name() != "upper" {
				t.Errorf("opaque dir shows %v, want only upper", ents)
			}
			if err := os.WriteFile(filepath.Join(root, "new"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(m.Upper, "new")); err != nil {
				t.Errorf("write did not land in the upper dir: %v", err)
			}
		})
	}
}

// TestMountManyLayers: 150 layers with long paths (over a page of
// mount(2) data) mount with the new API, and with mount(2) through short
// link names.
func TestMountManyLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	const n = 150
	base := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 3))
	linkDir := t.TempDir()
	m := &overlay.Mount{LinkDir: linkDir}
	os.Mkdir(filepath.Join(linkDir, "l"), 0o755)
	for i := n - 1; i >= 0; i-- { // topmost first
		d := filepath.Join(base, fmt.Sprintf("layer-%03d-%s", i, strings.Repeat("x", 40)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d", i)), nil, 0o644)
		os.WriteFile(filepath.Join(d, "top"), []byte(fmt.Sprint(i)), 0o644)
		link := fmt.Sprintf("l/%05d", i)
		if err := os.Symlink(d, filepath.Join(linkDir, link)); err != nil {
			t.Fatal(err)
		}
		m.Lower = append(m.Lower, d)
		m.Links = append(m.Links, link)
	}
	if total := len(strings.Join(m.Lower, ":")); total < os.Getpagesize() {
		t.Fatalf("layer paths are only %d bytes", total)
	}
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			work := t.TempDir()
			m := *m
			m.Upper, m.Work = filepath.Join(work, "u"), filepath.Join(work, "w")
			os.Mkdir(m.Upper, 0o755)
			os.Mkdir(m.Work, 0o755)
			root := mountAndCheck(t, &m, legacy)
			ents, err := os.ReadDir(root)
			if err != nil || len(ents) != n+1 {
				t.Fatalf("%d entries, want %d: %v", len(ents), n+1, err)
			}
			if top, _ := os.ReadFile(filepath.Join(root, "top")); string(top) != fmt.Sprint(n-1) {
				t.Errorf("top file from layer %s, want %d", top, n-1)
			}
		})
	}
}
