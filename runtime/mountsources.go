package runtime

import (
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/rootfs"
)

// openMountSources makes, as host root and before the init enters its
// user namespace, a detached copy (open_tree OPEN_TREE_CLONE, recursive
// for rbind) of the source of every bind mount of a container with a user
// namespace: from inside, a source that only host root can reach (a 0700
// root-owned directory on the way) is "permission denied". The init
// attaches the copies (runc's mountFds). A path's fd would not do: a bind
// mount from another mount namespace is EINVAL. The result has one entry
// per spec mount, nil where there is nothing to pass; nil for a container
// without a user namespace. A source that cannot be opened gets no entry:
// the init then reports the mount's error as it would have.
func openMountSources(spec *specs.Spec, bundle string) []*os.File {
	if spec.Linux == nil || !namespaces.Has(spec.Linux.Namespaces, specs.UserNamespace) {
		return nil
	}
	var files []*os.File
	for i, m := range spec.Mounts {
		if !rootfs.IsBindMount(m) || m.Source == "" {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
		if slices.Contains(m.Options, "rbind") {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, uint(flags))
		if err != nil {
			continue
		}
		if files == nil {
			files = make([]*os.File, len(spec.Mounts))
		}
		files[i] = os.NewFile(uintptr(fd), src)
	}
	return files
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
