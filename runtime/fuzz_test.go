package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fieldOrFile is how every config error must start: the file, the bundle,
// or the field at fault.
var fieldOrFile = regexp.MustCompile(`^(config\.json|bundle |root\.|process[.:]|linux[.:]|mounts\[|hostname|domainname|hooks|annotations)`)

// FuzzLoadSpec feeds arbitrary bytes as config.json to ParseSpec (what
// LoadSpec does once it has read the file) and the create-time validation:
// neither may panic, and every error is one line naming the file or a
// field. It parses bytes, not a file per input: rewriting config.json made
// ext4 flush it on close (auto_da_alloc), a disk write per input.
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
	r := New(f.TempDir(), nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		parseAndValidate(t, r, b)
	})
}

// FuzzSpecFields puts fuzzed strings into the fields where hostile values
// matter (sysctl names, mount destinations, types and options, device
// paths and types, namespace paths, cwd, masked paths) of the default
// spec, round-trips it through config.json's JSON and validates it: no
// panic, and errors are one line naming the file or a field.
func FuzzSpecFields(f *testing.F) {
	f.Add("net.ipv4.ip_forward", "/mnt", "tmpfs", "size=1m", "/dev/x", "c", int64(1), "", "/", "/proc/kcore")
	f.Add("net.//.kernel.core_pattern", "/../../etc", "bind", "rbind", "dev/x", "b", int64(8), "/proc/self/ns/net", "../x", "proc")
	f.Add("kernel/shmmax", "proc", "proc", "tmpcopyup", "/", "p", int64(-1), "/proc/1/ns/net", "", "/sys/\n")
	r := New(f.TempDir(), nil)
	f.Fuzz(func(t *testing.T, sysctl, dest, typ, opt, devPath, devType string, major int64, nsPath, cwd, masked string) {
		s := DefaultSpec()
		s.Process.Terminal = false
		s.Process.Cwd = cwd
		s.Linux.Sysctl = map[string]string{sysctl: "1"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: typ, Source: "src", Options: []string{opt}})
		s.Linux.Devices = []specs.LinuxDevice{{Path: devPath, Type: devType, Major: major}}
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, masked)
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = nsPath
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		parseAndValidate(t, r, b)
	})
}

// parseAndValidate parses and validates a config.json's content: it may
// fail, but only with one line naming the file or a field.
func parseAndValidate(t *testing.T, r *Runtime, b []byte) {
	t.Helper()
	s, err := ParseSpec(b)
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
}
