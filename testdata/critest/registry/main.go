// Command registry serves the images critest (sigs.k8s.io/cri-tools)
// pulls, built here from Debian's busybox-static and the stand-ins in
// testdata/critest (nginx, pause, nonewprivs), over the read-only part of the OCI
// distribution API: scripts/conformance-critest.sh runs it on 127.0.0.1
// inside the test's network namespace, with containerd's registry
// mirrors pointing gcr.io, registry.k8s.io and k8s.gcr.io at it.
//
// Repositories are keyed by path without the host (a mirror request for
// gcr.io/k8s-staging-cri-tools/test-image-1 asks for
// /v2/k8s-staging-cri-tools/test-image-1/...), so registry.k8s.io/pause
// and k8s.gcr.io/pause are the same image, as critest expects.
//
//	registry -listen 127.0.0.1:5000 -tools bin/critest
//
// -tools names the directory holding the static stand-ins: nginx, pause
// and nonewprivs.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/podrun/podrun/internal/ocispec"
)

// epoch stamps every file and image: the same inputs give the same digests.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// The busybox image's users and groups (those of docker.io/library/busybox,
// whose www-data critest's image-user tests name).
const (
	passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	group = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`
)

// entry is one file of a layer: a directory (name ends in "/"), a hard
// link (hardlink set), a symlink (link set) or a regular file.
type entry struct {
	name     string
	mode     int64
	link     string
	hardlink string
	data     []byte
}

func layerTar(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag = tar.TypeDir
		case e.hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, e.hardlink
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if h.Mode == 0 {
			h.Mode = map[byte]int64{tar.TypeDir: 0o755, tar.TypeSymlink: 0o777, tar.TypeReg: 0o644, tar.TypeLink: 0o755}[h.Typeflag]
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}

// Scripts for the two applets critest runs that Debian's busybox-static
// lacks (docker.io/library/busybox has them): pgrep PATTERN, and ipcs -m
// listing /proc/sysvipc/shm in ipcs's columns.
const (
	pgrep = `#!/bin/sh
# pgrep PATTERN: the pids of the processes whose name matches PATTERN.
st=1
for d in /proc/[0-9]*; do
	read -r comm <"$d/comm" 2>/dev/null || continue
	if echo "$comm" | grep -qE -- "$1"; then
		echo "${d#/proc/}"
		st=0
	fi
done
exit $st
`
	ipcs = `#!/bin/sh
# ipcs -m: the System V shared memory segments of this IPC namespace.
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
awk 'NR > 1 {printf "0x%08x %-10s %-10s %-10s %-10s %-10s\n", $1, $2, $8, $3, $4, $7}' /proc/sysvipc/shm
`
)

// busyboxLayer is the busybox rootfs as docker.io/library/busybox has it:
// the static binary with every applet a hard link to it in /bin (so that
// masking one applet's path masks only that one), users and groups, the
// usual directories.
func busyboxLayer(bin string) ([]entry, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	es := []entry{}
	for _, d := range []string{"bin/", "dev/", "etc/", "home/", "proc/", "root/", "sys/", "usr/", "usr/sbin/", "var/", "var/run/", "var/www/"} {
		es = append(es, entry{name: d})
	}
	es = append(es, entry{name: "tmp/", mode: 0o1777}, entry{name: "bin/busybox", mode: 0o755, data: data},
		entry{name: "etc/passwd", data: []byte(passwd)}, entry{name: "etc/group", data: []byte(group)},
		entry{name: "bin/pgrep", mode: 0o755, data: []byte(pgrep)}, entry{name: "bin/ipcs", mode: 0o755, data: []byte(ipcs)})
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "busybox" || a == "pgrep" || a == "ipcs" {
			continue
		}
		es = append(es, entry{name: "bin/" + a, hardlink: "bin/busybox"})
	}
	return es, nil
}

type blob struct {
	mediaType string
	data      []byte
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// store holds the blobs (by digest) and the tags (repository -> tag ->
// manifest digest) the registry serves.
type store struct {
	blobs map[string]blob
	tags  map[string]map[string]string
}

func (s *store) put(mediaType string, data []byte) ocispec.Descriptor {
	d := digestOf(data)
	s.blobs[d] = blob{mediaType, data}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// image adds an image of layers (bottom first) with run config rc under
// repo:tags.
func (s *store) image(repo string, tags []string, rc ocispec.RunConfig, layers ...[]entry) error {
	cfg := ocispec.Config{Created: &epoch, Architecture: runtime.GOARCH, OS: "linux", Config: rc,
		RootFS: ocispec.RootFS{Type: "layers"}}
	man := ocispec.Manifest{SchemaVersion: 2, MediaType: ocispec.MediaTypeOCIManifest}
	for _, l := range layers {
		t, err := layerTar(l)
		if err != nil {
			return err
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digestOf(t))
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(t)
		if err := zw.Close(); err != nil {
			return err
		}
		man.Layers = append(man.Layers, s.put(ocispec.MediaTypeOCILayerGzip, gz.Bytes()))
	}
	cfgData, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	man.Config = s.put(ocispec.MediaTypeOCIConfig, cfgData)
	manData, err := json.Marshal(man)
	if err != nil {
		return err
	}
	md := s.put(ocispec.MediaTypeOCIManifest, manData)
	if s.tags[repo] == nil {
		s.tags[repo] = map[string]string{}
	}
	for _, t := range tags {
		s.tags[repo][t] = md.Digest
	}
	return nil
}

// envPath is the PATH of every image.
const envPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// httpdForeground is the httpd image's command (httpd-foreground, as in
// docker.io/library/httpd): busybox's httpd on port 80, saying so on
// stderr (critest looks for "httpd" in the container's log). The shell
// stays pid 1 to end it on SIGTERM, which busybox httpd ignores as pid 1.
const httpdForeground = `#!/bin/sh
echo "httpd: serving /usr/local/apache2/htdocs on port 80" >&2
httpd -f -v -p 80 -h /usr/local/apache2/htdocs &
trap 'kill $!; exit 0' TERM INT
wait
`

// critestImages builds what critest v1.37 pulls (pkg/validate/*.go,
// pkg/framework/util.go; images/build for how upstream builds its own):
// busybox for most tests; nginx (port 80), hostnet-nginx (port 12003) and
// httpd web servers; nonewprivs; pause; the image-test family (busybox
// plus one file named after the image) and the image-user family (busybox
// with a USER). test-image-digest is not served: critest names it by a
// digest only the upstream build has. tools holds the static stand-ins
// nginx, pause and nonewprivs.
func critestImages(busybox, tools string) (*store, error) {
	s := &store{blobs: map[string]blob{}, tags: map[string]map[string]string{}}
	base, err := busyboxLayer(busybox)
	if err != nil {
		return nil, err
	}
	bin := map[string][]byte{}
	for _, name := range []string{"nginx", "pause", "nonewprivs"} {
		if bin[name], err = os.ReadFile(filepath.Join(tools, name)); err != nil {
			return nil, err
		}
	}
	file := func(name string) []entry { return []entry{{name: name, data: []byte{}}} }
	sh := ocispec.RunConfig{Env: []string{envPath}, Cmd: []string{"sh"}}
	const cri = "k8s-staging-cri-tools/"
	add := func(repo string, tags []string, rc ocispec.RunConfig, layers ...[]entry) {
		if err == nil {
			err = s.image(repo, tags, rc, layers...)
		}
	}
	add("e2e-test-images/busybox", []string{"1.29-2"}, sh, base)

	nginx := []entry{{name: "usr/sbin/nginx", mode: 0o755, data: bin["nginx"]},
		{name: "usr/share/"}, {name: "usr/share/nginx/"}, {name: "usr/share/nginx/html/"},
		{name: "usr/share/nginx/html/index.html", data: []byte("<h1>Welcome to nginx!</h1>\n")}}
	web := func(port string) ocispec.RunConfig {
		return ocispec.RunConfig{Env: []string{envPath, "NGINX_PORT=" + port}, Cmd: []string{"nginx", "-g", "daemon off;"},
			ExposedPorts: map[string]struct{}{port + "/tcp": {}}, StopSignal: "SIGQUIT"}
	}
	add("e2e-test-images/nginx", []string{"1.14-2"}, web("80"), base, nginx)
	add(cri+"hostnet-nginx-"+runtime.GOARCH, []string{"latest"}, web("12003"), base, nginx)
	httpd := []entry{{name: "usr/local/"}, {name: "usr/local/bin/"},
		{name: "usr/local/bin/httpd-foreground", mode: 0o755, data: []byte(httpdForeground)},
		{name: "usr/local/apache2/"}, {name: "usr/local/apache2/htdocs/"},
		{name: "usr/local/apache2/htdocs/index.html", data: []byte("<html><body><h1>It works!</h1></body></html>\n")}}
	add("e2e-test-images/httpd", []string{"2.4.39-4"}, ocispec.RunConfig{Env: []string{envPath}, Cmd: []string{"httpd-foreground"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}}}, base, httpd)
	// Set-user-ID root, run as the uid critest asks for.
	nnp := []entry{{name: "usr/local/"}, {name: "usr/local/bin/"}, {name: "usr/local/bin/nnp", mode: 0o4755, data: bin["nonewprivs"]}}
	add("e2e-test-images/nonewprivs", []string{"1.3"}, ocispec.RunConfig{Env: []string{envPath}, Entrypoint: []string{"/usr/local/bin/nnp"}}, base, nnp)

	pause := []entry{{name: "pause", mode: 0o755, data: bin["pause"]}}
	add("pause", []string{"3.9"}, ocispec.RunConfig{User: "65535:65535", Entrypoint: []string{"/pause"}}, pause)

	for _, name := range []string{"test-image-1", "test-image-2", "test-image-3", "test-image-latest"} {
		add(cri+name, []string{"latest"}, sh, base, file(name))
	}
	add(cri+"test-image-tags", []string{"1", "2", "3"}, sh, base, file("same-image"))
	add(cri+"test-image-tag", []string{"test", "all"}, sh, base, file("test-image-tag"))
	for name, user := range map[string]string{"test-image-user-uid": "1002", "test-image-user-username": "www-data",
		"test-image-user-uid-group": "1003:1004", "test-image-user-username-group": "www-data:1004"} {
		add(cri+name, []string{"latest"}, ocispec.RunConfig{Env: []string{envPath}, Cmd: []string{"sh"}, User: user}, base)
	}
	// adduser -u 1000 -D default-user; addgroup -g 50000
	// group-defined-in-image; addgroup default-user group-defined-in-image.
	predef := []entry{
		{name: "etc/passwd", data: []byte(passwd + "default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n")},
		{name: "etc/group", data: []byte(group + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")},
		{name: "home/default-user/"},
	}
	add(cri+"test-image-predefined-group", []string{"latest"}, ocispec.RunConfig{Env: []string{envPath}, Cmd: []string{"sh"}, User: "1000"}, base, predef)
	return s, err
}

func errorJSON(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// ServeHTTP answers GET and HEAD of /v2/, /v2/<name>/manifests/<tag or
// digest> and /v2/<name>/blobs/<digest>.
func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		errorJSON(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "read-only registry")
		return
	}
	p := path.Clean(r.URL.Path)
	if p == "/v2" {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		errorJSON(w, http.StatusNotFound, "NOT_FOUND", "not a registry path")
		return
	}
	var repo, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			repo, kind, ref = rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
			break
		}
	}
	tags, known := s.tags[repo]
	if !known {
		errorJSON(w, http.StatusNotFound, "NAME_UNKNOWN", "repository "+repo+" not known")
		return
	}
	d := ref
	if kind == "manifests" && !strings.HasPrefix(ref, "sha256:") {
		d = tags[ref]
	}
	b, ok := s.blobs[d]
	if !ok || (kind == "manifests") != (b.mediaType == ocispec.MediaTypeOCIManifest) {
		code := map[string]string{"manifests": "MANIFEST_UNKNOWN", "blobs": "BLOB_UNKNOWN"}[kind]
		errorJSON(w, http.StatusNotFound, code, repo+" "+ref+" not known")
		return
	}
	w.Header().Set("Content-Type", b.mediaType)
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("Content-Length", fmt.Sprint(len(b.data)))
	if r.Method == http.MethodGet {
		w.Write(b.data)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:5000", "address to serve on")
	busybox := flag.String("busybox", "/bin/busybox", "a static busybox")
	tools := flag.String("tools", "", "the directory of the static stand-ins nginx, pause and nonewprivs (testdata/critest)")
	ready := flag.String("ready", "", "a file to create once the registry listens")
	flag.Parse()
	log.SetPrefix("registry: ")
	log.SetFlags(0)
	if *tools == "" {
		log.Fatal("-tools is required")
	}
	s, err := critestImages(*busybox, *tools)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
