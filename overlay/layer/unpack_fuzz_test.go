package layer

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/overlay"
)

// fuzzTypes are the tar entry types a fuzzed entry picks from.
var fuzzTypes = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo,
	tar.TypeChar, tar.TypeBlock, tar.TypeXGlobalHeader, 'Z'}

// fuzzEntry is one tar entry as FuzzUnpack's input encodes it: a type
// index, flags (1: an overlay opaque xattr, 2: a user xattr), a 16-bit
// mode, the name and link name (each ended by a NUL), a content length
// byte and the content. "@OUT" in a name or link stands for the absolute
// path of a directory beside the layer's, where nothing may ever appear.
type fuzzEntry struct {
	typ, flags byte
	mode       uint16
	name, link string
	content    string
}

func encodeEntries(es ...fuzzEntry) []byte {
	var b []byte
	for _, e := range es {
		b = append(b, byte(slices.Index(fuzzTypes, e.typ)), e.flags)
		b = binary.BigEndian.AppendUint16(b, e.mode)
		b = append(append(append(b, e.name...), 0), e.link...)
		b = append(b, 0, byte(len(e.content)))
		b = append(b, e.content...)
	}
	return b
}

// fuzzTar builds the tar the input describes; entries the tar writer
// refuses are left out (they cannot reach Unpack through a tar reader
// either).
func fuzzTar(data []byte, outside string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	cut := func() string {
		s, rest, _ := bytes.Cut(data, []byte{0})
		data = rest
		return strings.ReplaceAll(string(s), "@OUT", outside)
	}
	for n := 0; len(data) >= 4 && n < 64; n++ {
		h := &tar.Header{Typeflag: fuzzTypes[int(data[0])%len(fuzzTypes)], Mode: int64(binary.BigEndian.Uint16(data[2:4])),
			ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		flags := data[1]
		data = data[4:]
		h.Name, h.Linkname = cut(), cut()
		var content []byte
		if len(data) > 0 {
			k := min(int(data[0]), len(data)-1)
			content, data = data[1:1+k], data[1+k:]
		}
		if flags&1 != 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr." + overlay.OpaqueXattr: "y"}
		}
		if flags&2 != 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.fuzz": "x"}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(content))
		}
		if tw.WriteHeader(h) != nil {
			return buf.Bytes() // a tar writer stays failed
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(content)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzUnpack unpacks fuzzed layer tars (entry types, modes, names, link
// targets, xattrs) into a directory: Unpack must not panic, and must never
// create, change or link anything outside it, whatever symlinks, hard
// links, "..", absolute names and whiteouts the layer holds. The
// directory beside it ("@OUT" in names and links) must keep exactly its
// one file, unchanged.
func FuzzUnpack(f *testing.F) {
	reg := func(name, content string) fuzzEntry {
		return fuzzEntry{typ: tar.TypeReg, mode: 0o644, name: name, content: content}
	}
	sym := func(name, link string) fuzzEntry {
		return fuzzEntry{typ: tar.TypeSymlink, mode: 0o777, name: name, link: link}
	}
	f.Add(encodeEntries(fuzzEntry{typ: tar.TypeDir, mode: 0o755, name: "d/"}, reg("d/f", "hello"),
		fuzzEntry{typ: tar.TypeLink, name: "d/h", link: "d/f"}, fuzzEntry{typ: tar.TypeFifo, mode: 0o600, name: "p"}))
	f.Add(encodeEntries(sym("l", "../out"), reg("l/x", "escaped")))
	f.Add(encodeEntries(sym("l", "@OUT"), reg("l/x", "escaped"), fuzzEntry{typ: tar.TypeDir, mode: 0o755, name: "l/d/"}))
	f.Add(encodeEntries(sym("l", "@OUT/canary"), reg("l", "replaced")))
	f.Add(encodeEntries(fuzzEntry{typ: tar.TypeLink, name: "h", link: "../out/canary"}, reg("h", "through the link")))
	f.Add(encodeEntries(reg("../out/x", "dotdot"), reg("@OUT/y", "absolute"), reg("/a/../../out/z", "")))
	f.Add(encodeEntries(reg("d/.wh.f", ""), reg("d/.wh..wh..opq", ""), reg(".wh...", ""), reg("d/.wh.", "")))
	f.Add(encodeEntries(fuzzEntry{typ: tar.TypeDir, mode: 0o755, name: "d/", flags: 1}, sym("d", "/"), reg("d/etc", "")))
	f.Add(encodeEntries(fuzzEntry{typ: tar.TypeDir, mode: 0, name: "locked/"}, reg("locked/f", "x"), fuzzEntry{typ: tar.TypeChar, mode: 0o666, name: "null"}))
	base := fuzzDir(f)
	outside := filepath.Join(base, "out")
	canary := filepath.Join(outside, "canary")
	if err := os.Mkdir(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		layer := filepath.Join(base, "layer")
		if err := os.Mkdir(layer, 0o755); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := forceRemove(layer); err != nil {
				t.Fatal(err)
			}
		}()
		Unpack(bytes.NewReader(fuzzTar(data, outside)), layer) // errors are fine, escapes are not
		if got := dirNames(t, base); !slices.Equal(got, []string{"layer", "out"}) {
			t.Fatalf("unpack made %v beside the layer", got)
		}
		if got := dirNames(t, outside); !slices.Equal(got, []string{"canary"}) {
			t.Fatalf("unpack wrote into the directory beside the layer: %v", got)
		}
		b, err := os.ReadFile(canary)
		st, serr := os.Lstat(canary)
		if err != nil || serr != nil || string(b) != "canary" || st.Mode() != 0o644 || nlink(st) != 1 {
			t.Fatalf("the file beside the layer changed: %q %v %v", b, st.Mode(), err)
		}
	})
}

// fuzzDir is a temporary directory on tmpfs (/dev/shm) when there is one:
// on a disk, the files each input makes and removes cost a few ms.
func fuzzDir(f *testing.F) string {
	dir, err := os.MkdirTemp("/dev/shm", "podrun-fuzz-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() { forceRemove(dir) })
	return dir
}

func nlink(fi fs.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Nlink) }

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// forceRemove removes a tree whose directories a layer may have left
// without write or search permission (which stops a non-root RemoveAll).
func forceRemove(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
