package manifest

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const minimalPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, uid: %s}\nspec:\n  containers: [{name: a, image: busybox}]\n"

func mustParse(t *testing.T, yaml string) *Pod {
	t.Helper()
	p, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// The uid is the API server's to assign (podrun's here): one given in the
// manifest, another pod's or a hostile one, is dropped and listed as
// ignored, and every parse of the same manifest gets a new UUID.
func TestManifestUIDIsIgnored(t *testing.T) {
	seen := map[string]bool{}
	for _, uid := range []string{`"6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e8d17"`, `"6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e8d17"`, `"x;y"`, `"../../etc"`, `""`} {
		p := mustParse(t, strings.Replace(minimalPod, "%s", uid, 1))
		if !ValidUID(p.Metadata.UID) || p.Metadata.UID[14] != '4' || seen[p.Metadata.UID] {
			t.Errorf("uid %s: got %q, want a new UUID v4", uid, p.Metadata.UID)
		}
		seen[p.Metadata.UID] = true
		if !slices.Contains(p.Ignored(), "metadata.uid") {
			t.Errorf("uid %s: not listed as ignored: %v", uid, p.Ignored())
		}
	}
	p := mustParse(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: busybox}]\n")
	if slices.Contains(p.Ignored(), "metadata.uid") {
		t.Errorf("no uid given, yet listed as ignored")
	}
}

// Through the Go API (no Parse), a uid is kept only if it is a canonical
// UUID: it becomes a path, a cgroup and a CNI argument.
func TestValidateUID(t *testing.T) {
	p := mustParse(t, strings.Replace(minimalPod, "%s", `""`, 1))
	for uid, ok := range map[string]bool{
		"6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e8d17":   true,
		"6B0C3A2E-7D1F-4E59-9A61-0C4B2F3E8D17":   false,
		"6b0c3a2e7d1f4e599a610c4b2f3e8d17":       false,
		"x;y":                                    false,
		"../6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e":    false,
		"6b0c3a2e-7d1f-4e59-9a61-0c4b2f3e8d17\n": false,
	} {
		p.Metadata.UID = uid
		err := p.Validate()
		if (err == nil) != ok || (err != nil && (!strings.HasPrefix(err.Error(), "metadata.uid: ") || !errors.Is(err, ErrInvalid))) {
			t.Errorf("uid %q: %v", uid, err)
		}
	}
}

// Every name that becomes a path, a cgroup, an OCI id, a CNI argument, an
// environment variable or a log file is validated, each with one line
// naming its field.
func TestHostileNames(t *testing.T) {
	hostile := []string{"a;b", "../x", "a/b", "UPPER", "", strings.Repeat("a", 254), "a b", "a\nb", "-a", "a_b"}
	fields := []struct {
		path string
		set  func(*Pod, string)
		ok   func(string) bool // which hostile values are valid here
	}{
		{"metadata.name", func(p *Pod, s string) { p.Metadata.Name = s }, nil},
		{"metadata.namespace", func(p *Pod, s string) { p.Metadata.Namespace = s }, func(s string) bool { return s == "" }},
		{"spec.hostname", func(p *Pod, s string) { p.Spec.Hostname = s }, func(s string) bool { return s == "" }},
		{"spec.subdomain", func(p *Pod, s string) { p.Spec.Subdomain = s }, func(s string) bool { return s == "" }},
		{"spec.containers[0].name", func(p *Pod, s string) { p.Spec.Containers[0].Name = s }, nil},
		{"spec.initContainers[0].name", func(p *Pod, s string) { p.Spec.InitContainers[0].Name = s }, nil},
		{"spec.volumes[0].name", func(p *Pod, s string) {
			p.Spec.Volumes[0].Name = s
			p.Spec.Containers[0].VolumeMounts[0].Name = s
		}, nil},
		{"spec.containers[0].ports[0].name", func(p *Pod, s string) { p.Spec.Containers[0].Ports[0].Name = s }, func(s string) bool { return s == "" }},
		{"spec.containers[0].env[0].name", func(p *Pod, s string) { p.Spec.Containers[0].Env[0].Name = s },
			// Kubernetes' relaxed rule: printable ASCII other than '='.
			func(s string) bool { return s != "" && !strings.ContainsAny(s, "\n") }},
	}
	const base = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes: [{name: v, emptyDir: {}}]
  initContainers: [{name: i, image: busybox}]
  containers:
  - {name: a, image: busybox, env: [{name: E, value: x}], ports: [{name: web, containerPort: 80}], volumeMounts: [{name: v, mountPath: /v}]}
`
	for _, f := range fields {
		for _, s := range hostile {
			p := mustParse(t, base)
			f.set(p, s)
			err := p.Validate()
			if f.ok != nil && f.ok(s) {
				if err != nil {
					t.Errorf("%s = %q: %v", f.path, s, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s = %q accepted", f.path, s)
				continue
			}
			if !strings.HasPrefix(err.Error(), f.path+": ") || strings.Contains(err.Error(), "\n") || !errors.Is(err, ErrInvalid) {
				t.Errorf("%s = %q: error %q, want one line starting with the field", f.path, s, err)
			}
		}
	}
	p := mustParse(t, base)
	p.Spec.Containers[0].Env[0].Name = "A=B"
	if err := p.Validate(); err == nil || !strings.HasPrefix(err.Error(), "spec.containers[0].env[0].name: ") {
		t.Errorf("env name with '=': %v", err)
	}
}

// Hostile input sizes and depths fail in Parse with one line naming the
// limit, before a parser recurses into them.
func TestParseRefusesDeepAndLargeInput(t *testing.T) {
	const n = 200000
	for name, c := range map[string]struct{ data, want string }{
		"deep JSON": {`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + "}}", "manifest nested more than 100 levels deep"},
		"deep YAML": {"apiVersion: v1\nkind: Pod\nmetadata:\n  labels: " + strings.Repeat("[", n) + "\n", "manifest nested more than 100 levels deep"},
		// block nesting: cheap for the YAML parser, checked on its JSON
		"deep block YAML": {"apiVersion: v1\nkind: Pod\nmetadata:\n" + deepBlock(150), "manifest nested more than 100 levels deep"},
		"large":           {"apiVersion: v1\nkind: Pod\n#" + strings.Repeat("x", 4<<20), "manifest larger than 4 MiB"},
	} {
		_, err := Parse([]byte(c.data))
		if err == nil || err.Error() != c.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func deepBlock(d int) string {
	var b strings.Builder
	for i := 1; i <= d; i++ {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}
