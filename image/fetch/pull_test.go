package fetch

import (
	"strings"
	"testing"

	"github.com/podrun/podrun/image"
)

func TestParseReference(t *testing.T) {
	cases := map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"busybox:1.36":                  "docker.io/library/busybox:1.36",
		"user/app":                      "docker.io/user/app:latest",
		"127.0.0.1:5000/test/img:v1":    "127.0.0.1:5000/test/img:v1",
		"localhost/img":                 "localhost/img:latest",
		"ghcr.io/o/r@sha256:" + hex64(): "ghcr.io/o/r@sha256:" + hex64(),
	}
	for in, want := range cases {
		r, err := ParseReference(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseReference(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
	for _, bad := range []string{"UPPER/case", "x@sha256:short", ""} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) accepted", bad)
		}
	}
	if image.NormalizeName("a:5000/b") != "a:5000/b:latest" || image.NormalizeName("b:v") != "b:v" || image.NormalizeName("b@sha256:x") != "b@sha256:x" {
		t.Error("NormalizeName")
	}
}

func hex64() string { return strings.Repeat("0123456789abcdef", 4) }

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`)
	if s != "Bearer" || p["realm"] != "https://auth.example/token" || p["service"] != "registry.example" || p["scope"] != "repository:a/b:pull,push" {
		t.Errorf("%q %v", s, p)
	}
	if s, p := parseChallenge(`Basic realm=registry`); s != "Basic" || p["realm"] != "registry" {
		t.Errorf("%q %v", s, p)
	}
}
