package pod

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileProjection is one file of a configMap, secret, downwardAPI or
// projected volume: its content and mode.
type fileProjection struct {
	Data []byte
	Mode int32
}

// The names kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go)
// gives a volume's current version and its replacement symlink.
const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// writeAtomic writes payload (relative path → file) into dir as kubelet's
// AtomicWriter does, so a container sees either the old or the new set of
// files, never a mix: the files go into a new timestamped directory
// (..2006_01_02_15_04_05.NNN), the ..data symlink is pointed at it by a
// rename, and each top-level entry the user sees is a symlink through
// ..data (key -> ..data/key). The previous version and entries no longer
// in the payload are removed afterwards. An unchanged payload writes
// nothing.
func writeAtomic(dir string, payload map[string]fileProjection, now time.Time) error {
	if err := validatePayload(payload); err != nil {
		return err
	}
	oldTs, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if oldTs != "" {
		if same, err := samePayload(filepath.Join(dir, oldTs), payload); err != nil {
			return err
		} else if same {
			return nil
		}
	}
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(payload)) {
		f := payload[p]
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(f.Mode) & os.ModePerm
		if err := os.WriteFile(full, f.Data, mode); err != nil {
			return err
		}
		if err := os.Chmod(full, mode); err != nil { // past the umask
			return err
		}
	}
	tmp := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDirName)); err != nil {
		return err
	}
	visible := map[string]bool{}
	for p := range payload {
		top, _, _ := strings.Cut(p, "/")
		visible[top] = true
	}
	for top := range visible {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirName, top), link); err != nil {
			return err
		}
	}
	if oldTs != "" {
		if err := os.RemoveAll(filepath.Join(dir, oldTs)); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "..") && !visible[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// validatePayload checks every path, and that no file's path is the
// directory of another's ("a" and "a/b"), which could not both be written.
func validatePayload(payload map[string]fileProjection) error {
	for p := range payload {
		if err := validatePayloadPath(p); err != nil {
			return err
		}
		for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
			if _, ok := payload[d]; ok {
				return fmt.Errorf("payload path %q is a file and the directory of %q", d, p)
			}
		}
	}
	return nil
}

// validatePayloadPath is AtomicWriter's validatePath: relative, no ".."
// element, not starting with "..", at most 4096 bytes and 255 per element.
func validatePayloadPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path in the payload")
	case len(p) > 4096:
		return fmt.Errorf("payload path %.40q...: longer than 4096 bytes", p)
	case filepath.IsAbs(p):
		return fmt.Errorf("payload path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("payload path %q: must not start with '..'", p)
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return fmt.Errorf("payload path %q: must not contain '..'", p)
		}
		if len(e) > 255 {
			return fmt.Errorf("payload path %.40q...: an element is longer than 255 bytes", p)
		}
	}
	return nil
}

// samePayload reports whether the version at ts holds exactly payload.
func samePayload(ts string, payload map[string]fileProjection) (bool, error) {
	n := 0
	err := filepath.WalkDir(ts, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		return nil
	})
	if err != nil || n != len(payload) {
		return false, err
	}
	for p, f := range payload {
		full := filepath.Join(ts, p)
		st, err := os.Lstat(full)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != os.FileMode(f.Mode)&os.ModePerm {
			return false, nil
		}
		data, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(data, f.Data) {
			return false, nil
		}
	}
	return true, nil
}
