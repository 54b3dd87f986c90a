package pod

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// libMount is a file a dynamically linked pause binary needs inside the
// infra container's empty root: Dest there, bind-mounted from Source.
type libMount struct{ Dest, Source string }

// maxPauseLibs bounds the dependency walk (podrun needs libc only).
const maxPauseLibs = 32

// pauseLibs lists what the pause binary needs to start in the infra
// container's otherwise empty root. A static podrun (make build) needs
// nothing. A plain `go build` of podrun links libc dynamically: then the
// kernel must find its ELF interpreter (PT_INTERP) in the root, and the
// interpreter the shared libraries (DT_NEEDED, transitively), else the
// pause fails to exec and the pod has no namespaces to join. Each is
// found where the host's loader would look and mounted at the same path.
func pauseLibs(bin string) ([]libMount, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	interp, err := elfInterp(f)
	if err != nil || interp == "" {
		return nil, err
	}
	src, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return nil, fmt.Errorf("ELF interpreter of %s: %w", bin, err)
	}
	mounts := []libMount{{Dest: interp, Source: src}}
	dirs := libDirs(filepath.Dir(src))
	seen := map[string]bool{}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("shared libraries of %s: %w", bin, err)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		if len(seen) > maxPauseLibs {
			return nil, fmt.Errorf("%s needs more than %d shared libraries", bin, maxPauseLibs)
		}
		dest, err := findLib(name, dirs)
		if err != nil {
			return nil, fmt.Errorf("shared library %s of %s: %w", name, bin, err)
		}
		src, err := filepath.EvalSymlinks(dest)
		if err != nil {
			return nil, err
		}
		if src == mounts[0].Source {
			continue // the interpreter itself, by another name
		}
		mounts = append(mounts, libMount{Dest: dest, Source: src})
		lf, err := elf.Open(src)
		if err != nil {
			return nil, err
		}
		more, err := lf.ImportedLibraries()
		lf.Close()
		if err != nil {
			return nil, fmt.Errorf("shared libraries of %s: %w", src, err)
		}
		queue = append(queue, more...)
	}
	return mounts, nil
}

func elfInterp(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, min(p.Filesz, 4096))
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("reading PT_INTERP: %w", err)
		}
		if i := slices.Index(b, 0); i >= 0 {
			b = b[:i]
		}
		if len(b) == 0 || b[0] != '/' {
			return "", fmt.Errorf("PT_INTERP %q is not an absolute path", b)
		}
		return string(b), nil
	}
	return "", nil
}

// libDirs are the directories glibc's loader searches without an
// ld.so.cache: the interpreter's own (the multiarch dir on Debian), then
// the usual system ones.
func libDirs(interpDir string) []string {
	dirs := []string{interpDir}
	for _, d := range []string{"/lib/" + multiarch(interpDir), "/usr/lib/" + multiarch(interpDir), "/lib64", "/usr/lib64", "/lib", "/usr/lib"} {
		if !slices.Contains(dirs, filepath.Clean(d)) {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	return dirs
}

// multiarch is the triplet directory name of interpDir
// (/usr/lib/x86_64-linux-gnu -> x86_64-linux-gnu), or "".
func multiarch(interpDir string) string {
	if b := filepath.Base(interpDir); b != "lib" && b != "lib64" && b != "/" {
		return b
	}
	return ""
}

func findLib(name string, dirs []string) (string, error) {
	if filepath.Base(name) != name {
		return "", errors.New("not a plain file name")
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", dirs)
}

// addPauseLibs bind-mounts what the pause binary bin needs if it is
// dynamically linked (see pauseLibs) read-only into the infra spec s,
// points the loader at their directories and makes the mount targets in
// rootfs (the infra's root is read-only).
func addPauseLibs(s *specs.Spec, rootfs, bin string) error {
	libs, err := pauseLibs(bin)
	if err != nil || len(libs) == 0 {
		return err
	}
	var dirs []string
	for _, l := range libs {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: l.Dest, Type: "bind", Source: l.Source,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
		if d := filepath.Dir(l.Dest); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
		target := filepath.Join(rootfs, l.Dest)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, nil, 0o755); err != nil {
			return err
		}
	}
	s.Process.Env = append(s.Process.Env, "LD_LIBRARY_PATH="+strings.Join(dirs, ":"))
	return nil
}
