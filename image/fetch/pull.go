package fetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/ocispec"
	"github.com/podrun/podrun/internal/userfile"
	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/overlay/layer"
)

// The registry client is podrun's own, over net/http: the distribution
// API's manifest and blob GETs with bearer-token and basic auth, about 300
// lines. go-containerregistry's remote and authn packages would do it but
// bring 51 more packages (docker/cli's config, go-digest) whose init runs
// at every podrun start, the container init included.

// Reference is a parsed image reference.
type Reference struct {
	Registry   string // host[:port], as dialled
	Repository string // path, "library/busybox"
	Tag        string
	Digest     string
}

// String is the reference's full form.
func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ParseReference parses [REGISTRY/]REPOSITORY[:TAG][@DIGEST]. Without a
// registry (no '.' or ':' in the first component, and not "localhost")
// it is Docker Hub's, with "library/" for one-component names.
func ParseReference(ref string) (Reference, error) {
	var r Reference
	rest := ref
	if i := strings.Index(rest, "@"); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if _, err := parseDigestOnly(r.Digest); err != nil {
			return r, fmt.Errorf("reference %q: %w", ref, err)
		}
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
	}
	first, remainder, hasSlash := strings.Cut(rest, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = first, remainder
	} else {
		r.Registry, r.Repository = "docker.io", rest
		if !hasSlash {
			r.Repository = "library/" + rest
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	if rest == "" || strings.HasSuffix(r.Repository, "/") || r.Repository == "" || r.Repository != strings.ToLower(r.Repository) || strings.Contains(r.Repository, "//") {
		return r, fmt.Errorf("invalid image reference %q", ref)
	}
	return r, nil
}

func parseDigestOnly(d string) (string, error) {
	algo, h, ok := strings.Cut(d, ":")
	if !ok || algo != "sha256" || len(h) != 64 {
		return "", fmt.Errorf("unsupported digest %q", d)
	}
	return h, nil
}

// PullOptions tune Pull.
type PullOptions struct {
	// PlainHTTP talks http rather than https. Loopback registries
	// (localhost, 127.0.0.0/8, ::1) use http without it, as docker does.
	PlainHTTP bool
	// DockerConfig is the docker config.json to read credentials from
	// (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).
	DockerConfig string
	// Name names the image (default: the reference as given, with :latest
	// when it has no tag or digest).
	Name string
	// Client is the HTTP client (default: one with dial and TLS
	// handshake timeouts). Timeout and IdleTimeout apply to any client.
	Client *http.Client
	// Timeout bounds the whole pull (0: DefaultPullTimeout; < 0: none).
	Timeout time.Duration
	// IdleTimeout fails the pull when the registry sends nothing, neither
	// response headers nor body bytes, for that long (0:
	// DefaultIdleTimeout; < 0: none).
	IdleTimeout time.Duration
}

// Pull's default bounds. A registry that streams a blob forever, or stops
// mid-blob, must not hang a pull (or a pod waiting on it). The idle bound
// is kubelet's former image-pull-progress-deadline (1m); the overall one
// lets a 10 GB image come over a 100 Mbit/s link.
const (
	DefaultPullTimeout = 30 * time.Minute
	DefaultIdleTimeout = time.Minute
)

// maxManifest caps a manifest or index body, as containerd does (4 MiB);
// real ones are a few KiB.
const maxManifest = 4 << 20

// timeoutError is the cause a pull's context is cancelled with when a
// bound runs out: its text is the pull's error.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Timeout() bool { return true }

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Pull fetches an image from a registry (OCI distribution API) into the
// store: the manifest for the host platform, its config and its layers
// (streamed into the unpacker, several at once, each verified).
func Pull(ctx context.Context, s *image.Store, ref string, opts PullOptions) (*image.Image, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if t := orDefault(opts.Timeout, DefaultPullTimeout); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, &timeoutError{fmt.Sprintf("not done after %s (pull timeout)", t)})
		defer cancel()
	}
	img, err := pull(ctx, s, r, ref, opts)
	if err != nil {
		// A bound that ran out, or an interrupt, is the reason, whatever
		// the read it cut short made of it.
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return img, nil
}

func pull(ctx context.Context, s *image.Store, r Reference, ref string, opts PullOptions) (*image.Image, error) {
	p, err := newRegistryClient(r, opts).resolve(ctx)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = ref
	}
	p.Names = []string{image.NormalizeName(name)}
	p.Source = r.String()
	return s.Ingest(ctx, p, layer.Unpack)
}

// resolve reads the reference's manifest (through an index, for the host
// platform) and its config: the image to ingest, its layers still to
// fetch. Every body but the top one, named by tag, is checked against its
// descriptor's digest.
func (c *registryClient) resolve(ctx context.Context) (*image.Pending, error) {
	r := c.ref
	accept := strings.Join([]string{ocispec.MediaTypeOCIIndex, ocispec.MediaTypeOCIManifest, ocispec.MediaTypeDockerList, ocispec.MediaTypeDockerManifest}, ", ")
	tagOrDigest := r.Tag
	if r.Digest != "" {
		tagOrDigest = r.Digest
	}
	raw, mt, err := c.getManifest(ctx, tagOrDigest, accept, 0)
	if err != nil {
		return nil, err
	}
	top := image.Descriptor{MediaType: mt, Digest: sha256Digest(raw), Size: int64(len(raw))}
	if r.Digest != "" && top.Digest != r.Digest {
		return nil, fmt.Errorf("manifest has digest %s", top.Digest)
	}
	get := func(d image.Descriptor) ([]byte, error) {
		if d.Digest == top.Digest {
			return raw, nil
		}
		// The digest becomes a URL path: a manifest must not steer the
		// client elsewhere on the registry.
		if _, err := overlay.ParseDigest(d.Digest); err != nil {
			return nil, err
		}
		if isManifestType(d.MediaType) {
			data, _, err := c.getManifest(ctx, d.Digest, accept, d.Size)
			if err != nil {
				return nil, err
			}
			if got := sha256Digest(data); got != d.Digest {
				return nil, fmt.Errorf("manifest %s: content has digest %s", d.Digest, got)
			}
			return data, nil
		}
		return c.getSmallBlob(ctx, d)
	}
	desc, manRaw, err := resolveManifest([]image.Descriptor{top}, get, 0)
	if err != nil {
		return nil, err
	}
	return pendingFromManifest(desc, manRaw, get, func(d image.Descriptor) func(context.Context) (io.ReadCloser, error) {
		return func(ctx context.Context) (io.ReadCloser, error) { return c.openBlob(ctx, d.Digest, d.Size) }
	})
}

func isManifestType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeOCIIndex, ocispec.MediaTypeOCIManifest, ocispec.MediaTypeDockerList, ocispec.MediaTypeDockerManifest:
		return true
	}
	return false
}

type registryClient struct {
	ref    Reference
	base   string
	hc     *http.Client
	idle   time.Duration // > 0: the bound on silence of each request
	creds  func() (user, pass string, ok bool)
	mu     sync.Mutex
	header string // Authorization value that worked
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func newRegistryClient(r Reference, o PullOptions) *registryClient {
	scheme := "https"
	if o.PlainHTTP || isLoopback(r.Registry) {
		scheme = "http"
	}
	host := r.Registry
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	idle := max(orDefault(o.IdleTimeout, DefaultIdleTimeout), 0)
	hc := o.Client
	if hc == nil {
		// Dial and TLS handshake bounds as Go's DefaultTransport has them.
		// The wait for response headers is bounded by the idle timeout
		// (registryClient.do), for any client.
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			MaxIdleConnsPerHost: 8,
		}}
	}
	cfg := o.DockerConfig
	return &registryClient{
		ref: r, base: scheme + "://" + host + "/v2/" + r.Repository, hc: hc, idle: idle,
		creds: onceCreds(func() (string, string, bool) { return dockerCredentials(cfg, r.Registry) }),
	}
}

func onceCreds(f func() (string, string, bool)) func() (string, string, bool) {
	var once sync.Once
	var u, p string
	var ok bool
	return func() (string, string, bool) {
		once.Do(func() { u, p, ok = f() })
		return u, p, ok
	}
}

// do sends a request (answering an auth challenge once). Its context is
// cancelled when the registry stays silent for c.idle, before the response
// headers or between body reads; the body's errors then say so.
func (c *registryClient) do(ctx context.Context, method, u, accept string) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	ib := &idleBody{ctx: ctx, cancel: cancel, idle: c.idle}
	if c.idle > 0 {
		idleErr := &timeoutError{fmt.Sprintf("the registry sent nothing for %s (idle timeout)", c.idle)}
		ib.timer = time.AfterFunc(c.idle, func() { cancel(idleErr) })
	}
	resp, err := c.send(ctx, method, u, accept)
	if err != nil {
		err = ib.cause(err)
		ib.Close()
		return nil, err
	}
	ib.progress()
	ib.rc = resp.Body
	resp.Body = ib
	return resp, nil
}

// idleBody is a response body under an idle bound: each read that brings
// bytes re-arms the timer; Close stops it and releases the request.
type idleBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
}

func (b *idleBody) progress() {
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
}

// cause is the reason behind a read or request error: the idle timeout,
// the pull's deadline, an interrupt, or err itself.
func (b *idleBody) cause(err error) error {
	if b.ctx.Err() != nil {
		return context.Cause(b.ctx)
	}
	return err
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.progress()
	}
	if err != nil && err != io.EOF {
		err = b.cause(err)
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	var err error
	if b.rc != nil {
		err = b.rc.Close()
	}
	b.cancel(nil)
	return err
}

func (c *registryClient) send(ctx context.Context, method, u, accept string) (*http.Response, error) {
	try := func(auth string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return c.hc.Do(req)
	}
	c.mu.Lock()
	auth := c.header
	c.mu.Unlock()
	resp, err := try(auth)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	resp.Body.Close()
	auth, err = c.authorize(ctx, challenge)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.header = auth
	c.mu.Unlock()
	return try(auth)
}

// authorize answers a 401 challenge: Basic with the configured
// credentials, or Bearer with a token from the challenge's realm.
func (c *registryClient) authorize(ctx context.Context, challenge string) (string, error) {
	scheme, params := parseChallenge(challenge)
	user, pass, haveCreds := c.creds()
	switch strings.ToLower(scheme) {
	case "basic":
		if !haveCreds {
			return "", fmt.Errorf("registry %s wants credentials (docker login, ~/.docker/config.json)", c.ref.Registry)
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
	case "bearer":
		realm := params["realm"]
		if realm == "" {
			return "", fmt.Errorf("registry %s: bearer challenge without realm", c.ref.Registry)
		}
		q := url.Values{}
		if v := params["service"]; v != "" {
			q.Set("service", v)
		}
		scope := params["scope"]
		if scope == "" {
			scope = "repository:" + c.ref.Repository + ":pull"
		}
		q.Set("scope", scope)
		tu := realm
		if strings.Contains(tu, "?") {
			tu += "&" + q.Encode()
		} else {
			tu += "?" + q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tu, nil)
		if err != nil {
			return "", err
		}
		if haveCreds {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("registry token: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("registry token from %s: %s", realm, resp.Status)
		}
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil {
			return "", fmt.Errorf("registry token: %w", err)
		}
		if tok.Token == "" {
			tok.Token = tok.AccessToken
		}
		if tok.Token == "" {
			return "", errors.New("registry token: empty token")
		}
		return "Bearer " + tok.Token, nil
	}
	return "", fmt.Errorf("registry %s: unsupported auth challenge %q", c.ref.Registry, challenge)
}

// parseChallenge parses `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				params[k] = v[1:]
				break
			}
			params[k] = v[1 : end+1]
			rest = v[end+2:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			params[k] = strings.TrimSpace(val)
			rest = r
		}
	}
	return scheme, params
}

func httpError(what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(body))
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%s: %s%s", what, resp.Status, msg)
}

// readCapped reads a small body (a manifest, index or config) of at most
// limit bytes, and exactly size when size > 0 (its descriptor's; as for
// a layout's blobs, 0 is taken as not given): a longer body fails once it
// passes the bound, not after it is all read.
func readCapped(what string, resp *http.Response, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: its descriptor says %d bytes, more than the %d allowed", what, size, limit)
	}
	if size > 0 {
		limit = size
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", what, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", what, limit)
	}
	if size > 0 && int64(len(data)) != size {
		return nil, fmt.Errorf("%s: %d bytes, its descriptor says %d", what, len(data), size)
	}
	return data, nil
}

// getManifest fetches a manifest or index by tag or digest; size is its
// descriptor's (0 when unknown: the top one, named by tag).
func (c *registryClient) getManifest(ctx context.Context, ref, accept string, size int64) ([]byte, string, error) {
	resp, err := c.do(ctx, http.MethodGet, c.base+"/manifests/"+ref, accept)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", httpError("manifest "+c.ref.Repository+":"+ref, resp)
	}
	data, err := readCapped("manifest "+ref, resp, size, maxManifest)
	if err != nil {
		return nil, "", err
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.MediaType != "" {
		mt = probe.MediaType
	}
	return data, mt, nil
}

// openBlob opens a blob's body. A Content-Length past the descriptor's
// size fails here; the layer reader (verifyingReader) stops a body without
// one at size+1 bytes and checks the digest as it streams.
func (c *registryClient) openBlob(ctx context.Context, digest string, size int64) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, c.base+"/blobs/"+digest, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, httpError("blob "+digest, resp)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		resp.Body.Close()
		return nil, fmt.Errorf("the registry sends %d bytes, its descriptor says %d", resp.ContentLength, size)
	}
	return resp.Body, nil
}

// getSmallBlob fetches a config blob, checked against its descriptor's
// size and digest.
func (c *registryClient) getSmallBlob(ctx context.Context, d image.Descriptor) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, c.base+"/blobs/"+d.Digest, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError("blob "+d.Digest, resp)
	}
	data, err := readCapped("blob "+d.Digest, resp, d.Size, maxJSON)
	if err != nil {
		return nil, err
	}
	if got := sha256Digest(data); got != d.Digest {
		return nil, fmt.Errorf("blob %s: content has digest %s", d.Digest, got)
	}
	return data, nil
}

// dockerCredentials finds credentials for a registry in a docker
// config.json: a credential helper (credHelpers, credsStore) or the
// base64 "auth" of "auths".
func dockerCredentials(path, registry string) (string, string, bool) {
	if path == "" {
		dir := os.Getenv("DOCKER_CONFIG")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", "", false
			}
			dir = filepath.Join(home, ".docker")
		}
		path = filepath.Join(dir, "config.json")
	}
	// As every file a user hands podrun: a FIFO or a device there must not
	// hang or exhaust the pull.
	data, err := userfile.ReadFile(path)
	if err == nil {
		err = userfile.CheckDepth(data)
	}
	if err != nil {
		return "", "", false
	}
	var cfg struct {
		Auths map[string]struct {
			Auth     string `json:"auth"`
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auths"`
		CredHelpers map[string]string `json:"credHelpers"`
		CredsStore  string            `json:"credsStore"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return "", "", false
	}
	keys := []string{registry, "https://" + registry, "http://" + registry}
	if registry == "docker.io" {
		keys = append(keys, "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")
	}
	helper := cfg.CredsStore
	for _, k := range keys {
		if h, ok := cfg.CredHelpers[k]; ok {
			helper = h
			break
		}
	}
	if helper != "" {
		for _, k := range keys {
			cmd := exec.Command("docker-credential-"+helper, "get")
			cmd.Stdin = strings.NewReader(k)
			out, err := cmd.Output()
			if err != nil {
				continue
			}
			var c struct{ Username, Secret string }
			if json.Unmarshal(bytes.TrimSpace(out), &c) == nil && c.Secret != "" {
				return c.Username, c.Secret, true
			}
		}
	}
	for _, k := range keys {
		a, ok := cfg.Auths[k]
		if !ok {
			continue
		}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				continue
			}
			u, p, ok := strings.Cut(string(dec), ":")
			if ok {
				return u, p, true
			}
		}
		if a.Username != "" {
			return a.Username, a.Password, true
		}
	}
	return "", "", false
}
