package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/overlay"
)

// ErrInUse is returned when removing an image a container uses.
var ErrInUse = errdefs.New(errdefs.ErrFailedPrecondition, "image is in use")

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes the image record even while containers use it; their
	// layers stay until the last such container is deleted.
	Force bool
}

// Remove removes an image by name or ID. A name of an image that has
// other names only loses that name (as docker rmi does). Layers and
// blobs no image or container uses any more are removed.
func (s *Store) Remove(ref string, opts RemoveOptions) (untagged []string, removed *Image, err error) {
	unlock, err := s.exclusive()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	img, err := s.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	byName := false
	for _, n := range img.Names {
		if n == ref || n == NormalizeName(ref) {
			byName = true
			ref = n
		}
	}
	if byName && len(img.Names) > 1 {
		err := s.updateNames(func(m map[string]string) error { delete(m, ref); return nil })
		return []string{ref}, nil, err
	}
	if !opts.Force {
		uses, err := s.uses()
		if err != nil {
			return nil, nil, err
		}
		var users []string
		for _, u := range uses {
			if u.Image == img.ID && !u.stale() {
				users = append(users, u.ID)
			}
		}
		if len(users) > 0 {
			sort.Strings(users)
			return nil, nil, fmt.Errorf("%w: %s is used by container %s (delete it first, or --force)", ErrInUse, img.ShortID(), strings.Join(users, ", "))
		}
	}
	if err := s.removeImage(img); err != nil {
		return nil, nil, err
	}
	return img.Names, img, s.gc()
}

func (s *Store) removeImage(img *Image) error {
	err := s.updateNames(func(m map[string]string) error {
		for n, id := range m {
			if id == img.ID {
				delete(m, n)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	h, _ := overlay.ParseDigest(img.ID)
	if err := os.Remove(s.path("images", h+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// All removes every image no container uses, not only unnamed ones.
	All bool
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Images     []string `json:"images"`
	StaleUses  []string `json:"staleContainers,omitempty"`
	Layers     int      `json:"layers"`
	BytesFreed int64    `json:"bytesFreed"`
}

// Prune removes unnamed images (all unused ones with All) that no
// container uses, the use records of containers whose runtime state is
// gone (with their upper dirs), then unused layers, blobs and leftovers of
// interrupted imports.
func (s *Store) Prune(opts PruneOptions) (*PruneReport, error) {
	unlock, err := s.exclusive()
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &PruneReport{}
	uses, err := s.uses()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, u := range uses {
		if u.stale() {
			if err := s.releaseKey(u.Key); err != nil {
				return nil, err
			}
			rep.StaleUses = append(rep.StaleUses, u.ID)
			continue
		}
		used[u.Image] = true
	}
	imgs, err := s.Images()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		if used[img.ID] || (len(img.Names) > 0 && !opts.All) {
			continue
		}
		if err := s.removeImage(img); err != nil {
			return nil, err
		}
		rep.Images = append(rep.Images, img.ID)
	}
	before := s.layerBytes()
	n, err := s.gcCount()
	rep.Layers = n
	rep.BytesFreed = before - s.layerBytes()
	return rep, err
}

func (s *Store) layerBytes() int64 {
	var total int64
	ents, _ := os.ReadDir(s.path("layers"))
	for _, e := range ents {
		if r, err := s.layerRecord("sha256:" + e.Name()); err == nil {
			total += r.Size
		}
	}
	return total
}

func (s *Store) gc() error {
	_, err := s.gcCount()
	return err
}

// gcCount removes, under the exclusive lock, the layers and blobs that no
// image record or container use references, and everything in tmp/. A
// layer is first renamed into tmp/, so a crash mid-removal never leaves a
// partial layer under layers/.
func (s *Store) gcCount() (int, error) {
	s.cleanTmp(true)
	imgs, err := s.Images()
	if err != nil {
		return 0, err
	}
	uses, err := s.uses()
	if err != nil {
		return 0, err
	}
	layers := map[string]bool{}
	blobs := map[string]bool{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			layers[l] = true
		}
		blobs[img.ID] = true
		if img.Manifest != "" {
			blobs[img.Manifest] = true
		}
	}
	for _, u := range uses {
		for _, l := range u.Layers {
			layers[l] = true
		}
	}
	n := 0
	ents, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		id := "sha256:" + e.Name()
		if layers[id] {
			continue
		}
		os.Remove(s.path("l", linkName(id)))
		tmp, err := s.TempDir("gc")
		if err != nil {
			return n, err
		}
		if err := os.Rename(s.path("layers", e.Name()), filepath.Join(tmp, "layer")); err != nil {
			return n, fmt.Errorf("image store: removing layer %s: %w", id, err)
		}
		if err := os.RemoveAll(tmp); err != nil {
			return n, fmt.Errorf("image store: removing layer %s: %w", id, err)
		}
		n++
	}
	// Links whose layer is gone (a crash between the two removals).
	links, _ := os.ReadDir(s.path("l"))
	for _, l := range links {
		p := s.path("l", l.Name())
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			os.Remove(p)
		}
	}
	bents, err := os.ReadDir(s.path("blobs", "sha256"))
	if err != nil {
		return n, err
	}
	for _, e := range bents {
		if !blobs["sha256:"+e.Name()] {
			os.Remove(s.path("blobs", "sha256", e.Name()))
		}
	}
	return n, nil
}

// Annotations a bundle made by `podrun bundle --image` carries in its
// config.json: `podrun create` of the bundle, a process of its own, reads
// them (RootfsFromAnnotations) to set up the overlay.
const (
	AnnotationStore  = "run.podrun.image.store"
	AnnotationImage  = "run.podrun.image.id"
	AnnotationLayers = "run.podrun.image.layers" // diff IDs, bottom first, comma-separated
	AnnotationName   = "run.podrun.image.name"
)

// Rootfs is the input of a container's image rootfs: the layers of an
// image in an open store. The runtime's create acquires it (Store.Acquire:
// a use record, upper and work dirs) and its delete releases the use.
type Rootfs struct {
	Store  *Store
	Image  string   // image ID
	Layers []string // diff IDs, bottom first
}

// RootfsFromAnnotations returns the image rootfs a bundle's annotations
// (WriteBundle's) name, its store opened, or nil when they name none.
func RootfsFromAnnotations(a map[string]string) (*Rootfs, error) {
	store := a[AnnotationStore]
	if store == "" {
		return nil, nil
	}
	if !filepath.IsAbs(store) {
		return nil, fmt.Errorf("annotation %s: %q is not an absolute path", AnnotationStore, store)
	}
	var layers []string
	for _, l := range strings.Split(a[AnnotationLayers], ",") {
		if _, err := overlay.ParseDigest(l); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", AnnotationLayers, err)
		}
		layers = append(layers, l)
	}
	s, err := Open(store)
	if err != nil {
		return nil, err
	}
	return &Rootfs{Store: s, Image: a[AnnotationImage], Layers: layers}, nil
}

// useKey names a container's directory under containers/: the same
// runtime root and ID always give the same key.
func useKey(root, id string) string {
	sum := sha256.Sum256([]byte(root + "\x00" + id))
	return hex.EncodeToString(sum[:12])
}

// Acquire records that container id (of the runtime whose state root is
// root) uses the given layers of image imageID, makes its empty upper and
// work directories and returns the overlay to mount. Release undoes it.
func (s *Store) Acquire(imageID string, layers []string, root, id string) (*overlay.Mount, *ContainerUse, error) {
	unlock, err := s.shared()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	m := &overlay.Mount{LinkDir: s.Dir}
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		if !s.hasLayer(l) {
			return nil, nil, fmt.Errorf("image layer %s is not in the store %s (was the image removed? import or pull it again)", l, s.Dir)
		}
		dir, _ := s.LayerDir(l)
		if err := s.ensureLink(l); err != nil {
			return nil, nil, err
		}
		m.Lower = append(m.Lower, dir)
		m.Links = append(m.Links, filepath.Join("l", linkName(l)))
	}
	u := &ContainerUse{Store: s.Dir, Key: useKey(root, id), Image: imageID, Layers: layers, Root: root, ID: id, Created: time.Now().UTC()}
	dir := s.path("containers", u.Key)
	if _, err := os.Stat(dir); err == nil {
		// Left by a container of that name whose delete did not finish.
		if err := s.releaseKey(u.Key); err != nil {
			return nil, nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("image store: %w", err)
	}
	data, err := json.MarshalIndent(u, "", "\t")
	if err != nil {
		return nil, nil, err
	}
	if err := atomicfile.WriteSync(filepath.Join(dir, "use.json"), data, 0o600); err != nil {
		return nil, nil, fmt.Errorf("image store: %w", err)
	}
	m.Upper = filepath.Join(dir, "upper")
	m.Work = filepath.Join(dir, "work")
	for _, d := range []string{m.Upper, m.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			s.releaseKey(u.Key)
			return nil, nil, fmt.Errorf("image store: %w", err)
		}
	}
	return m, u, nil
}

// Release removes a container's upper and work directories and its use
// record; its layers become collectable by the next rm or prune. The use
// record goes last, so a crash halfway is finished by a later Release or
// prune.
func Release(u *ContainerUse) error {
	if u == nil {
		return nil
	}
	s := &Store{Dir: u.Store}
	return s.releaseKey(u.Key)
}

func (s *Store) releaseKey(key string) error {
	if key == "" || strings.ContainsAny(key, "/.") {
		return fmt.Errorf("image store: bad container key %q", key)
	}
	dir := s.path("containers", key)
	for _, d := range []string{"upper", "work"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return fmt.Errorf("removing the container's overlay %s dir: %w", d, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the container's overlay dir: %w", err)
	}
	return nil
}
