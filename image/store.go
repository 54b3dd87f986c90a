package image

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/rootonly"
	"github.com/podrun/podrun/overlay"
)

// DefaultDir is the store's default location.
const DefaultDir = "/var/lib/podrun"

// Store is an image store rooted at Dir:
//
//	lock                    flock: shared while importing or acquiring,
//	                        exclusive while removing (rm, prune, gc)
//	meta.lock               flock held briefly around names.json updates
//	names.json              image names ("busybox:latest") -> image ID
//	blobs/sha256/HEX        manifests and configs, verified by digest
//	layers/HEX/diff         an unpacked layer, HEX its diff ID
//	layers/HEX/layer.json   its record (size, compression, digest)
//	l/SHORT -> ../layers/HEX/diff   short names for mount(2) data
//	images/HEX.json         an image record, HEX the config digest (the ID)
//	containers/KEY/         a container's use of layers (use.json) and its
//	                        overlay upper/ and work/ directories
//	tmp/                    staging; everything lands by rename(2)
//
// Anything visible outside tmp/ is complete: a blob is written to tmp,
// verified and renamed; a layer is unpacked into tmp and renamed; an image
// record is written last. An interrupted import leaves only tmp/ entries
// (removed by the next exclusive holder) and complete layers that the next
// import reuses or gc removes.
type Store struct {
	Dir string
	// Progress, when set, gets a one-line progress display (the CLI sets
	// it to a terminal).
	Progress io.Writer
	// Parallel is how many layers unpack at once (default: 4).
	Parallel int
}

// Open returns the store at dir, creating its directories.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{Dir: abs}
	// Root only, all the way: a layer's or an upper dir's setuid files and
	// device nodes, and any dir an image made 0777, must be out of reach
	// of the host's other users (moby's CVE-2021-41091). Only root mounts
	// the overlays (the runtime or the init before it drops privileges),
	// so nothing else needs to reach in. An older store's 0711 top and
	// layers/, l/, containers/ are fixed up here.
	if err := rootonly.Dir(abs); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{"blobs/sha256", "layers", "l", "images", "containers", "tmp"} {
		if err := rootonly.Dir(filepath.Join(abs, d)); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return s, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// lock takes the store lock (shared or exclusive) and returns its release.
func (s *Store) lock(name string, how int) (func(), error) {
	f, err := os.OpenFile(s.path(name), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("image store: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func (s *Store) shared() (func(), error)    { return s.lock("lock", unix.LOCK_SH) }
func (s *Store) exclusive() (func(), error) { return s.lock("lock", unix.LOCK_EX) }
func (s *Store) meta() (func(), error)      { return s.lock("meta.lock", unix.LOCK_EX) }

// TempDir makes a fresh directory under the store's tmp/ (cleaned up by
// the next import or gc if its maker dies).
func (s *Store) TempDir(prefix string) (string, error) {
	return os.MkdirTemp(s.path("tmp"), fmt.Sprintf("%s-%d-", prefix, os.Getpid()))
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// putBlob stores a small blob (manifest, config, index) after checking it
// against its digest.
func (s *Store) putBlob(digest string, data []byte) error {
	h, err := overlay.ParseDigest(digest)
	if err != nil {
		return err
	}
	if got := sha256Digest(data); got != digest {
		return fmt.Errorf("blob %s: content has digest %s", digest, got)
	}
	p := s.path("blobs", "sha256", h)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return atomicfile.WriteSync(p, data, 0o644)
}

// Blob returns a stored blob.
func (s *Store) Blob(digest string) ([]byte, error) {
	h, err := overlay.ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(s.path("blobs", "sha256", h))
}

// Image is an image record.
type Image struct {
	// ID is the digest of the image's config.
	ID string `json:"id"`
	// Manifest is the digest of its manifest ("" for docker-save archives,
	// which have none).
	Manifest string `json:"manifest,omitempty"`
	// Layers are the layers' diff IDs, bottom first.
	Layers   []string  `json:"layers"`
	Platform Platform  `json:"platform"`
	Size     int64     `json:"size"`
	Source   string    `json:"source,omitempty"`
	Imported time.Time `json:"imported"`
	// Names is filled from names.json when read.
	Names []string `json:"names,omitempty"`
}

// ShortID is the first 12 hex digits of the ID.
func (i *Image) ShortID() string {
	h := strings.TrimPrefix(i.ID, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func (s *Store) readNames() (map[string]string, error) {
	data, err := os.ReadFile(s.path("names.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("image store: names.json: %w", err)
	}
	return m, nil
}

func (s *Store) writeNames(m map[string]string) error {
	data, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(s.path("names.json"), data, 0o600)
}

// updateNames applies f to names.json under the meta lock.
func (s *Store) updateNames(f func(map[string]string) error) error {
	unlock, err := s.meta()
	if err != nil {
		return err
	}
	defer unlock()
	m, err := s.readNames()
	if err != nil {
		return err
	}
	if err := f(m); err != nil {
		return err
	}
	return s.writeNames(m)
}

// NormalizeName adds ":latest" to a name without tag or digest.
func NormalizeName(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") {
		return name + ":latest"
	}
	return name
}

func validName(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\n\x00") || strings.HasPrefix(name, "sha256:") {
		return fmt.Errorf("invalid image name %q", name)
	}
	return nil
}

func (s *Store) readImage(id string) (*Image, error) {
	h, err := overlay.ParseDigest(id)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.path("images", h+".json"))
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(data, &img); err != nil {
		return nil, fmt.Errorf("image store: image %s: %w", id, err)
	}
	return &img, nil
}

// Images lists the images, with their names, sorted by name then ID.
func (s *Store) Images() ([]*Image, error) {
	ents, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, err
	}
	names, err := s.readNames()
	if err != nil {
		return nil, err
	}
	byID := map[string]*Image{}
	var out []*Image
	for _, e := range ents {
		h, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(h, ".") {
			continue
		}
		img, err := s.readImage("sha256:" + h)
		if err != nil {
			continue // removed meanwhile
		}
		byID[img.ID] = img
		out = append(out, img)
	}
	for n, id := range names {
		if img := byID[id]; img != nil {
			img.Names = append(img.Names, n)
		}
	}
	for _, img := range out {
		sort.Strings(img.Names)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := "", ""
		if len(out[i].Names) > 0 {
			a = out[i].Names[0]
		}
		if len(out[j].Names) > 0 {
			b = out[j].Names[0]
		}
		if (a == "") != (b == "") {
			return a != ""
		}
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ErrImageNotFound is returned when a name or ID matches no image.
var ErrImageNotFound = errdefs.New(errdefs.ErrNotFound, "image not found")

// Lookup finds an image by name (":latest" implied), full ID, or a unique
// ID prefix of at least 4 hex digits.
func (s *Store) Lookup(ref string) (*Image, error) {
	imgs, err := s.Images()
	if err != nil {
		return nil, err
	}
	for _, cand := range []string{ref, NormalizeName(ref)} {
		for _, img := range imgs {
			for _, n := range img.Names {
				if n == cand {
					return img, nil
				}
			}
		}
	}
	h := strings.TrimPrefix(ref, "sha256:")
	if len(h) >= 4 && strings.Trim(h, "0123456789abcdef") == "" {
		var found *Image
		for _, img := range imgs {
			if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), h) {
				if found != nil {
					return nil, fmt.Errorf("image ID prefix %q is ambiguous", ref)
				}
				found = img
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrImageNotFound, ref)
}

// Config returns an image's configuration.
func (s *Store) Config(img *Image) (*Config, error) {
	data, err := s.Blob(img.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ShortID(), err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ShortID(), err)
	}
	return &c, nil
}

// LayerDir is where the layer with diff ID diffID is unpacked.
func (s *Store) LayerDir(diffID string) (string, error) {
	h, err := overlay.ParseDigest(diffID)
	if err != nil {
		return "", err
	}
	return s.path("layers", h, "diff"), nil
}

// hasLayer reports whether a layer is unpacked and complete.
func (s *Store) hasLayer(diffID string) bool {
	h, err := overlay.ParseDigest(diffID)
	if err != nil {
		return false
	}
	_, err = os.Stat(s.path("layers", h, "layer.json"))
	return err == nil
}

// linkName is the short name of a layer under l/: 10 hex digits derived
// from the diff ID, so "l/0123456789:" is 13 bytes per layer in mount(2)
// data (about 300 layers fit in a page).
func linkName(diffID string) string {
	sum := sha256.Sum256([]byte("podrun-layer-link:" + diffID))
	return hex.EncodeToString(sum[:5])
}

// layerRecord is layers/HEX/layer.json.
type layerRecord struct {
	DiffID      string              `json:"diffID"`
	Digest      string              `json:"digest,omitempty"`
	Compression overlay.Compression `json:"compression"`
	Size        int64               `json:"size"`
	Entries     int                 `json:"entries"`
	Unpacked    time.Time           `json:"unpacked"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ContainerUse records that a container's overlay uses an image's layers.
// It lives at containers/KEY/use.json, next to the upper and work dirs.
type ContainerUse struct {
	Store  string   `json:"store"`
	Key    string   `json:"key"`
	Image  string   `json:"image"`
	Layers []string `json:"layers"`
	// Root and ID are the runtime's state root and the container ID: a use
	// whose Root/ID directory is gone is stale (its runtime state was
	// lost) and prune removes it.
	Root    string    `json:"root"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (s *Store) uses() ([]*ContainerUse, error) {
	ents, err := os.ReadDir(s.path("containers"))
	if err != nil {
		return nil, err
	}
	var out []*ContainerUse
	for _, e := range ents {
		data, err := os.ReadFile(s.path("containers", e.Name(), "use.json"))
		if err != nil {
			continue
		}
		var u ContainerUse
		if json.Unmarshal(data, &u) == nil {
			out = append(out, &u)
		}
	}
	return out, nil
}

func (u *ContainerUse) stale() bool {
	if u.Root == "" || u.ID == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(u.Root, u.ID))
	return errors.Is(err, os.ErrNotExist)
}

func pidAlive(pid int) bool {
	return pid > 0 && unix.Kill(pid, 0) != unix.ESRCH
}

// cleanTmp removes staging entries of processes that are gone. Under the
// exclusive lock no import runs, so everything there is dead.
func (s *Store) cleanTmp(all bool) {
	ents, _ := os.ReadDir(s.path("tmp"))
	for _, e := range ents {
		if !all {
			parts := strings.SplitN(e.Name(), "-", 3)
			if len(parts) == 3 {
				if pid, err := strconv.Atoi(parts[1]); err == nil && pidAlive(pid) {
					continue
				}
			}
		}
		os.RemoveAll(s.path("tmp", e.Name()))
	}
}
