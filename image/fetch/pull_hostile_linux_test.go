package fetch

import (
	"archive/tar"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/testimage"
)

// hostileRegistry serves one image, test/img:v1, on 127.0.0.1: its
// manifest, config and one layer, or, through serveManifest and
// serveLayer, a registry misbehaving on purpose.
type hostileRegistry struct {
	manifest []byte
	config   []byte
	layer    []byte // the layer blob, an uncompressed tar
	// serveManifest and serveLayer, when set, answer instead.
	serveManifest func(w http.ResponseWriter, r *http.Request)
	serveLayer    func(w http.ResponseWriter, r *http.Request, blob []byte)
}

// newHostileRegistry makes the image with a 256 KiB file in its layer;
// layerSize, when not 0, is the size the manifest gives the layer.
func newHostileRegistry(t *testing.T, layerSize int64) *hostileRegistry {
	t.Helper()
	layer := testimage.Tar(t, []*tar.Header{{Name: "big", Typeflag: tar.TypeReg}},
		map[string]string{"big": strings.Repeat("podrun", 256<<10/6)})
	h := &hostileRegistry{layer: layer}
	h.manifest, h.config = testimage.OneLayerImage(t, layer, layerSize)
	return h
}

func (h *hostileRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/v2/test/img/manifests/v1":
		if h.serveManifest != nil {
			h.serveManifest(w, r)
			return
		}
		w.Header().Set("Content-Type", ocispec.MediaTypeOCIManifest)
		w.Write(h.manifest)
	case p == "/v2/test/img/blobs/"+sha256Digest(h.config):
		w.Write(h.config)
	case p == "/v2/test/img/blobs/"+sha256Digest(h.layer):
		if h.serveLayer != nil {
			h.serveLayer(w, r, h.layer)
			return
		}
		w.Write(h.layer)
	default:
		http.NotFound(w, r)
	}
}

// dribble writes data in chunks of n bytes, flushed (no Content-Length),
// pausing between them, until it is written or the client goes away.
func dribble(w http.ResponseWriter, r *http.Request, data []byte, n int, pause time.Duration) bool {
	for len(data) > 0 {
		k := min(n, len(data))
		if _, err := w.Write(data[:k]); err != nil {
			return false
		}
		w.(http.Flusher).Flush()
		data = data[k:]
		select {
		case <-r.Context().Done():
			return false
		case <-time.After(pause):
		}
	}
	return true
}

// pullHostile pulls test/img:v1 from h into a fresh store and returns the
// error, which must come (a pull that hangs fails the test after two
// minutes), be one line, and leave nothing in the store.
func pullHostile(t *testing.T, ctx context.Context, h *hostileRegistry, opts PullOptions) error {
	t.Helper()
	s := newStore(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	done := make(chan error, 1)
	go func() {
		_, err := Pull(ctx, s, host+"/test/img:v1", opts)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("pull still running after 2 minutes")
	}
	if err == nil {
		t.Fatal("pull succeeded")
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error is not one line: %q", err)
	}
	for _, d := range []string{"tmp", "blobs/sha256", "layers", "images", "l"} {
		if n := names(t, filepath.Join(s.Dir, d)); len(n) != 0 {
			t.Errorf("%s/ left after a failed pull: %v", d, n)
		}
	}
	return err
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	t.Log(err)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestPullHostileRegistry: each way a registry can stream too much, too
// long or the wrong thing fails the pull, in bounded time, with one line,
// and leaves no partial blob or layer in the store.
func TestPullHostileRegistry(t *testing.T) {
	t.Run("blob streamed forever", func(t *testing.T) {
		// A byte each 10 ms never trips the idle bound and stays under
		// the (claimed) size: only the overall deadline ends it.
		h := newHostileRegistry(t, 1<<40)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, _ []byte) {
			for dribble(w, r, make([]byte, 4096), 1, 10*time.Millisecond) {
			}
		}
		err := pullHostile(t, context.Background(), h, PullOptions{Timeout: time.Second})
		wantErr(t, err, "not done after 1s (pull timeout)")
	})
	t.Run("stall mid-blob", func(t *testing.T) {
		h := newHostileRegistry(t, 0)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, blob []byte) {
			if dribble(w, r, blob[:len(blob)/2], 32<<10, 0) {
				<-r.Context().Done()
			}
		}
		err := pullHostile(t, context.Background(), h, PullOptions{IdleTimeout: 300 * time.Millisecond})
		wantErr(t, err, "the registry sent nothing for 300ms (idle timeout)")
	})
	t.Run("no response headers", func(t *testing.T) {
		h := newHostileRegistry(t, 0)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() }
		err := pullHostile(t, context.Background(), h, PullOptions{IdleTimeout: 300 * time.Millisecond})
		wantErr(t, err, "the registry sent nothing for 300ms (idle timeout)")
	})
	t.Run("more bytes than the descriptor", func(t *testing.T) {
		// The blob, then zeros without end, without a Content-Length:
		// reading stops one byte past the size.
		h := newHostileRegistry(t, 0)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, blob []byte) {
			if dribble(w, r, blob, 64<<10, 0) {
				for dribble(w, r, make([]byte, 64<<10), 64<<10, 0) {
				}
			}
		}
		err := pullHostile(t, context.Background(), h, PullOptions{})
		wantErr(t, err, "blob is larger than its descriptor's size")
	})
	t.Run("Content-Length past the descriptor", func(t *testing.T) {
		h := newHostileRegistry(t, 0)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, blob []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)+1))
			w.Write(append(blob, 0))
		}
		err := pullHostile(t, context.Background(), h, PullOptions{})
		wantErr(t, err, "the registry sends "+strconv.Itoa(len(h.layer)+1)+" bytes, its descriptor says "+strconv.Itoa(len(h.layer)))
	})
	t.Run("wrong digest", func(t *testing.T) {
		h := newHostileRegistry(t, 0)
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, blob []byte) {
			bad := append([]byte(nil), blob...)
			bad[len(bad)/2] ^= 1 // in the file's content: still a valid tar
			w.Write(bad)
		}
		err := pullHostile(t, context.Background(), h, PullOptions{})
		wantErr(t, err, "layer "+sha256Digest(h.layer)+": content has digest sha256:")
	})
	t.Run("huge manifest", func(t *testing.T) {
		h := newHostileRegistry(t, 0)
		h.serveManifest = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ocispec.MediaTypeOCIManifest)
			for dribble(w, r, []byte(strings.Repeat(" ", 1<<20)), 1<<20, 0) {
			}
		}
		err := pullHostile(t, context.Background(), h, PullOptions{})
		wantErr(t, err, "manifest v1: more than the 4194304 bytes allowed")
	})
	t.Run("interrupted mid-blob", func(t *testing.T) {
		// What SIGINT does to `podrun image pull`: its context is
		// cancelled (cmd/podrun's interruptible).
		h := newHostileRegistry(t, 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h.serveLayer = func(w http.ResponseWriter, r *http.Request, blob []byte) {
			if dribble(w, r, blob[:len(blob)/2], 32<<10, 0) {
				cancel()
				<-r.Context().Done()
			}
		}
		err := pullHostile(t, ctx, h, PullOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %q is not context.Canceled", err)
		}
	})
}
