package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/overlay"
)

// LayerSource is one layer of an image being imported.
type LayerSource struct {
	// Digest and Size of the blob as stored at the source ("" and -1 when
	// the source does not say: docker-save layers are files).
	Digest string
	Size   int64
	DiffID string
	// Open opens the layer's blob as the source stores it (compressed).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Pending is an image read from a source (package image/fetch: an archive,
// a layout or a registry), before it enters the store.
type Pending struct {
	ManifestDigest string
	ManifestRaw    []byte // nil for a docker-save archive
	ConfigDigest   string
	ConfigRaw      []byte
	Layers         []LayerSource
	Names          []string
	Source         string

	config Config // ConfigRaw decoded, by check
}

// Unpacker writes one layer blob (decompressing it) into dir:
// overlay/layer.Unpack. The store takes it as an argument so that what
// only reads the store (a container's start) does not link the
// decompressors.
type Unpacker func(r io.Reader, dir string) (overlay.Stats, error)

// Check checks the config blob and the layers against each other (and
// fills in the layers' diff IDs); Ingest calls it first.
func (p *Pending) Check() error {
	if got := sha256Digest(p.ConfigRaw); got != p.ConfigDigest {
		return fmt.Errorf("config %s: content has digest %s", p.ConfigDigest, got)
	}
	if err := json.Unmarshal(p.ConfigRaw, &p.config); err != nil {
		return fmt.Errorf("config %s: %w", p.ConfigDigest, err)
	}
	if n, m := len(p.config.RootFS.DiffIDs), len(p.Layers); n != m {
		return fmt.Errorf("image config lists %d layers (rootfs.diff_ids), the manifest %d", n, m)
	}
	if len(p.Layers) == 0 {
		return errors.New("image has no layers")
	}
	if len(p.Layers) > overlay.MaxLayers {
		return fmt.Errorf("image has %d layers, overlayfs takes at most %d", len(p.Layers), overlay.MaxLayers)
	}
	for i := range p.Layers {
		p.Layers[i].DiffID = p.config.RootFS.DiffIDs[i]
		if _, err := overlay.ParseDigest(p.Layers[i].DiffID); err != nil {
			return fmt.Errorf("layer %d: diff ID: %w", i, err)
		}
	}
	if p.config.OS != "" && p.config.OS != "linux" {
		return fmt.Errorf("image is for %s, not linux", p.config.OS)
	}
	return nil
}

// Ingest brings a pending image into the store: missing layers are fetched
// and unpacked (in parallel), then the blobs, the image record and the
// names land. It holds the shared store lock throughout, so gc cannot
// remove a layer between its unpack and the record that uses it.
func (s *Store) Ingest(ctx context.Context, p *Pending, unpack Unpacker) (*Image, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	for _, n := range p.Names {
		if err := validName(n); err != nil {
			return nil, err
		}
	}
	unlock, err := s.shared()
	if err != nil {
		return nil, err
	}
	s.cleanTmp(false)
	img, err := s.ingestLocked(ctx, p, unpack)
	unlock()
	if err != nil {
		// Leave nothing of a failed import: the layers it unpacked are
		// complete but no image uses them. Under the exclusive lock no
		// other import is midway, so gc removes only orphans.
		if unlockEx, lerr := s.exclusive(); lerr == nil {
			_ = s.gc()
			unlockEx()
		}
		return nil, err
	}
	return img, nil
}

func (s *Store) ingestLocked(ctx context.Context, p *Pending, unpack Unpacker) (*Image, error) {
	// Each missing diff ID once (images repeat empty layers).
	var todo []*LayerSource
	seen := map[string]bool{}
	var total int64
	for i := range p.Layers {
		l := &p.Layers[i]
		if seen[l.DiffID] || s.hasLayer(l.DiffID) {
			continue
		}
		seen[l.DiffID] = true
		todo = append(todo, l)
		if l.Size > 0 {
			total += l.Size
		}
	}
	prog := newProgress(s.Progress, total, len(todo))
	defer prog.done()

	par := s.Parallel
	if par <= 0 {
		par = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for _, l := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := s.unpackLayer(ctx, l, prog, unpack); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	if p.ManifestRaw != nil {
		if err := s.putBlob(p.ManifestDigest, p.ManifestRaw); err != nil {
			return nil, err
		}
	}
	if err := s.putBlob(p.ConfigDigest, p.ConfigRaw); err != nil {
		return nil, err
	}
	img := &Image{
		ID: p.ConfigDigest, Manifest: p.ManifestDigest, Platform: Platform{OS: p.config.OS, Architecture: p.config.Architecture, Variant: p.config.Variant},
		Source: p.Source, Imported: time.Now().UTC(),
	}
	for _, l := range p.Layers {
		img.Layers = append(img.Layers, l.DiffID)
		if rec, err := s.layerRecord(l.DiffID); err == nil {
			img.Size += rec.Size
		}
	}
	if old, err := s.readImage(img.ID); err == nil {
		img.Imported = old.Imported
	}
	data, err := json.MarshalIndent(img, "", "\t")
	if err != nil {
		return nil, err
	}
	h, _ := overlay.ParseDigest(img.ID)
	if err := atomicfile.WriteSync(s.path("images", h+".json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if len(p.Names) > 0 {
		err := s.updateNames(func(m map[string]string) error {
			for _, n := range p.Names {
				m[n] = img.ID
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		img.Names = append(img.Names, p.Names...)
	}
	return img, nil
}

func (s *Store) layerRecord(diffID string) (*layerRecord, error) {
	h, err := overlay.ParseDigest(diffID)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.path("layers", h, "layer.json"))
	if err != nil {
		return nil, err
	}
	var r layerRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// verifyingReader hashes and counts what it reads, and fails once more
// than limit bytes come (limit < 0: no limit).
type verifyingReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
	prog  *progress
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.limit >= 0 && int64(len(p)) > v.limit-v.n+1 {
		p = p[:v.limit-v.n+1]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	v.prog.add(int64(n))
	if v.limit >= 0 && v.n > v.limit {
		return n, fmt.Errorf("blob is larger than its descriptor's size %d", v.limit)
	}
	return n, err
}

// unpackLayer fetches and unpacks one layer into tmp/, verifies its
// digest, size and diff ID, and renames it into layers/.
func (s *Store) unpackLayer(ctx context.Context, l *LayerSource, prog *progress, unpack Unpacker) error {
	h, _ := overlay.ParseDigest(l.DiffID)
	tmp, err := s.TempDir("layer")
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	defer os.RemoveAll(tmp)
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return err
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.name(), err)
	}
	defer rc.Close()
	vr := &verifyingReader{r: rc, h: sha256.New(), limit: l.Size, prog: prog}
	if l.Digest == "" {
		vr.limit = -1
	}
	st, err := unpack(vr, diff)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.name(), err)
	}
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return fmt.Errorf("layer %s: %w", l.name(), err)
	}
	if l.Digest != "" {
		if got := digestOf(vr.h); got != l.Digest {
			return fmt.Errorf("layer %s: content has digest %s", l.Digest, got)
		}
		if vr.n != l.Size {
			return fmt.Errorf("layer %s: %d bytes, its descriptor says %d", l.Digest, vr.n, l.Size)
		}
	}
	if st.DiffID != l.DiffID {
		return fmt.Errorf("layer %s: uncompressed content has digest %s, the image config says %s", l.name(), st.DiffID, l.DiffID)
	}
	rec, err := json.Marshal(layerRecord{DiffID: l.DiffID, Digest: l.Digest, Compression: st.Compression, Size: st.Size, Entries: st.Entries, Unpacked: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteSync(filepath.Join(tmp, "layer.json"), rec, 0o600); err != nil {
		return err
	}
	syncDir(tmp)
	dst := s.path("layers", h)
	if err := os.Rename(tmp, dst); err != nil {
		if s.hasLayer(l.DiffID) {
			return nil // another import got there first
		}
		return fmt.Errorf("image store: %w", err)
	}
	syncDir(s.path("layers"))
	return s.ensureLink(l.DiffID)
}

// ensureLink makes l/SHORT -> ../layers/HEX/diff (atomically).
func (s *Store) ensureLink(diffID string) error {
	h, _ := overlay.ParseDigest(diffID)
	link := s.path("l", linkName(diffID))
	want := filepath.Join("..", "layers", h, "diff")
	if got, err := os.Readlink(link); err == nil && got == want {
		return nil
	}
	tmp := link + ".tmp-" + randomHex(4)
	if err := os.Symlink(want, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (l *LayerSource) name() string {
	if l.Digest != "" {
		return l.Digest
	}
	return l.DiffID
}

func digestOf(h hash.Hash) string { return fmt.Sprintf("sha256:%x", h.Sum(nil)) }

// progress prints "importing: 12.3/45.6 MB, 2/5 layers" to a terminal.
type progress struct {
	w      io.Writer
	total  int64
	layers int
	n      atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newProgress(w io.Writer, total int64, layers int) *progress {
	p := &progress{w: w, total: total, layers: layers, stop: make(chan struct{})}
	if w == nil || layers == 0 {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.print()
				fmt.Fprintln(p.w)
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) add(n int64) {
	if p != nil {
		p.n.Add(n)
	}
}

func (p *progress) print() {
	const mb = 1 << 20
	n := p.n.Load()
	bar := ""
	if p.total > 0 {
		const width = 30
		k := int(min(n, p.total) * width / p.total)
		bar = "[" + string(repeat('=', k)) + string(repeat(' ', width-k)) + "] "
	}
	fmt.Fprintf(p.w, "\r%sunpacking %.1f/%.1f MB", bar, float64(n)/mb, float64(p.total)/mb)
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func (p *progress) done() {
	if p.w == nil || p.layers == 0 {
		return
	}
	close(p.stop)
	p.wg.Wait()
}
