package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testimage"
)

// The CVE-2019-5736 tests attack a private copy of podrun, so that a
// breach damages nothing but the copy, and check its sha256 afterwards.

// sealBinary copies podrun to a temp dir and returns a command maker
// using the copy, the copy's path and a check of its contents.
func sealBinary(h *H) (cmd func(args ...string) *exec.Cmd, path string, unchanged func()) {
	h.t.Helper()
	path = filepath.Join(h.t.TempDir(), "podrun")
	data, err := os.ReadFile(podrunBin)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		h.t.Fatal(err)
	}
	want := sha256.Sum256(data)
	cmd = func(args ...string) *exec.Cmd {
		c := h.Cmd(args...)
		c.Path, c.Args[0] = path, path
		return c
	}
	unchanged = func() {
		h.t.Helper()
		got, err := os.ReadFile(path)
		if err != nil {
			h.t.Fatal(err)
		}
		if sha256.Sum256(got) != want {
			h.t.Errorf("the podrun binary was changed from inside a container (%d bytes now, %d before)", len(got), len(data))
		}
	}
	return cmd, path, unchanged
}

// sealRunOut runs a detached podrun command whose container writes its
// stdout to the file out.
func sealRunOut(h *H, c *exec.Cmd, out string) {
	h.t.Helper()
	f, err := os.Create(out)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	c.Stdout = f
	h.MustNoPipes(c)
}

// sealGo lets the attacker make its second attempt.
func sealGo(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sealWaitOutput waits for the attacker's JSON line in the file out.
func sealWaitOutput(t *testing.T, out string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if bytes.HasSuffix(b, []byte("}\n")) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result from the attacker: %q", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sealWaitFile waits until path exists; out is the output of the process
// that should create it, shown if it does not.
func sealWaitFile(t *testing.T, path, out string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out)
			t.Fatalf("%s never appeared; output: %s", path, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type sealResult struct {
	Pid    int    `json:"pid"`
	Exe    string `json:"exe"`
	Direct string `json:"direct"`
	Reopen string `json:"reopen"`
}

// sealCheck parses the attacker's output and checks both attempts failed.
func sealCheck(t *testing.T, out, hostPath string) {
	t.Helper()
	var res sealResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		t.Fatalf("attacker output %q: %v", out, err)
	}
	t.Logf("attack on pid %d (exe %q): direct: %q, reopen: %q", res.Pid, res.Exe, res.Direct, res.Reopen)
	if res.Direct == "" {
		t.Errorf("/proc/%d/exe opened for writing while podrun ran it", res.Pid)
	}
	if res.Reopen == "" {
		t.Errorf("/proc/%d/exe reopened for writing once podrun was gone", res.Pid)
	}
	if res.Exe == hostPath {
		t.Errorf("/proc/%d/exe is the host binary %s", res.Pid, hostPath)
	}
}

// TestExeSealCreatedInit: a privileged container sharing the pid namespace
// of a created (not started) container attacks the waiting podrun init.
func TestExeSealCreatedInit(t *testing.T) {
	h := New(t)
	podrun, path, unchanged := sealBinary(h)
	victim := h.ID()
	h.MustNoPipes(podrun("create", "--bundle", h.Bundle(testimage.CheckerInRootfs, "sleep"), victim))
	pid := h.Pid(victim)

	attacker := h.Bundle(testimage.CheckerInRootfs, "exewrite", "--pid", "1", "--ready", "/ready", "--go", "/go")
	s := testimage.Spec(t, attacker)
	coreSetNS(s, specs.PIDNamespace, "/proc/"+strconv.Itoa(pid)+"/ns/pid")
	// CAP_SYS_PTRACE: access to /proc/1/exe is not what must stop the attack.
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
	c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
	c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
	s.Root.Readonly = false // for the ready file
	testimage.WriteSpec(t, attacker, s)
	outFile := filepath.Join(t.TempDir(), "out")
	sealRunOut(h, podrun("run", "-d", "--bundle", attacker, h.ID()), outFile)
	sealWaitFile(t, filepath.Join(attacker, "rootfs", "ready"), outFile)
	// The init execs the user process: podrun's binary is not busy any
	// more, and no podrun process is left to keep it busy.
	h.MustNoPipes(podrun("start", victim))
	sealGo(t, filepath.Join(attacker, "rootfs", "go"))
	out := sealWaitOutput(t, outFile)
	sealCheck(t, out, path)
	unchanged()
}

// TestExeSealExecShebang: the container's process makes `podrun exec` run
// podrun again inside the container (an executable starting with
// "#!/proc/self/exe", which the kernel resolves to the exec child's own
// binary) and attacks it, as in CVE-2019-5736.
func TestExeSealExecShebang(t *testing.T) {
	h := New(t)
	podrun, path, unchanged := sealBinary(h)
	bundle := h.Bundle(testimage.CheckerInRootfs, "sleep")
	s := testimage.Spec(t, bundle)
	s.Root.Readonly = false // for the ready file
	testimage.WriteSpec(t, bundle, s)
	// "init" with _PODRUN_SYNC_FD=0 makes the re-run podrun wait for a
	// message on its stdin, which the test holds open.
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "evil"), []byte("#!/proc/self/exe init\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	id := h.ID()
	h.MustNoPipes(podrun("run", "-d", "--bundle", bundle, id))

	outFile := filepath.Join(t.TempDir(), "out")
	sealRunOut(h, podrun("exec", "-d", id, testimage.CheckerInRootfs, "exewrite", "--cmdline", "init /evil", "--ready", "/ready", "--go", "/go"), outFile)

	// A socket, as the init protocol expects.
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(pair[0]), "evil-stdin"), os.NewFile(uintptr(pair[1]), "test-end")
	defer w.Close()
	evil := podrun("exec", "--env", "_PODRUN_SYNC_FD=0", id, "/evil")
	evil.Stdin = r
	evil.Stdout, evil.Stderr = io.Discard, io.Discard
	if err := evil.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	sealWaitFile(t, filepath.Join(bundle, "rootfs", "ready"), outFile)
	w.Close() // the re-run podrun reads EOF and exits
	_ = evil.Wait()
	sealGo(t, filepath.Join(bundle, "rootfs", "go"))
	out := sealWaitOutput(t, outFile)
	sealCheck(t, out, path)
	unchanged()
}
