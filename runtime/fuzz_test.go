package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fieldOrFile is how every config error must start: the file, the bundle,
// or the field at fault.
var fieldOrFile = regexp.MustCompile(`^(config\.json|bundle |root\.|process[.:]|linux[.:]|mounts\[|hostname|domainname|hooks|annotations)`)

// FuzzLoadSpec feeds arbitrary bytes as config.json to LoadSpec and the
// create-time validation: neither may panic, and every error is one line
// naming the file or a field.
func FuzzLoadSpec(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/configs/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []func() []byte{
		func() []byte { b, _ := json.Marshal(DefaultSpec()); return b },
		func() []byte { s := DefaultSpec(); ToRootless(s); b, _ := json.Marshal(s); return b },
	} {
		f.Add(s())
	}
	f.Add([]byte(`{"process": {"user": {"uid": "0"}}}`))
	f.Add([]byte(strings.Repeat("[", 20000)))
	dir := f.TempDir()
	r := New(f.TempDir(), nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSpec(dir)
		if err == nil {
			err = r.validateSpec(s)
		}
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("error is not one line: %q", msg)
		}
		if !fieldOrFile.MatchString(msg) {
			t.Errorf("error names neither the file nor a field: %q", msg)
		}
	})
}
