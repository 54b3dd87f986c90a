package rootfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The integration tests re-exec the test binary in fresh namespaces
// (at least a new mount namespace): the child plays the container init,
// calls Prepare and Enter, runs a named check from inside the container
// and reports through its exit status and output. Nothing it mounts can
// reach the test's (host) mount namespace, which the parent verifies.

const (
	helperEnv = "PODRUN_ROOTFS_TEST_HELPER"
	inputEnv  = "PODRUN_ROOTFS_TEST_INPUT"
)

type helperInput struct {
	Config Config
	// Check names a function of helperChecks run after Enter, inside the
	// container.
	Check string
	// PrepareOnly stops after Prepare (and the check that every new mount
	// is inside the rootfs).
	PrepareOnly bool
}

// helperChecks run inside the container after Enter.
var helperChecks = map[string]func(in *helperInput) error{}

// helperModes are other child programs (not Prepare/Enter).
var helperModes = map[string]func() int{}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	runtime.LockOSThread()
	if f, ok := helperModes[mode]; ok {
		return f()
	}
	var in helperInput
	if err := json.Unmarshal([]byte(os.Getenv(inputEnv)), &in); err != nil {
		fmt.Println("bad input:", err)
		return 2
	}
	before, err := mountIDs()
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if err := Prepare(&in.Config); err != nil {
		fmt.Println("PREPARE ERROR:", err)
		return 3
	}
	// Every mount Prepare made must be inside the rootfs.
	rootfs, _ := filepath.EvalSymlinks(in.Config.Rootfs)
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	for _, m := range mounts {
		if !before[m.ID] && m.Mountpoint != rootfs && !strings.HasPrefix(m.Mountpoint, rootfs+"/") {
			fmt.Printf("mount outside the rootfs: %s (%s)\n", m.Mountpoint, m.FSType)
			return 4
		}
	}
	if in.PrepareOnly {
		return 0
	}
	if err := Enter(&in.Config); err != nil {
		fmt.Println("ENTER ERROR:", err)
		return 5
	}
	if in.Check != "" {
		if err := helperChecks[in.Check](&in); err != nil {
			fmt.Println("CHECK FAILED:", err)
			return 6
		}
	}
	fmt.Println("OK")
	return 0
}

func mountIDs() (map[int]bool, error) {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	ids := make(map[int]bool)
	for _, m := range mounts {
		ids[m.ID] = true
	}
	return ids, nil
}

// runChild runs the helper with the given clone flags and returns its
// output and exit code. It asserts that the host mount table mentions the
// test's temporary directory neither before nor after.
func runChild(t *testing.T, mode string, in *helperInput, cloneflags uintptr, userns bool) (string, int) {
	t.Helper()
	tmp := filepath.Dir(in.Config.Rootfs)
	assertNoHostMounts(t, tmp)
	t.Cleanup(func() { assertNoHostMounts(t, tmp) })

	if mode == "" {
		mode = "init"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, inputEnv+"="+string(b))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if userns {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run helper: %v", err)
	}
	return out.String(), code
}

func assertNoHostMounts(t *testing.T, dir string) {
	t.Helper()
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, dir) || strings.Contains(m.Root, dir) {
			t.Errorf("host mount table has %s (%s) under the test dir", m.Mountpoint, m.FSType)
		}
	}
}

// newBundle creates tmp/bundle/rootfs with a few directories, and returns
// a Config for it with the given mounts.
func newBundle(t *testing.T, mounts []specs.Mount) *Config {
	t.Helper()
	tmp := t.TempDir()
	bundle := filepath.Join(tmp, "bundle")
	rootfs := filepath.Join(tmp, "rootfs")
	for _, d := range []string{bundle, rootfs + "/proc", rootfs + "/sys", rootfs + "/dev", rootfs + "/etc", rootfs + "/tmp"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(rootfs, "marker"), "rootfs")
	return &Config{
		Rootfs:    rootfs,
		BundleDir: bundle,
		Spec: &specs.Spec{
			Root:   &specs.Root{Path: rootfs},
			Mounts: mounts,
			Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
				{Type: specs.MountNamespace}, {Type: specs.PIDNamespace},
			}},
		},
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checker collects failures of a check run inside the container.
type checker struct{ errs []string }

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(c.errs, "; "))
}

// mountsByPoint returns the container's mount table, the last (top) entry
// for each mount point, and the order in which mount points appear.
func mountsByPoint() (map[string]*mountinfo.Info, []string, error) {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, nil, err
	}
	by := make(map[string]*mountinfo.Info)
	var order []string
	for _, m := range mounts {
		if _, ok := by[m.Mountpoint]; !ok {
			order = append(order, m.Mountpoint)
		}
		by[m.Mountpoint] = m
	}
	return by, order, nil
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
