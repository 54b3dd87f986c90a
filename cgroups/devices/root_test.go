package devices

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

// The privileged tests check the effect of the rules on a real process:
// a copy of the test binary started in helper mode waits on its stdin, is
// moved into the test cgroup, and only then tries the operations given as
// arguments, printing "ok" or the errno name for each.

const helperEnv = "PODRUN_DEVICES_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helper runs the operations: "open-r:PATH", "open-w:PATH", "open-rw:PATH"
// and "mknod-c:MAJOR:MINOR:PATH".
func helper(ops []string) int {
	var b [1]byte
	if _, err := os.Stdin.Read(b[:]); err != nil {
		fmt.Println("stdin:", err)
		return 2
	}
	for _, op := range ops {
		kind, arg, _ := strings.Cut(op, ":")
		var err error
		switch kind {
		case "open-r", "open-w", "open-rw":
			flag := map[string]int{"open-r": unix.O_RDONLY, "open-w": unix.O_WRONLY, "open-rw": unix.O_RDWR}[kind]
			var fd int
			if fd, err = unix.Open(arg, flag|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
			}
		case "mknod-c":
			f := strings.SplitN(arg, ":", 3)
			major, _ := strconv.Atoi(f[0])
			minor, _ := strconv.Atoi(f[1])
			if err = unix.Mknod(f[2], unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(major), uint32(minor)))); err == nil {
				os.Remove(f[2])
			}
		default:
			err = fmt.Errorf("unknown op %q", op)
		}
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.As(err, new(unix.Errno)):
			fmt.Println(unix.ErrnoName(err.(unix.Errno)))
		default:
			fmt.Println(err)
		}
	}
	return 0
}

// runIn starts the helper, moves it into the cgroup dir and returns one
// result per op.
func runIn(t *testing.T, dir string, ops ...string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], ops...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("move helper into %s: %v", dir, err)
	}
	stdin.Write([]byte{1})
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v: %s", err, out.String())
	}
	var res []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		res = append(res, sc.Text())
	}
	if len(res) != len(ops) {
		t.Fatalf("helper printed %q for %d ops", res, len(ops))
	}
	return res
}

// mountOf returns the mount point of the first cgroup hierarchy that
// /proc/self/mountinfo lists with filesystem type fstype and, for v1, the
// super option opt.
func mountOf(fstype, opt string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != fstype {
			continue
		}
		if opt == "" || strings.Contains(","+g[2]+",", ","+opt+",") {
			return f[4]
		}
	}
	return ""
}

// newCgroup makes root/podrun-test-devices-NAME-PID and removes it at the end.
func newCgroup(t *testing.T, root string) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	dir := filepath.Join(root, fmt.Sprintf("podrun-test-devices-%s-%d", name, os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 { // the last helper may take a moment to leave
			if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("remove %s: %v", dir, err)
	})
	return dir
}

type effect struct {
	op   string
	want string // "ok" or an errno name
}

func checkEffects(t *testing.T, dir string, effects []effect) {
	t.Helper()
	ops := make([]string, len(effects))
	for i, e := range effects {
		ops[i] = e.op
	}
	for i, got := range runIn(t, dir, ops...) {
		if got != effects[i].want {
			t.Errorf("%s in %s: %s, want %s", effects[i].op, filepath.Base(dir), got, effects[i].want)
		}
	}
}

// The scenarios shared by the v1 and v2 tests: each is applied in turn to
// the same cgroup, so the later ones also test the transitions.
func scenarios(t *testing.T) []struct {
	name    string
	rules   []specs.LinuxDeviceCgroup
	list    string // devices.list expected on v1
	effects []effect
} {
	node := filepath.Join(t.TempDir(), "node")
	return []struct {
		name    string
		rules   []specs.LinuxDeviceCgroup
		list    string
		effects []effect
	}{
		{"null rw, zero r",
			[]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rw"), dev(true, "c", 1, 5, "r")},
			"c 1:3 rw\nc 1:5 r\n",
			[]effect{
				{"open-w:/dev/null", "ok"}, {"open-rw:/dev/null", "ok"}, {"open-r:/dev/zero", "ok"},
				{"open-w:/dev/zero", "EPERM"}, {"open-rw:/dev/zero", "EPERM"}, {"open-r:/dev/full", "EPERM"},
				{"mknod-c:1:3:" + node, "EPERM"},
			}},
		{"null read only, mknod of null",
			[]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "m")},
			"c 1:3 rm\n",
			[]effect{
				{"open-r:/dev/null", "ok"}, {"open-w:/dev/null", "EPERM"}, {"open-rw:/dev/null", "EPERM"},
				{"open-r:/dev/zero", "EPERM"}, {"mknod-c:1:3:" + node, "ok"}, {"mknod-c:1:5:" + node, "EPERM"},
			}},
		{"runc defaults",
			append([]specs.LinuxDeviceCgroup{denyAll}, DefaultAllowed...),
			"b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n",
			[]effect{
				{"open-rw:/dev/null", "ok"}, {"open-r:/dev/urandom", "ok"}, {"open-w:/dev/full", "ok"},
				{"mknod-c:4:1:" + node, "ok"}, {"open-r:/dev/kmsg", "EPERM"},
			}},
		{"deny list: null not writable",
			[]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w")},
			"a *:* rwm\n",
			[]effect{
				{"open-r:/dev/null", "ok"}, {"open-w:/dev/null", "EPERM"}, {"open-rw:/dev/null", "EPERM"},
				{"open-w:/dev/zero", "ok"}, {"mknod-c:1:3:" + node, "ok"},
			}},
		{"deny all",
			[]specs.LinuxDeviceCgroup{denyAll},
			"",
			[]effect{{"open-r:/dev/null", "EPERM"}, {"open-w:/dev/zero", "EPERM"}, {"mknod-c:1:3:" + node, "EPERM"}},
		},
		{"wildcard minor",
			[]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, -1, "r")},
			"c 1:* r\n",
			[]effect{{"open-r:/dev/null", "ok"}, {"open-r:/dev/zero", "ok"}, {"open-w:/dev/zero", "EPERM"}, {"open-r:/dev/tty", "EPERM"}},
		},
	}
}

func TestV1Effect(t *testing.T) {
	testutil.RequiresRoot(t)
	root := mountOf("cgroup", "devices")
	if root == "" {
		t.Skip("no cgroup v1 devices hierarchy")
	}
	dir := newCgroup(t, root)
	for _, sc := range scenarios(t) {
		if err := ApplyV1(dir, sc.rules); err != nil {
			t.Fatalf("%s: ApplyV1: %v", sc.name, err)
		}
		list, err := os.ReadFile(filepath.Join(dir, "devices.list"))
		if err != nil {
			t.Fatal(err)
		}
		// devices.list lists in the kernel's order: compare sorted.
		got, _ := parseList(string(list))
		want, _ := parseList(sc.list)
		if !got.equal(want) {
			t.Errorf("%s: devices.list:\n%s\nwant:\n%s", sc.name, list, sc.list)
		}
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) { checkEffects(t, dir, sc.effects) })
	}
}

func TestV1InvalidRulesTouchNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	root := mountOf("cgroup", "devices")
	if root == "" {
		t.Skip("no cgroup v1 devices hierarchy")
	}
	dir := newCgroup(t, root)
	if err := ApplyV1(dir, []specs.LinuxDeviceCgroup{denyAll, dev(true, "x", 1, 3, "r")}); err == nil || !strings.Contains(err.Error(), "linux.resources.devices[1].type") {
		t.Fatalf("ApplyV1 with a bad type: %v", err)
	}
	if list, _ := os.ReadFile(filepath.Join(dir, "devices.list")); string(list) != "a *:* rwm\n" {
		t.Fatalf("devices.list after a refused ApplyV1: %q", list)
	}
}

func v2Root(t *testing.T) string {
	testutil.RequiresRoot(t)
	root := mountOf("cgroup2", "")
	if root == "" {
		t.Skip("no cgroup2 hierarchy")
	}
	return root
}

func attachedCount(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids, err := attachedIDs(fd)
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

func TestV2Effect(t *testing.T) {
	dir := newCgroup(t, v2Root(t))
	for _, sc := range scenarios(t) {
		if err := ApplyV2(dir, sc.rules); err != nil {
			t.Fatalf("%s: ApplyV2: %v", sc.name, err)
		}
		// Each ApplyV2 replaces the program of the one before.
		if n := attachedCount(t, dir); n != 1 {
			t.Fatalf("%s: %d device programs attached, want 1", sc.name, n)
		}
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) { checkEffects(t, dir, sc.effects) })
	}
}

// TestV2ReplacesAll attaches programs as another manager might (several,
// with BPF_F_ALLOW_MULTI) and checks that ApplyV2 leaves only its own.
func TestV2ReplacesAll(t *testing.T) {
	dir := newCgroup(t, v2Root(t))
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	denyNull := mustCompile(t, specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "rwm"))
	for range 3 {
		prog, err := loadProgram(program(denyNull))
		if err != nil {
			t.Fatal(err)
		}
		err = progAttach(fd, prog, unix.BPF_F_ALLOW_MULTI, -1)
		unix.Close(prog)
		if err != nil {
			t.Fatal(err)
		}
	}
	checkEffects(t, dir, []effect{{"open-r:/dev/null", "EPERM"}, {"open-r:/dev/zero", "ok"}})
	if err := ApplyV2(dir, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r")}); err != nil {
		t.Fatal(err)
	}
	if n := attachedCount(t, dir); n != 1 {
		t.Fatalf("%d device programs attached after ApplyV2, want 1", n)
	}
	checkEffects(t, dir, []effect{{"open-r:/dev/null", "ok"}, {"open-r:/dev/zero", "EPERM"}})
}

func TestV2InvalidRules(t *testing.T) {
	dir := newCgroup(t, v2Root(t))
	err := ApplyV2(dir, []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "")})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.devices[1].access") {
		t.Fatalf("ApplyV2 with an empty access: %v", err)
	}
	if n := attachedCount(t, dir); n != 0 {
		t.Fatalf("%d device programs attached after a refused ApplyV2", n)
	}
}
