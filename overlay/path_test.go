package overlay

import (
	"bytes"
	"errors"
	"testing"
)

func TestCleanEntryPath(t *testing.T) {
	ok := map[string]string{
		"a":       "a",
		"./a/b/":  "a/b",
		"a//b/./": "a/b",
		".":       "",
		"./":      "",
		"a/.b..":  "a/.b..",
		"..a/b":   "..a/b",
	}
	for in, want := range ok {
		got, err := CleanEntryPath(in)
		if err != nil || got != want {
			t.Errorf("CleanEntryPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/..", "./a/../b", "a\x00b"} {
		_, err := CleanEntryPath(bad)
		var ee *EscapeError
		if !errors.As(err, &ee) {
			t.Errorf("CleanEntryPath(%q): %v, want an EscapeError", bad, err)
		}
	}
	if _, err := CleanLinkTarget("x", "../../etc/shadow"); err == nil {
		t.Error("hard link out of the layer accepted")
	}
	if _, err := CleanLinkTarget("x", "/etc/shadow"); err == nil {
		t.Error("absolute hard link accepted")
	}
	if p, err := CleanLinkTarget("x", "./bin/busybox"); err != nil || p != "bin/busybox" {
		t.Errorf("CleanLinkTarget: %q, %v", p, err)
	}
}

func TestClassifyWhiteout(t *testing.T) {
	cases := []struct {
		in     string
		kind   WhiteoutKind
		target string
	}{
		{"etc/passwd", NotWhiteout, ""},
		{"etc/.wh.passwd", Whiteout, "etc/passwd"},
		{".wh.top", Whiteout, "top"},
		{"var/lib/.wh..wh..opq", Opaque, "var/lib"},
		{".wh..wh..opq", Opaque, ""},
		{"a/.wh..wh.plnk", MetaWhiteout, ""},
		{"a/.wh.", MetaWhiteout, ""},
		{"a/.wh..", MetaWhiteout, ""},
		{"a/x.wh.y", NotWhiteout, ""},
	}
	for _, c := range cases {
		k, tg := ClassifyWhiteout(c.in)
		if k != c.kind || tg != c.target {
			t.Errorf("ClassifyWhiteout(%q) = %v %q, want %v %q", c.in, k, tg, c.kind, c.target)
		}
	}
}

func TestParseDigest(t *testing.T) {
	good := "sha256:" + string(bytes.Repeat([]byte("ab"), 32))
	if h, err := ParseDigest(good); err != nil || len(h) != 64 {
		t.Errorf("ParseDigest(good): %q %v", h, err)
	}
	for _, bad := range []string{"", "sha256:", "sha512:" + good[7:], "sha256:" + good[8:], "sha256:" + string(bytes.Repeat([]byte("AB"), 32)), "sha256:../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
}
