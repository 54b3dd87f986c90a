package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The mirrors have every member of specs.Spec and specs.Linux, in order,
// with the same JSON name and options, and the same type unless raw (then
// decodeSpec decodes the member into its own type): a member specs-go adds
// fails here instead of being dropped by decodeSpec.
func TestSpecMirrors(t *testing.T) {
	raw := reflect.TypeFor[rawParts]()
	for _, pair := range [][2]reflect.Type{
		{reflect.TypeFor[specs.Spec](), reflect.TypeFor[specTop]()},
		{reflect.TypeFor[specs.Linux](), reflect.TypeFor[specLinux]()},
	} {
		want, got := pair[0], pair[1]
		if want.NumField() != got.NumField() {
			t.Errorf("%v has %d fields, %v %d", want, want.NumField(), got, got.NumField())
			continue
		}
		for i := range want.NumField() {
			w, g := want.Field(i), got.Field(i)
			if w.Name != g.Name || w.Tag.Get("json") != g.Tag.Get("json") {
				t.Errorf("%v field %d: %s %q, mirror has %s %q", want, i, w.Name, w.Tag.Get("json"), g.Name, g.Tag.Get("json"))
			}
			if g.Type != w.Type && g.Type != raw {
				t.Errorf("%v.%s: mirror type %v, want %v or raw", want, w.Name, g.Type, w.Type)
			}
		}
	}
}

// decodeSpec gives what json.Unmarshal into a specs.Spec gives.
func TestDecodeSpecAsUnmarshal(t *testing.T) {
	docs := []string{
		`{}`, `null`,
		`{"ociVersion":"1.0.2","process":null,"linux":null,"mounts":null,"hooks":null}`,
		`{"process":{"args":["sh"],"user":{"uid":1}},"linux":{"resources":{"memory":{"limit":1}},"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},"timeOffsets":{"monotonic":{"secs":1}},"netDevices":{"eth0":{"name":"x"}},"personality":{"domain":"LINUX"},"intelRdt":{"closID":"a"},"memoryPolicy":{"mode":"MPOL_BIND"}}}`,
		`{"Process":{"Args":["x"]},"LINUX":{"Namespaces":[{"type":"pid"}]}}`, // keys match in any case
		`{"windows":{"layerFolders":["a"]},"vm":{"kernel":{"path":"k"}},"solaris":{"milestone":"m"},"zos":{"namespaces":[{"type":"pid"}]}}`,
		`{"annotations":{"a":"b"},"hostname":"h","domainname":"d","root":{"path":"rootfs","readonly":true}}`,
		`{"mounts":[{"destination":"/x","type":"tmpfs"}],"hooks":{"prestart":[{"path":"/bin/true"}]}}`,
		// A repeated key merges into what the first one gave.
		`{"process":{"args":["a"],"cwd":"/x"},"PROCESS":{"cwd":"/"},"process":null,"process":{"env":["A=1"]}}`,
		`{"linux":{"resources":{"memory":{"limit":1}}},"linux":{"resources":{"pids":{"limit":2}},"sysctl":{"a":"b"}},"Linux":{"sysctl":{"c":"d"}}}`,
		`{"linux":{"namespaces":[{"type":"pid"}],"seccomp":{"defaultAction":"x"}},"linux":null,"linux":{"maskedPaths":["/x"]}}`,
		`{"mounts":[{"destination":"/a","type":"tmpfs","options":["ro"]}],"mounts":[{"destination":"/b"}],"annotations":{"a":"1"},"annotations":{"b":"2"}}`,
	}
	configs, _ := filepath.Glob("testdata/configs/*.json")
	for _, p := range configs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	def, _ := json.Marshal(DefaultSpec())
	docs = append(docs, string(def))
	for _, d := range docs {
		sameAsUnmarshal(t, []byte(d))
	}
}

// Type errors name the field as a decode of the whole document does.
func TestDecodeSpecErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"process":{"user":{"uid":"0"}}}`:               `field "process.user.uid": cannot use a JSON string as uint32`,
		`{"linux":{"resources":{"pids":{"limit":"x"}}}}`: `field "linux.resources.pids.limit": cannot use a JSON string as int64`,
		`{"linux":{"namespaces":"pid"}}`:                 `field "linux.namespaces": cannot use a JSON string as []specs.LinuxNamespace`,
		`{"mounts":{}}`:                                  `field "mounts": cannot use a JSON object as []specs.Mount`,
		`{"linux":{"seccomp":[]}}`:                       `field "linux.seccomp": cannot use a JSON array as specs.LinuxSeccomp`,
		`{"ociVersion":1}`:                               `field "ociVersion": cannot use a JSON number as string`,
	} {
		_, err := decodeSpec([]byte(doc))
		if err == nil || jsonErrorText(err) != want {
			t.Errorf("%s: %v, want %s", doc, err, want)
		}
		var s specs.Spec
		if full := json.Unmarshal([]byte(doc), &s); full == nil || jsonErrorText(full) != want {
			t.Errorf("%s: json.Unmarshal says %v (the test's want is wrong)", doc, full)
		}
	}
}

// FuzzDecodeSpec: for any input, decodeSpec and json.Unmarshal into a
// specs.Spec both fail, or both give the same spec.
func FuzzDecodeSpec(f *testing.F) {
	configs, _ := filepath.Glob("testdata/configs/*.json")
	for _, p := range configs {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"linux":{"resources":{"cpu":{"shares":1}},"seccomp":null},"process":{"rlimits":[{"type":"RLIMIT_NOFILE"}]}}`))
	f.Add([]byte(strings.Repeat("{", 50)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		sameAsUnmarshal(t, b)
	})
}

func sameAsUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	var want specs.Spec
	wantErr := json.Unmarshal(b, &want)
	got, err := decodeSpec(b)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%.200s: decodeSpec error %v, json.Unmarshal %v", b, err, wantErr)
	case err != nil:
		// json.Unmarshal reports the first type error in document
		// order, decodeSpec in member order: both are type errors.
		var te1, te2 *json.UnmarshalTypeError
		if isType(err, &te1) != isType(wantErr, &te2) {
			t.Fatalf("%.200s: decodeSpec error %v, json.Unmarshal %v", b, err, wantErr)
		}
	case !reflect.DeepEqual(*got, want):
		t.Fatalf("%.200s:\ndecodeSpec   %+v\njson.Unmarshal %+v", b, *got, want)
	}
}

func isType(err error, te **json.UnmarshalTypeError) bool {
	return errors.As(err, te)
}
