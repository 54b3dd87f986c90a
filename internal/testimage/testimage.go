// Package testimage builds the busybox test image that podrun's tests run
// containers from: OCI bundles (rootfs plus config.json) and OCI image
// archives, with the checker binary (testdata/checker) at
// /usr/bin/checker.
//
// The rootfs comes from testdata/mkbundle.sh, run once per test binary
// into a pristine cache; each Bundle is a copy of it, so tests may change
// their bundle freely. It needs Debian's busybox-static at /bin/busybox
// and jq (scripts/install-deps.sh installs both); without them the tests
// that ask for a bundle are skipped when not root.
package testimage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Users and groups of the test rootfs (/etc/passwd, /etc/group).
const (
	TesterUID = 1000 // user tester, home /home/tester
	TesterGID = 1000 // group tester
	ExtraGID  = 1001 // group extra, tester's supplementary group
	DaemonUID = 1
	NobodyUID = 65534
	NogroupID = 65534
)

// CheckerInRootfs is where the checker is in every bundle's rootfs.
const CheckerInRootfs = "/usr/bin/checker"

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error

	checkerOnce sync.Once
	checkerPath string
	checkerErr  error

	rootfsOnce sync.Once
	rootfsDir  string // pristine bundle dir: rootfsDir/rootfs, rootfsDir/config.json
	rootfsErr  error
	rootfsSkip string
)

// RepoRoot returns the root of the podrun module: the first directory up
// from the working directory (a test's package directory) that holds
// podrun's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func repoRoot() (string, error) {
	starts := []string{}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(data, []byte("module github.com/podrun/podrun\n")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("testimage: cannot find the podrun module root (go.mod) above the working directory")
}

// cache returns this test binary's cache directory, removing the ones
// that test binaries no longer running left behind.
func cache() (string, error) {
	cacheOnce.Do(func() {
		base := os.TempDir()
		prefix := fmt.Sprintf("podrun-testimage-%d-", os.Geteuid())
		if old, err := filepath.Glob(filepath.Join(base, prefix+"*")); err == nil {
			for _, d := range old {
				pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
				pid, err := strconv.Atoi(pidStr)
				if err != nil || pid == os.Getpid() {
					continue
				}
				if syscall.Kill(pid, 0) == syscall.ESRCH {
					os.RemoveAll(d)
				}
			}
		}
		cacheDir, cacheErr = os.MkdirTemp(base, fmt.Sprintf("%s%d-", prefix, os.Getpid()))
	})
	return cacheDir, cacheErr
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "bin", "go"), "/usr/local/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// CheckerPath returns the path of a static checker binary built from
// testdata/checker, building it on the first call of the test binary.
// $PODRUN_CHECKER, when set, names a checker built beforehand (e.g. on
// the host, for a test binary run in a VM where `go` is slow and the
// source tree may be changing).
func CheckerPath(t testing.TB) string {
	t.Helper()
	checkerOnce.Do(func() {
		if p := os.Getenv("PODRUN_CHECKER"); p != "" {
			if _, checkerErr = os.Stat(p); checkerErr == nil {
				checkerPath = p
			}
			return
		}
		var root, dir string
		if root, checkerErr = repoRoot(); checkerErr != nil {
			return
		}
		if dir, checkerErr = cache(); checkerErr != nil {
			return
		}
		out := filepath.Join(dir, "checker")
		cmd := exec.Command(goTool(), "build", "-trimpath", "-buildvcs=false", "-o", out, "./testdata/checker")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			checkerErr = fmt.Errorf("testimage: building the checker: %v\n%s", err, msg)
			return
		}
		checkerPath = out
	})
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return checkerPath
}

// pristine returns the cached bundle directory built by mkbundle.sh.
// Nothing may change it.
func pristine(t testing.TB) string {
	t.Helper()
	checker := CheckerPath(t)
	rootfsOnce.Do(func() {
		if _, err := os.Stat("/bin/busybox"); err != nil && os.Geteuid() != 0 {
			rootfsSkip = "testimage: /bin/busybox missing (apt-get install busybox-static, or run scripts/install-deps.sh as root)"
			return
		}
		var root, dir string
		if root, rootfsErr = repoRoot(); rootfsErr != nil {
			return
		}
		if dir, rootfsErr = cache(); rootfsErr != nil {
			return
		}
		bundle := filepath.Join(dir, "pristine")
		cmd := exec.Command("bash", filepath.Join(root, "testdata", "mkbundle.sh"), "--checker", checker, bundle)
		cmd.Stdin = nil
		if msg, err := cmd.CombinedOutput(); err != nil {
			rootfsErr = fmt.Errorf("testimage: testdata/mkbundle.sh: %v\n%s", err, msg)
			return
		}
		rootfsDir = bundle
	})
	if rootfsSkip != "" {
		t.Skip(rootfsSkip)
	}
	if rootfsErr != nil {
		t.Fatal(rootfsErr)
	}
	return rootfsDir
}

// Bundle returns a new bundle directory in t.TempDir(): a private copy of
// the busybox rootfs at rootfs/ and config.json, the default spec of
// `runc spec` with terminal false and process.args set to args (default
// "sh"). The directory is removed when the test ends.
func Bundle(t testing.TB, args ...string) string {
	t.Helper()
	src := pristine(t)
	dst := t.TempDir()
	if err := copyTree(filepath.Join(src, "rootfs"), filepath.Join(dst, "rootfs")); err != nil {
		t.Fatalf("testimage: copying rootfs: %v", err)
	}
	spec := readSpec(t, filepath.Join(src, "config.json"))
	if len(args) > 0 {
		spec.Process.Args = append([]string(nil), args...)
	}
	spec.Process.Terminal = false
	WriteSpec(t, dst, spec)
	return dst
}

// Spec reads bundle/config.json.
func Spec(t testing.TB, bundle string) *specs.Spec {
	t.Helper()
	return readSpec(t, filepath.Join(bundle, "config.json"))
}

func readSpec(t testing.TB, path string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testimage: %v", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("testimage: %s: %v", path, err)
	}
	return &s
}

// WriteSpec writes s to bundle/config.json.
func WriteSpec(t testing.TB, bundle string, s *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatalf("testimage: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatalf("testimage: %v", err)
	}
}

// copyTree copies the directory src to dst (which must not exist) with
// modes, symlinks and, when running as root, ownership.
func copyTree(src, dst string) error {
	asRoot := os.Geteuid() == 0
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch mode := fi.Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := copyFile(path, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported file type %v", path, mode)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && asRoot {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		perm := fi.Mode() & (os.ModePerm | os.ModeSticky | os.ModeSetuid | os.ModeSetgid)
		switch {
		case fi.IsDir():
			// Last, so that a read-only directory can be filled first.
			dirs = append(dirs, dirMode{target, perm})
		case fi.Mode()&os.ModeSymlink == 0:
			// After chown, which clears set-id bits.
			return os.Chmod(target, perm)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
