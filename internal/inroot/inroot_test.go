package inroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// testRoot is a root dir opened O_PATH, next to a directory outside it
// that holds a marker; the tests point symlinks in the root at it.
func testRoot(t *testing.T) (root *os.File, rootDir, outside string) {
	t.Helper()
	base := t.TempDir()
	rootDir, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{rootDir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, rootDir, outside
}

// where is the path of the object behind f.
func where(t *testing.T, f *os.File) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Symlinks (absolute or relative) and ".." that point out of the root
// resolve inside it, as if the root were "/": never to the directory
// outside.
func TestOpenStaysInRoot(t *testing.T) {
	root, dir, outside := testRoot(t)
	rel, _ := filepath.Rel(dir, outside)
	symlink(t, outside, filepath.Join(dir, "abs"))
	symlink(t, "../../../../../../../.."+outside, filepath.Join(dir, "up"))
	symlink(t, rel, filepath.Join(dir, "rel"))
	symlink(t, "/", filepath.Join(dir, "slash"))
	for _, p := range []string{"abs/marker", "up/marker", "rel/marker", "../outside/marker",
		"slash/../outside/marker", "a/../../outside/marker", "slash" + outside + "/marker"} {
		f, err := Open(root, p)
		if err == nil {
			got := where(t, f)
			f.Close()
			t.Errorf("Open(%q) = %s, want ENOENT (resolved in the root)", p, got)
		} else if !errors.Is(err, unix.ENOENT) {
			t.Errorf("Open(%q): %v, want ENOENT", p, err)
		}
	}
	// What lies in the root at the symlink's target, seen from the root,
	// is what is found.
	if err := os.MkdirAll(filepath.Join(dir, outside), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Open(root, "abs")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := where(t, f), filepath.Join(dir, outside); got != want {
		t.Errorf("Open(abs) = %s, want %s", got, want)
	}
}

// Magic links (/proc/self/cwd and the like) are refused.
func TestOpenRefusesMagicLinks(t *testing.T) {
	proc, err := os.OpenFile("/proc/self", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	for _, p := range []string{"cwd", "root", "root/etc", "exe"} {
		f, err := Open(proc, p)
		if err == nil {
			t.Errorf("Open(/proc/self, %q) = %s, want ELOOP or EXDEV", p, where(t, f))
			f.Close()
		} else if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EXDEV) {
			t.Errorf("Open(/proc/self, %q): %v, want ELOOP or EXDEV", p, err)
		}
	}
}

// Missing directories are created with exactly the mode asked, whatever
// the umask; existing ones keep theirs.
func TestMkdirAllMode(t *testing.T) {
	root, dir, _ := testRoot(t)
	if err := os.Mkdir(filepath.Join(dir, "a"), 0o750); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	f, err := MkdirAll(root, "a/b/./c/", 0o777)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := where(t, f), filepath.Join(dir, "a/b/c"); got != want {
		t.Errorf("handle at %s, want %s", got, want)
	}
	for p, want := range map[string]os.FileMode{"a": 0o750, "a/b": 0o777, "a/b/c": 0o777} {
		st, err := os.Lstat(filepath.Join(dir, p))
		if err != nil || !st.IsDir() || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want a directory of mode %v", p, st.Mode(), err, want)
		}
	}
	// Again: nothing to create, the same directory.
	g, err := MkdirAll(root, "a/b/c", 0o700)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if st, _ := os.Stat(filepath.Join(dir, "a/b/c")); st.Mode().Perm() != 0o777 {
		t.Errorf("a/b/c: mode %v after a second MkdirAll, want 0777 kept", st.Mode())
	}
}

// A symlink among the existing components resolves inside the root and the
// missing rest is created there; a symlink where a directory is to be made
// (dangling in the root, or swapped in after mkdirat) fails the walk and
// nothing is created outside.
func TestMkdirAllSymlinks(t *testing.T) {
	root, dir, outside := testRoot(t)
	symlink(t, "/", filepath.Join(dir, "slash"))
	f, err := MkdirAll(root, "slash/tmp/x", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, err := os.Stat(filepath.Join(dir, "tmp/x")); err != nil || !st.IsDir() {
		t.Errorf("slash/tmp/x not created in the root: %v", err)
	}
	symlink(t, outside, filepath.Join(dir, "abs"))
	if f, err := MkdirAll(root, "abs/new", 0o755); err == nil {
		t.Errorf("MkdirAll through a symlink dangling in the root = %s, want an error", where(t, f))
		f.Close()
	} else if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("MkdirAll(abs/new): %v, want ELOOP", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
		t.Fatalf("MkdirAll created a directory outside the root")
	}
	// mkdirAt itself, on a name that is a symlink: refused, never followed.
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if f, err := mkdirAt(d, "abs", 0o777); err == nil {
		t.Errorf("mkdirAt on a symlink opened %s", where(t, f))
		f.Close()
	}
	if st, _ := os.Stat(outside); st.Mode().Perm() != 0o755 {
		t.Errorf("the directory outside was chmod'ed to %v", st.Mode())
	}
}

// A file where a directory is wanted, and paths that are not relative or
// go up, are errors.
func TestMkdirAllRefuses(t *testing.T) {
	root, dir, _ := testRoot(t)
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"file", "file/sub", "/abs", "a/../b", ".."} {
		if f, err := MkdirAll(root, p, 0o755); err == nil {
			t.Errorf("MkdirAll(%q) = %s, want an error", p, where(t, f))
			f.Close()
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "a")); err == nil {
		t.Errorf("MkdirAll(a/../b) created a")
	}
}

// rootFd is root's fd, for the raw-fd API.
func rootFd(root *os.File) int { return int(root.Fd()) }

// whereFd is where for a raw fd, which it closes.
func whereFd(t *testing.T, fd int) string {
	t.Helper()
	defer unix.Close(fd)
	p, err := os.Readlink(ProcFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Create resolves as OpenFd does (absolute symlinks and ".." stay in the
// root) and makes the missing rest there: directories, or a file last.
// Dangling symlinks (absolute, relative, chained, last or not) are
// followed inside the root and their targets made.
func TestCreateStaysInRoot(t *testing.T) {
	root, dir, outside := testRoot(t)
	symlink(t, outside, filepath.Join(dir, "abs"))                        // dangling in the root
	symlink(t, "../../../../.."+outside+"/rel", filepath.Join(dir, "up")) // dangling, relative
	symlink(t, "/chain2/x", filepath.Join(dir, "chain1"))
	symlink(t, "abs", filepath.Join(dir, "chain2"))
	symlink(t, "/", filepath.Join(dir, "slash"))
	for _, tc := range []struct {
		p    string
		kind Kind
		want string // where it lands, relative to the root
	}{
		{"a/b/c", Dir, "a/b/c"},
		{"../../../d", Dir, "d"},
		{"a/../../../e/f", File, "e/f"},
		{"slash/../../g", Dir, "g"},
		{"abs/sub", Dir, outside[1:] + "/sub"},
		{"abs", Dir, outside[1:]},
		{"up/file", File, outside[1:] + "/rel/file"},
		{"chain1/y", Dir, outside[1:] + "/x/y"},
	} {
		fd, err := Create(rootFd(root), tc.p, tc.kind, nil)
		if err != nil {
			t.Errorf("Create(%q): %v", tc.p, err)
			continue
		}
		if got, want := whereFd(t, fd), filepath.Join(dir, tc.want); got != want {
			t.Errorf("Create(%q) = %s, want %s", tc.p, got, want)
		}
		st, err := os.Lstat(filepath.Join(dir, tc.want))
		if err != nil || st.IsDir() != (tc.kind == Dir) {
			t.Errorf("Create(%q): %s is %v (%v), want kind %d", tc.p, tc.want, st.Mode(), err, tc.kind)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("something was created outside the root: %v", ents)
	}
	// An existing path is opened as it is, whatever the kind asked.
	fd, err := Create(rootFd(root), "e/f", Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := whereFd(t, fd), filepath.Join(dir, "e/f"); got != want {
		t.Errorf("Create(existing e/f) = %s, want %s", got, want)
	}
}

// Symlink loops, a file in the way and magic links are errors, and
// nothing is made.
func TestCreateRefuses(t *testing.T) {
	root, dir, _ := testRoot(t)
	symlink(t, "loop2", filepath.Join(dir, "loop1"))
	symlink(t, "loop1/x", filepath.Join(dir, "loop2"))
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]error{"loop1/a": unix.ELOOP, "loop2": unix.ELOOP, "file/a": unix.ENOTDIR} {
		if fd, err := Create(rootFd(root), p, Dir, nil); err == nil {
			t.Errorf("Create(%q) = %s, want %v", p, whereFd(t, fd), want)
		} else if !errors.Is(err, want) {
			t.Errorf("Create(%q): %v, want %v", p, err, want)
		}
	}
	proc, err := os.OpenFile("/proc/self", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	for _, p := range []string{"cwd/new", "root/etc/new", "fd/0"} {
		if fd, err := Create(rootFd(proc), p, File, nil); err == nil {
			t.Errorf("Create(/proc/self, %q) = %s, want ELOOP", p, whereFd(t, fd))
		} else if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EXDEV) {
			t.Errorf("Create(/proc/self, %q): %v, want ELOOP", p, err)
		}
	}
	// allow refuses: nothing is made.
	no := errors.New("no")
	if _, err := Create(rootFd(root), "n/m", Dir, func(int, string) error { return no }); !errors.Is(err, no) {
		t.Errorf("Create with a refusing allow: %v, want its error", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "n")); err == nil {
		t.Errorf("Create made n although allow refused")
	}
}

// A symlink aimed out of the root swapped in just before a component is
// made (the allow hook runs at that point) is followed inside the root,
// never out of it.
func TestCreateRace(t *testing.T) {
	root, dir, outside := testRoot(t)
	for _, kind := range []Kind{Dir, File} {
		name := fmt.Sprintf("swap%d", kind)
		swapped := false
		allow := func(dirfd int, n string) error {
			if n == name && !swapped {
				swapped = true
				if err := unix.Symlinkat(outside+"/"+name, dirfd, n); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		}
		fd, err := Create(rootFd(root), name+"/x", kind, allow)
		if err != nil {
			t.Fatalf("Create(%s/x): %v", name, err)
		}
		if got, want := whereFd(t, fd), filepath.Join(dir, outside, name, "x"); got != want {
			t.Errorf("Create(%s/x) after the swap = %s, want %s", name, got, want)
		}
		if !swapped {
			t.Errorf("allow was not asked for %s", name)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("something was created outside the root: %v", ents)
	}
}

// Parent follows a symlink in the last component (dangling too) inside
// the root, creates the directories on the way, and returns the directory
// and name where the final object is to be made.
func TestParent(t *testing.T) {
	root, dir, outside := testRoot(t)
	symlink(t, outside+"/node", filepath.Join(dir, "dangling"))
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../../../dangling", filepath.Join(dir, "dev", "null"))
	for p, want := range map[string][2]string{
		"dev/null": {filepath.Join(dir, outside), "node"},
		"a/b":      {filepath.Join(dir, "a"), "b"},
		"dev/..":   {dir, "."},
	} {
		fd, name, err := Parent(rootFd(root), p)
		if err != nil {
			t.Errorf("Parent(%q): %v", p, err)
			continue
		}
		if got := whereFd(t, fd); got != want[0] || name != want[1] {
			t.Errorf("Parent(%q) = %s, %q; want %s, %q", p, got, name, want[0], want[1])
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("something was created outside the root: %v", ents)
	}
}
