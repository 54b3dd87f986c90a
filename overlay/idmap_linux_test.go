package overlay

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
)

// TestCreateAttached drives the path kernels before detached layer mounts
// were clonable take (the 6.x of Debian 12 and Ubuntu CI hosts): the
// idmapped layers are attached for the create only, the overlay shows
// them shifted, and nothing stays mounted or on disk.
func TestCreateAttached(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	m := &Mount{Lower: []string{filepath.Join(base, "l0"), filepath.Join(base, "l1")}, Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work")}
	for _, d := range append(append([]string{}, m.Lower...), m.Upper, m.Work) {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range m.Lower {
		if err := os.WriteFile(filepath.Join(l, "f"+string(rune('0'+i))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sleep := exec.Command("sleep", "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
	}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	userns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer userns.Close()
	var clones []int
	defer func() {
		for _, fd := range clones {
			unix.Close(fd)
		}
	}()
	for _, l := range m.Lower {
		fd, err := idmappedClone(l, userns)
		if err != nil {
			t.Fatal(err)
		}
		clones = append(clones, fd)
	}
	f, err := m.createAttached(clones)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"f0", "f1"} {
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), name, &st, 0); err != nil {
			t.Fatalf("%s in the overlay: %v", name, err)
		}
		if st.Uid != 100000 || st.Gid != 100000 {
			t.Errorf("%s: owner %d:%d through the overlay, want 100000:100000 (idmapped)", name, st.Uid, st.Gid)
		}
	}
	left, _ := filepath.Glob(filepath.Join(base, ".idmap-*"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), base) {
		t.Errorf("a layer stays mounted under %s:\n%s", base, mi)
	}
}
