package integration

// The tests here attack podrun's files and sockets as an unprivileged local
// user of the host: nobody (65534), by testutil.AsUser (a thread with that
// uid, no groups and no capabilities; no user database entry) or by a
// process started with that credential. Nothing that holds container
// content, volumes or control sockets may be within their reach, whatever
// the modes of the files inside, and whatever the umask podrun ran with.
//
// Each test puts podrun's directories under a temp dir opened up to 0755,
// so that only the modes podrun itself sets stand between the user and the
// target.

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testimage"
	"github.com/podrun/podrun/internal/testutil"
	"github.com/podrun/podrun/pod/manifest"
)

// searchableTempDir is a fresh temp dir that any user may search, as
// /var/lib or /run are: it and its parent are made 0755.
func searchableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nobodyDo runs f as the unprivileged user.
func nobodyDo(t *testing.T, f func() error) error {
	t.Helper()
	return testutil.AsUser(testutil.Nobody, testutil.Nobody, f)
}

// wantEACCES fails t unless err is EACCES: the user could not even reach
// the target. what names the attack.
func wantEACCES(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, unix.EACCES) {
		t.Errorf("%s as an unprivileged user: %v, want EACCES (permission denied)", what, err)
	}
}

// nobodyExec runs path as the unprivileged user and returns its output.
func nobodyExec(path string, args ...string) (string, error) {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: testutil.Nobody, Gid: testutil.Nobody}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestHostileStoreSetuidDevicesWritable: an image ships a setuid-root
// id(1) (the host's coreutils id: it runs on the host and says "euid=0"
// when the attack works), a 0666 node of /dev/kmsg (root-only for writing
// on the host) and a 0777 directory; a container makes a setuid-root copy
// of the id in its upper dir. From the host, nobody can run either setuid
// file, open the device or write into the directory: the store is
// root-only (moby's CVE-2021-41091).
func TestHostileStoreSetuidDevicesWritable(t *testing.T) {
	e := newImageEnv(t)
	e.store = filepath.Join(searchableTempDir(t), "store")
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Skipf("no coreutils id to plant: %v", err)
	}
	evil := testimage.Tar(t, []*tar.Header{
		{Name: "suid/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "suid/id", Typeflag: tar.TypeReg, Mode: 0o4755},
		{Name: "devs/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "devs/kmsg", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 11},
		{Name: "open/", Typeflag: tar.TypeDir, Mode: 0o777},
	}, map[string]string{"suid/id": string(id)})
	layout := filepath.Join(t.TempDir(), "layout")
	testimage.WriteLayout(t, layout, "", testimage.Config(t), append(testimage.Layers(t), evil))
	e.img("import", "--name", "evil", layout)
	sum := sha256.Sum256(evil)
	diff := filepath.Join(e.store, "layers", hex.EncodeToString(sum[:]), "diff")

	// The layer is as the image made it: only the store's modes guard it.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(diff, "suid/id"), &st); err != nil || st.Uid != 0 || st.Mode&unix.S_ISUID == 0 {
		t.Fatalf("layer's suid/id: %v, mode %o uid %d; want a setuid-root file", err, st.Mode, st.Uid)
	}
	out, err := nobodyExec(filepath.Join(diff, "suid/id"))
	wantEACCES(t, "running the layer's setuid-root "+filepath.Join(diff, "suid/id")+" (output "+strings.TrimSpace(out)+")", err)
	wantEACCES(t, "opening the layer's 0666 /dev/kmsg node for writing", nobodyDo(t, func() error {
		fd, err := unix.Open(filepath.Join(diff, "devs/kmsg"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}))
	wantEACCES(t, "writing into the layer's 0777 dir", nobodyDo(t, func() error {
		fd, err := unix.Open(filepath.Join(diff, "open/planted"), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o755)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}))
	if _, err := os.Lstat(filepath.Join(diff, "open/planted")); err == nil {
		t.Error("the unprivileged user planted a file in a layer")
	}

	// A container makes a setuid-root file in its upper dir.
	b := e.bundle("evil", shArgs("cp /suid/id /id && chmod 4755 /id && touch /ready && exec sleep 600"))
	ctr := e.ID()
	e.RunDetached(b, ctr)
	var ready []string
	if !waitFor(20*time.Second, func() bool {
		ready, _ = filepath.Glob(filepath.Join(e.store, "containers", "*", "upper", "ready"))
		return len(ready) == 1
	}) {
		t.Fatalf("no upper dir with the container's /ready: %v", ready)
	}
	upperID := filepath.Join(filepath.Dir(ready[0]), "id")
	if err := unix.Stat(upperID, &st); err != nil || st.Uid != 0 || st.Mode&unix.S_ISUID == 0 {
		t.Fatalf("upper dir's id: %v, mode %o uid %d; want a setuid-root file", err, st.Mode, st.Uid)
	}
	out, err = nobodyExec(upperID)
	wantEACCES(t, "running the upper dir's setuid-root "+upperID+" (output "+strings.TrimSpace(out)+")", err)
	e.Must("delete", "--force", ctr)
}

// nobodyDial connects to the unix socket path (typ SOCK_STREAM or
// SOCK_SEQPACKET) as the unprivileged user and returns the connected fd.
func nobodyDial(t *testing.T, typ int, path string) (int, error) {
	t.Helper()
	fd := -1
	err := nobodyDo(t, func() error {
		s, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(s, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(s)
			return err
		}
		fd = s
		return nil
	})
	return fd, err
}

// wantClosedUnanswered sends req on fd, then fails t unless the other end
// closes the connection without sending anything. The receive timeout
// only turns a hang (no answer, not closed) into a failure.
func wantClosedUnanswered(t *testing.T, what string, fd int, req []byte, before func()) {
	t.Helper()
	defer unix.Close(fd)
	_ = unix.Sendto(fd, req, unix.MSG_NOSIGNAL, nil)
	if before != nil {
		before()
	}
	tv := unix.Timeval{Sec: 20}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
	switch {
	case n > 0 || oobn > 0:
		t.Errorf("%s: an unprivileged user received %q and %d bytes of fds", what, buf[:n], oobn)
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, f := range fds {
					unix.Close(f)
				}
			}
		}
	case errors.Is(err, unix.EAGAIN):
		t.Errorf("%s: an unprivileged user's connection is neither answered nor closed after 20 s", what)
	case err != nil && !errors.Is(err, unix.ECONNRESET):
		t.Errorf("%s: %v", what, err)
	}
}

// TestHostilePodVolumesAndSockets: a pod started under umask 000, its
// emptyDir 0777 as kubelet makes it. From the host, nobody can write into
// the emptyDir (its path holds the pod UID, readable in /proc/PID/cgroup),
// nor connect to the supervisor's control socket (attach to a tty, stop
// the pod) or the fd holder's (the containers' pipes and ptys). With the
// directories opened up again, both sockets still close the connection
// unanswered: the holder also when it takes a connection queued before the
// supervisor restarts.
func TestHostilePodVolumesAndSockets(t *testing.T) {
	e := newSvEnv(t)
	e.data = filepath.Join(searchableTempDir(t), "data")
	for _, d := range []string{e.Root, filepath.Dir(e.Root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(t.TempDir(), "pod.yaml")
	yaml := podYAML("hostile", "Always", "1", `  volumes:
  - name: scratch
    emptyDir: {}
  containers:
  - name: main
    image: busybox:test
    command: `+loop+`
    volumeMounts: [{name: scratch, mountPath: /scratch}]
`)
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	e.pods = append(e.pods, "hostile")
	cmd := exec.Command("/bin/busybox", "sh", "-c", `umask 000 && exec "$@"`, "sh",
		podrunBin, "--root", e.Root, "pod", "--store", e.store, "--data-dir", e.data, "run", "-d", "-f", f)
	cmd.Env = append(os.Environ(), e.env...)
	if r := e.RunCmd(cmd); r.Code != 0 {
		t.Fatalf("pod run under umask 000: exit %d: %s", r.Code, r.Stderr)
	}
	e.waitStatus("hostile", "Running", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodRunning })

	vols, _ := filepath.Glob(filepath.Join(e.data, "*", "volumes", "scratch"))
	if len(vols) != 1 {
		t.Fatalf("emptyDir scratch: %v", vols)
	}
	if fi, err := os.Stat(vols[0]); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("emptyDir: %v, %v; want mode 0777 (kubelet's)", fi, err)
	}
	wantEACCES(t, "writing into the pod's emptyDir "+vols[0], nobodyDo(t, func() error {
		fd, err := unix.Open(filepath.Join(vols[0], "planted"), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}))

	podDir := filepath.Join(e.Root, "pods", "hostile")
	sv, fds := filepath.Join(podDir, "supervisor.sock"), filepath.Join(podDir, "fds.sock")
	for _, s := range []struct {
		path string
		typ  int
	}{{sv, unix.SOCK_STREAM}, {fds, unix.SOCK_SEQPACKET}} {
		fd, err := nobodyDial(t, s.typ, s.path)
		if err == nil {
			unix.Close(fd)
		}
		wantEACCES(t, "connecting to "+s.path, err)
	}

	// Past the directories: the peer check alone.
	for _, p := range []string{e.Root, filepath.Dir(podDir), podDir, sv, fds} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := nobodyDial(t, unix.SOCK_STREAM, sv)
	if err != nil {
		t.Fatalf("connecting to the opened-up %s: %v", sv, err)
	}
	wantClosedUnanswered(t, "supervisor.sock", fd, []byte(`{"op":"status"}`+"\n"), nil)
	fd, err = nobodyDial(t, unix.SOCK_SEQPACKET, fds)
	if err != nil {
		t.Fatalf("connecting to the opened-up %s: %v", fds, err)
	}
	// Queued behind the supervisor's connection, a request for every
	// held fd; the holder takes it when the supervisor is gone.
	wantClosedUnanswered(t, "fds.sock", fd, []byte("G"), func() { e.killSupervisor("hostile") })
	// The holder still serves root: a new supervisor takes the pod over
	// (and tells the holder to quit when the pod is removed).
	e.mustPod("recover", "hostile")
	e.waitStatus("hostile", "Running again", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodRunning })
}
