package image

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/ocispec"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
tester:x:1000:1000:tester:/home/tester:/bin/sh
`

const group = `root:x:0:
tester:x:1000:
extra:x:1001:tester,other
more:x:1002:other,tester
`

func TestResolveUser(t *testing.T) {
	cases := []struct {
		in   string
		want specs.User
	}{
		{"", specs.User{}},
		{"root", specs.User{}},
		{"tester", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001, 1002}}},
		{"1000", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001, 1002}}},
		{"4242", specs.User{UID: 4242}},
		{"tester:extra", specs.User{UID: 1000, GID: 1001}},
		{"tester:77", specs.User{UID: 1000, GID: 77}},
		{"4242:4343", specs.User{UID: 4242, GID: 4343}},
		{"daemon", specs.User{UID: 1, GID: 1}},
	}
	for _, c := range cases {
		got, err := ResolveUser(c.in, []byte(passwd), []byte(group))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ResolveUser(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"nosuch", "tester:nosuchgroup"} {
		if _, err := ResolveUser(bad, []byte(passwd), []byte(group)); err == nil {
			t.Errorf("ResolveUser(%q) succeeded", bad)
		}
	}
	if u, err := ResolveUser("", nil, nil); err != nil || u.UID != 0 {
		t.Errorf("no passwd: %+v %v", u, err)
	}
}

func TestSpecFromImage(t *testing.T) {
	base := &specs.Spec{
		Process:     &specs.Process{Args: []string{"sh"}, Env: []string{"TERM=xterm"}, Cwd: "/"},
		Root:        &specs.Root{Path: "rootfs", Readonly: true},
		Mounts:      []specs.Mount{{Destination: "/proc", Type: "proc"}},
		Annotations: map[string]string{"base": "kept"},
	}
	c := &Config{OS: "linux", Architecture: "amd64", Config: RunConfig{
		User: "tester", Env: []string{"FOO=bar"}, Entrypoint: []string{"/bin/app", "--flag"}, Cmd: []string{"serve"},
		WorkingDir: "/srv/app/", Volumes: map[string]struct{}{"/data": {}, "/cache": {}}, StopSignal: "SIGQUIT",
		Labels: map[string]string{"org.example": "label"},
	}}
	s, err := SpecFromImage(base, c, ImageFiles{Passwd: []byte(passwd), Group: []byte(group)})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"/bin/app", "--flag", "serve"}) {
		t.Errorf("args %q", p.Args)
	}
	if len(p.Env) != 2 || !strings.HasPrefix(p.Env[0], "PATH=") || p.Env[1] != "FOO=bar" {
		t.Errorf("env %q", p.Env)
	}
	if p.Cwd != "/srv/app" || p.User.UID != 1000 || p.User.GID != 1000 || len(p.User.AdditionalGids) != 2 {
		t.Errorf("cwd %q user %+v", p.Cwd, p.User)
	}
	if s.Root.Readonly || s.Root.Path != "rootfs" {
		t.Errorf("root %+v", s.Root)
	}
	if a := s.Annotations; a[ocispec.AnnotationStopSignal] != "SIGQUIT" || a["org.example"] != "label" || a["base"] != "kept" || a["org.opencontainers.image.os"] != "linux" {
		t.Errorf("annotations %v", a)
	}
	if len(s.Mounts) != 3 || s.Mounts[1].Destination != "/cache" || s.Mounts[2].Destination != "/data" || s.Mounts[2].Type != "tmpfs" {
		t.Errorf("mounts %+v", s.Mounts)
	}
	// base is not modified.
	if base.Process.Args[0] != "sh" || !base.Root.Readonly || len(base.Mounts) != 1 || len(base.Annotations) != 1 {
		t.Error("SpecFromImage changed its base")
	}

	// Cmd alone; an image PATH wins; no command is an error.
	c.Config = RunConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/custom"}}
	s, err = SpecFromImage(base, c, ImageFiles{})
	if err != nil || !reflect.DeepEqual(s.Process.Args, []string{"sh"}) || !reflect.DeepEqual(s.Process.Env, []string{"PATH=/custom"}) || s.Process.Cwd != "/" {
		t.Errorf("cmd-only image: %+v %v", s.Process, err)
	}
	c.Config = RunConfig{}
	if _, err := SpecFromImage(base, c, ImageFiles{}); err == nil {
		t.Error("an image without Entrypoint or Cmd gave a spec")
	}
	c.Config = RunConfig{Cmd: []string{"x"}, User: "nosuch"}
	if _, err := SpecFromImage(base, c, ImageFiles{Passwd: []byte(passwd)}); err == nil {
		t.Error("an unknown user gave a spec")
	}
}

func TestHostPlatformMatch(t *testing.T) {
	h := Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	if !h.Matches(nil) || !h.Matches(&Platform{OS: "linux", Architecture: "arm64"}) || h.Matches(&Platform{OS: "linux", Architecture: "amd64"}) ||
		h.Matches(&Platform{OS: "windows", Architecture: "arm64"}) || h.Matches(&Platform{OS: "linux", Architecture: "arm64", Variant: "v7"}) {
		t.Error("platform matching")
	}
}
