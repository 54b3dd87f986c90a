package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/checkreport"
	"github.com/podrun/podrun/internal/ocispec"
)

func TestBundle(t *testing.T) {
	b := Bundle(t, "checker", "report")
	rootfs := filepath.Join(b, "rootfs")

	for _, p := range []string{"bin/busybox", "usr/bin/checker"} {
		fi, err := os.Stat(filepath.Join(rootfs, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", p, fi.Mode())
		}
	}
	for _, applet := range []string{"sh", "ls", "cat", "id", "hostname", "sleep"} {
		link, err := os.Readlink(filepath.Join(rootfs, "bin", applet))
		if err != nil || link != "busybox" {
			t.Errorf("bin/%s: link %q, %v; want busybox", applet, link, err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "root", "home/tester"} {
		ents, err := os.ReadDir(filepath.Join(rootfs, d))
		if err != nil || len(ents) != 0 {
			t.Errorf("%s: want an empty directory, got %d entries, %v", d, len(ents), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(rootfs, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: want mode 1777, got %v, %v", fi.Mode(), err)
	}
	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"root:x:0:0:", "daemon:x:1:1:", "tester:x:1000:1000:", "nobody:x:65534:65534:"} {
		if !bytes.Contains(passwd, []byte("\n"+l)) && !bytes.HasPrefix(passwd, []byte(l)) {
			t.Errorf("etc/passwd lacks %q", l)
		}
	}
	group, err := os.ReadFile(filepath.Join(rootfs, "etc/group"))
	if err != nil || !bytes.Contains(group, []byte("extra:x:1001:tester\n")) {
		t.Errorf("etc/group lacks tester's supplementary group: %q, %v", group, err)
	}

	s := Spec(t, b)
	if !reflect.DeepEqual(s.Process.Args, []string{"checker", "report"}) {
		t.Errorf("args %q", s.Process.Args)
	}
	if s.Process.Terminal {
		t.Error("terminal is true")
	}
	if s.Version != specs.Version {
		t.Errorf("ociVersion %q, want %q (update testdata/mkbundle.sh)", s.Version, specs.Version)
	}
	if s.Root == nil || s.Root.Path != "rootfs" || !s.Root.Readonly || s.Hostname != "runc" {
		t.Errorf("root %+v hostname %q", s.Root, s.Hostname)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	if want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}; !reflect.DeepEqual(dests, want) {
		t.Errorf("mounts %q, want %q", dests, want)
	}
	var nss []string
	for _, ns := range s.Linux.Namespaces {
		nss = append(nss, string(ns.Type))
	}
	if got := strings.Join(nss, ","); got != "pid,network,ipc,uts,mount,cgroup" {
		t.Errorf("namespaces %s", got)
	}
	if c := s.Process.Capabilities; c == nil || len(c.Bounding) != 3 || len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v", c)
	}

	// Bundles are private copies.
	if err := os.WriteFile(filepath.Join(rootfs, "etc/passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = []string{"true"}
	s.Hostname = "changed"
	WriteSpec(t, b, s)
	b2 := Bundle(t)
	if data, _ := os.ReadFile(filepath.Join(b2, "rootfs/etc/passwd")); !bytes.Equal(data, passwd) {
		t.Error("changing one bundle's rootfs changed another's")
	}
	if s2 := Spec(t, b2); !reflect.DeepEqual(s2.Process.Args, []string{"sh"}) || s2.Hostname != "runc" {
		t.Errorf("default bundle: args %q hostname %q", s2.Process.Args, s2.Hostname)
	}
	if got := Spec(t, b); got.Hostname != "changed" || !reflect.DeepEqual(got.Process.Args, []string{"true"}) {
		t.Errorf("WriteSpec did not stick: %+v", got)
	}
}

// TestBinariesRun runs the rootfs's static binaries on the host.
func TestBinariesRun(t *testing.T) {
	rootfs := filepath.Join(Bundle(t), "rootfs")
	out, err := exec.Command(filepath.Join(rootfs, "bin/busybox"), "echo", "hello").CombinedOutput()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("busybox echo: %q, %v", out, err)
	}
	cmd := exec.Command(filepath.Join(rootfs, "usr/bin/checker"), "report", "--path", rootfs, "--path", "/nonexistent", "--sysctl", "kernel.ostype")
	cmd.Env = []string{"A=1"}
	cmd.Dir = rootfs
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("checker report: %v", err)
	}
	r, err := checkreport.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pid != cmd.Process.Pid || r.Ppid != os.Getpid() || r.UID != os.Getuid() {
		t.Errorf("pid %d ppid %d uid %d", r.Pid, r.Ppid, r.UID)
	}
	if v, ok := r.Getenv("A"); !ok || v != "1" || len(r.Env) != 1 {
		t.Errorf("env %q", r.Env)
	}
	if r.Cwd != rootfs {
		t.Errorf("cwd %q, want %q", r.Cwd, rootfs)
	}
	if r.Paths[rootfs].Exists != true || !r.Paths[rootfs].IsDir || r.Paths["/nonexistent"].Exists {
		t.Errorf("paths %+v", r.Paths)
	}
	if r.Sysctls["kernel.ostype"].Value != "Linux" {
		t.Errorf("sysctls %+v", r.Sysctls)
	}
	if r.Namespaces["pid"] == "" || r.Mount("/") == nil || len(r.Cgroups) == 0 {
		t.Errorf("namespaces %v, %d mounts, cgroups %v", r.Namespaces, len(r.Mounts), r.Cgroups)
	}
	if _, ok := r.Rlimit("NOFILE"); !ok || len(r.Rlimits) != len(checkreport.RlimitNames) {
		t.Errorf("rlimits %v", r.Rlimits)
	}
	if len(r.Errors) != 0 {
		t.Errorf("errors: %q", r.Errors)
	}
	for _, fd := range r.FDs {
		if fd.FD <= 2 {
			continue
		}
		if strings.Contains(fd.Target, "eventpoll") || strings.HasPrefix(fd.Target, "/proc") {
			t.Errorf("checker lists its own descriptor %+v", fd)
		}
	}

	if err := exec.Command(filepath.Join(rootfs, "usr/bin/checker"), "exit", "3").Run(); err == nil || err.(*exec.ExitError).ExitCode() != 3 {
		t.Errorf("checker exit 3: %v", err)
	}
}

func TestOCIArchive(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "image.tar")
	ref := "docker.io/podrun/busybox:test"
	mdigest := OCIArchive(t, dst, ref)

	files := map[string][]byte{}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = data
		}
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", files["oci-layout"])
	}
	// blob checks that a descriptor's blob is there with that digest and
	// size, and returns it.
	blob := func(d ocispec.Descriptor) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok {
			t.Fatalf("no blob for %s", d.Digest)
		}
		sum := sha256.Sum256(data)
		if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(data)) != d.Size {
			t.Fatalf("blob %s: size %d (want %d) or digest mismatch", d.Digest, len(data), d.Size)
		}
		return data
	}
	var index ocispec.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if index.SchemaVersion != 2 || len(index.Manifests) != 1 {
		t.Fatalf("index %+v", index)
	}
	md := index.Manifests[0]
	if md.Annotations[ocispec.AnnotationRefName] != ref || md.Digest != mdigest || md.MediaType != ocispec.MediaTypeOCIManifest {
		t.Errorf("manifest descriptor %+v", md)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(blob(md), &man); err != nil {
		t.Fatal(err)
	}
	if man.SchemaVersion != 2 || man.Config.MediaType != ocispec.MediaTypeOCIConfig || len(man.Layers) != 2 || man.Layers[0].MediaType != ocispec.MediaTypeOCILayerGzip || man.Layers[1].MediaType != ocispec.MediaTypeOCILayerGzip {
		t.Fatalf("manifest %+v", man)
	}
	var cfg ocispec.Config
	if err := json.Unmarshal(blob(man.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || !reflect.DeepEqual(cfg.Config.Cmd, []string{"sh"}) || len(cfg.RootFS.DiffIDs) != 2 {
		t.Errorf("config %+v", cfg)
	}
	// entries[i] are the tar entries of layer i.
	entries := []map[string]*tar.Header{{}, {}}
	for i, l := range man.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(blob(l)))
		if err != nil {
			t.Fatal(err)
		}
		layer, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(layer)
		if "sha256:"+hex.EncodeToString(sum[:]) != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diff_id does not match the uncompressed layer", i)
		}
		lr := tar.NewReader(bytes.NewReader(layer))
		for {
			hdr, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			entries[i][hdr.Name] = hdr
		}
	}
	lower, upper := entries[0], entries[1]
	if lower["etc/podrun-removed"] == nil || lower["var/podrun-opaque/lower"] == nil || lower["usr/bin/checker"] != nil {
		t.Error("lower layer lacks etc/podrun-removed or var/podrun-opaque/lower, or has the checker")
	}
	for _, n := range []string{"etc/.wh.podrun-removed", "var/podrun-opaque/.wh..wh..opq", "var/podrun-opaque/upper", "usr/bin/checker"} {
		if upper[n] == nil {
			t.Errorf("upper layer lacks %s", n)
		}
	}
	entries0 := lower
	if h := entries0["bin/busybox"]; h == nil || h.Uid != 0 || h.Mode&0o111 == 0 {
		t.Errorf("bin/busybox: %+v", h)
	}
	if h := entries0["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
		t.Errorf("bin/sh: %+v", h)
	}
	if h := entries0["home/tester/"]; h == nil || h.Uid != TesterUID {
		t.Errorf("home/tester/: %+v", h)
	}
	if upper["usr/bin/checker"] == nil || entries0["etc/passwd"] == nil {
		t.Error("layers lack usr/bin/checker or etc/passwd")
	}

	// The same rootfs gives the same image.
	if again := OCIArchive(t, filepath.Join(t.TempDir(), "again.tar"), ref); again != mdigest {
		t.Errorf("second archive has manifest %s, first %s", again, mdigest)
	}
}

// TestOCIArchiveContainerdImport imports the archive into a private
// containerd 1.6 and, when runc is installed, runs it.
func TestOCIArchiveContainerdImport(t *testing.T) {
	c := StartContainerd(t)
	archive := filepath.Join(t.TempDir(), "image.tar")
	ref := "docker.io/podrun/busybox:test"
	digest := OCIArchive(t, archive, ref)
	if _, err := c.Ctr("images", "import", "--snapshotter", "native", archive); err != nil {
		t.Fatal(err)
	}
	out, err := c.Ctr("images", "ls")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), ref) || !strings.Contains(string(out), digest) {
		t.Fatalf("image %s@%s not listed:\n%s", ref, digest, out)
	}

	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Log("runc not installed: not running the image")
		return
	}
	out, err = c.Ctr("run", "--rm", "--snapshotter", "native", "--runc-binary", runc, ref, "testimage-run", "checker", "report")
	if err != nil {
		t.Fatal(err)
	}
	r, err := checkreport.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pid != 1 {
		t.Errorf("checker in the imported image: pid %d, want 1", r.Pid)
	}
}
