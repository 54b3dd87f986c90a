package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/testimage"
)

// stallingRegistry serves test/img:v1 on 127.0.0.1 whose one layer stops
// halfway: the handler sends half the blob, says so on halfway, and waits
// for the client to go.
func stallingRegistry(t *testing.T) (host string, halfway chan struct{}) {
	t.Helper()
	digest := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	layer := testimage.Tar(t, []*tar.Header{{Name: "big", Typeflag: tar.TypeReg}},
		map[string]string{"big": strings.Repeat("podrun", 256<<10/6)})
	man, cfg := testimage.OneLayerImage(t, layer, 0)
	halfway = make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/test/img/manifests/v1":
			w.Header().Set("Content-Type", ocispec.MediaTypeOCIManifest)
			w.Write(man)
		case "/v2/test/img/blobs/" + digest(cfg):
			w.Write(cfg)
		case "/v2/test/img/blobs/" + digest(layer):
			w.Write(layer[:len(layer)/2])
			w.(http.Flusher).Flush()
			halfway <- struct{}{}
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), halfway
}

// assertEmptyStore fails unless the store holds no blob, layer, image or
// staging entry.
func assertEmptyStore(t *testing.T, store string) {
	t.Helper()
	for _, d := range []string{"tmp", "blobs/sha256", "layers", "images"} {
		if ents, _ := os.ReadDir(filepath.Join(store, d)); len(ents) > 0 {
			t.Errorf("%s/ left after a failed pull: %v", d, ents)
		}
	}
}

// TestImagePullStalledRegistry: `podrun image pull` against a registry
// that stops mid-blob fails on --idle-timeout with one line, and SIGINT
// during the pull ends it; neither leaves a partial blob in the store.
func TestImagePullStalledRegistry(t *testing.T) {
	e := newImageEnv(t)
	host, halfway := stallingRegistry(t)
	ref := host + "/test/img:v1"

	e.Fails("the registry sent nothing for 300ms (idle timeout)", "image", "pull", "--store", e.store, "--idle-timeout", "300ms", ref)
	assertEmptyStore(t, e.store)
	e.Fails("--timeout -1s is negative", "image", "pull", "--store", e.store, "--timeout", "-1s", ref)

	cmd := e.Cmd("image", "pull", "--store", e.store, ref)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(halfway) > 0 {
		<-halfway // the first pull's
	}
	select {
	case <-halfway:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull never reached the layer; stderr: %s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := waitTimeout(cmd, 60*time.Second); err == nil || errors.Is(err, errTimedOut) {
		t.Fatalf("interrupted pull: %v, want a failure exit", err)
	}
	if msg := strings.TrimSpace(stderr.String()); !strings.Contains(msg, "interrupt signal received") || strings.Contains(msg, "\n") {
		t.Errorf("interrupted pull: stderr %q, want one line saying interrupt signal received", msg)
	}
	assertEmptyStore(t, e.store)
}
