package fetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/testimage"
)

// authRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1 behind bearer-token auth: /token hands out the token for the
// basic credentials tester:secret.
func authRegistry(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "tester" || p != "secret" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + r.URL.Query().Get("scope")})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-repository:") {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL))
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Fatalf("registry not on loopback: %s", host)
	}
	return srv, host
}

// push uploads a layout's blobs and manifest (monolithic uploads).
func push(t *testing.T, base, repo, tag string, blobs map[string][]byte, manifest []byte, mediaType string) {
	t.Helper()
	do := func(method, u string, body []byte, ct string) *http.Response {
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok-repository:"+repo+":push")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s", method, u, resp.Status)
		}
		return resp
	}
	for d, data := range blobs {
		resp := do(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil, "")
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = base + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		do(http.MethodPut, loc+sep+"digest="+d, data, "application/octet-stream")
	}
	do(http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, manifest, mediaType)
}

func layoutBlobs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs/sha256"))
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, "blobs/sha256", e.Name()))
		out["sha256:"+e.Name()] = data
	}
	return out
}

// TestPull pulls the test image, by tag and through a multi-platform
// index, from a registry on 127.0.0.1 with credentials from a docker
// config.json.
func TestPull(t *testing.T) {
	s := newStore(t)
	srv, host := authRegistry(t)
	dir := t.TempDir()
	manDigest := testimage.OCILayout(t, dir, "")
	blobs := layoutBlobs(t, dir)
	man := blobs[manDigest]
	push(t, srv.URL, "podrun/busybox", "v1", blobs, man, ocispec.MediaTypeOCIManifest)
	// An index with another platform's image first: a manifest of the
	// same layers whose config says s390x. Picking it would change the ID.
	var m image.Manifest
	json.Unmarshal(man, &m)
	var c map[string]any
	json.Unmarshal(blobs[m.Config.Digest], &c)
	c["architecture"] = "s390x"
	otherCfg, _ := json.Marshal(c)
	m.Config = image.Descriptor{MediaType: ocispec.MediaTypeOCIConfig, Digest: sha256Digest(otherCfg), Size: int64(len(otherCfg))}
	otherMan, _ := json.Marshal(m)
	push(t, srv.URL, "podrun/busybox", "s390x", map[string][]byte{m.Config.Digest: otherCfg}, otherMan, ocispec.MediaTypeOCIManifest)
	idx, _ := json.Marshal(image.Index{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIIndex, Manifests: []image.Descriptor{
		{MediaType: ocispec.MediaTypeOCIManifest, Digest: sha256Digest(otherMan), Size: int64(len(otherMan)), Platform: &image.Platform{OS: "linux", Architecture: "s390x"}},
		{MediaType: ocispec.MediaTypeOCIManifest, Digest: manDigest, Size: int64(len(man)), Platform: &image.Platform{OS: "linux", Architecture: HostPlatform().Architecture}},
	}})
	push(t, srv.URL, "podrun/busybox", "multi", nil, idx, ocispec.MediaTypeOCIIndex)

	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("tester:secret"))
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600)

	ctx := context.Background()
	if _, err := Pull(ctx, s, host+"/podrun/busybox:v1", PullOptions{DockerConfig: filepath.Join(cfgDir, "none.json")}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("pull without credentials: %v", err)
	}
	img, err := Pull(ctx, s, host+"/podrun/busybox:v1", PullOptions{DockerConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if img.Manifest != manDigest || len(img.Layers) != 2 {
		t.Errorf("pulled %+v", img)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir) // the default config location
	img2, err := Pull(ctx, s, host+"/podrun/busybox:multi", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img2.ID != img.ID {
		t.Errorf("index pull gave %s, want %s", img2.ID, img.ID)
	}
	if _, err := Pull(ctx, s, host+"/podrun/busybox@"+manDigest, PullOptions{}); err != nil {
		t.Errorf("pull by digest: %v", err)
	}
	if _, err := Pull(ctx, s, host+"/podrun/nosuch:v1", PullOptions{}); err == nil {
		t.Error("pull of a missing image succeeded")
	}
	assertOnly(t, s, 1, 2)
	got, err := s.Lookup(host + "/podrun/busybox:multi")
	if err != nil || len(got.Names) != 3 {
		t.Errorf("names: %+v %v", got, err)
	}
}
