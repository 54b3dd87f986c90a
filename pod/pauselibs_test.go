package pod

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A dynamically linked binary gets its interpreter, at the path it names,
// and libc, from files that exist.
func TestPauseLibsDynamic(t *testing.T) {
	bin := "/bin/sh"
	f, err := elf.Open(bin)
	if err != nil {
		t.Skip(err)
	}
	interp, err := elfInterp(f)
	f.Close()
	if err != nil || interp == "" {
		t.Skipf("%s is not dynamically linked (%v)", bin, err)
	}
	libs, err := pauseLibs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) < 2 || libs[0].Dest != interp {
		t.Fatalf("pauseLibs(%s) = %v, want the interpreter %s first and libc", bin, libs, interp)
	}
	var names []string
	for _, l := range libs {
		st, err := os.Stat(l.Source)
		if err != nil || !st.Mode().IsRegular() || !filepath.IsAbs(l.Dest) {
			t.Errorf("%+v: source %v, dest must be absolute", l, err)
		}
		names = append(names, filepath.Base(l.Dest))
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "libc.so") }) {
		t.Errorf("pauseLibs(%s) = %v: no libc", bin, libs)
	}
}

// A static binary needs nothing.
func TestPauseLibsStatic(t *testing.T) {
	bin := "/bin/busybox"
	f, err := elf.Open(bin)
	if err != nil {
		t.Skip(err)
	}
	interp, _ := elfInterp(f)
	f.Close()
	if interp != "" {
		t.Skipf("%s is dynamically linked", bin)
	}
	if libs, err := pauseLibs(bin); err != nil || len(libs) != 0 {
		t.Errorf("pauseLibs(%s) = %v, %v; want nothing", bin, libs, err)
	}
}

func TestPauseLibsNotELF(t *testing.T) {
	f := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := pauseLibs(f); err == nil {
		t.Error("pauseLibs of a script: no error")
	}
}
