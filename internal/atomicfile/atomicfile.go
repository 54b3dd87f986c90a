// Package atomicfile replaces a file's content so that readers see the old
// or the new bytes, never a part: a temporary file in the same directory,
// renamed over the target.
package atomicfile

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write replaces path with data, mode perm. It does not fsync: after a
// machine crash the file may be empty (the state written on every
// container start, which a crash makes stale anyway).
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// WriteSync is Write with an fsync of the data before the rename, so that
// a machine crash leaves the old or the new content (records that outlive
// a reboot).
func WriteSync(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm os.FileMode, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	// rename(2) itself, not os.Rename: that one stats path first, and the
	// runtime's state is saved several times per container start.
	if err == nil {
		if rerr := unix.Rename(tmp, path); rerr != nil {
			err = &os.LinkError{Op: "rename", Old: tmp, New: path, Err: rerr}
		}
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
