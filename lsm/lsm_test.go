package lsm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost builds a /sys and /proc tree in a temporary directory.
func fakeHost(t *testing.T, files map[string]string) Host {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Host{Sys: filepath.Join(dir, "sys"), Proc: filepath.Join(dir, "proc")}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppArmorEnabled(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"enabled", map[string]string{"sys/module/apparmor/parameters/enabled": "Y\n", "sys/kernel/security/apparmor/": ""}, true},
		{"disabled", map[string]string{"sys/module/apparmor/parameters/enabled": "N\n", "sys/kernel/security/apparmor/": ""}, false},
		{"no securityfs", map[string]string{"sys/module/apparmor/parameters/enabled": "Y\n"}, false},
		{"no module", map[string]string{"sys/kernel/security/apparmor/": ""}, false},
	} {
		if got := fakeHost(t, c.files).AppArmorEnabled(); got != c.want {
			t.Errorf("%s: AppArmorEnabled %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	none := fakeHost(t, nil)
	both := fakeHost(t, map[string]string{
		"sys/module/apparmor/parameters/enabled": "Y", "sys/kernel/security/apparmor/": "",
		"sys/fs/selinux/enforce": "1",
	})
	if err := none.Check(Labels{}, "process"); err != nil {
		t.Errorf("no labels: %v", err)
	}
	err := none.Check(Labels{AppArmorProfile: "p"}, "process")
	if !errors.Is(err, ErrAppArmorDisabled) || !strings.HasPrefix(err.Error(), "process.apparmorProfile: ") {
		t.Errorf("apparmor without AppArmor: %v", err)
	}
	err = none.Check(Labels{SELinuxLabel: "a:b:c:s0"}, "process")
	if !errors.Is(err, ErrSELinuxDisabled) || !strings.HasPrefix(err.Error(), "process.selinuxLabel: ") {
		t.Errorf("selinux without SELinux: %v", err)
	}
	if err := both.Check(Labels{AppArmorProfile: "p", SELinuxLabel: "a:b:c:s0"}, "process"); err != nil {
		t.Errorf("labels on a host with both: %v", err)
	}
	if err := both.Check(Labels{AppArmorProfile: "p\nchangeprofile x"}, "process"); err == nil {
		t.Error("profile with a newline accepted")
	}
	err = none.CheckMountLabel("system_u:object_r:container_file_t:s0")
	if !errors.Is(err, ErrSELinuxDisabled) || !strings.HasPrefix(err.Error(), "linux.mountLabel: ") {
		t.Errorf("mount label without SELinux: %v", err)
	}
	if err := both.CheckMountLabel(`system_u:object_r:x_t:s0",nosuid`); err == nil {
		t.Error("mount label with a quote (would end the quoted context) accepted")
	}
	if err := both.CheckMountLabel("system_u:object_r:container_file_t:s0:c715,c811"); err != nil {
		t.Error(err)
	}
}

func TestOpenExecNothing(t *testing.T) {
	e, err := fakeHost(t, nil).OpenExec(Labels{})
	if e != nil || err != nil {
		t.Fatalf("OpenExec of no labels: %v, %v", e, err)
	}
	if err := e.Apply(); err != nil {
		t.Fatal(err)
	}
	e.Close()
}

func TestOpenExecAppArmor(t *testing.T) {
	// The per-module file wins over the shared one.
	h := fakeHost(t, map[string]string{"proc/thread-self/attr/apparmor/exec": "", "proc/thread-self/attr/exec": ""})
	e, err := h.OpenExec(Labels{AppArmorProfile: "podrun-test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(h.Proc, "thread-self/attr/apparmor/exec")); got != "" {
		t.Fatalf("written before Apply: %q", got)
	}
	if err := e.Apply(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(h.Proc, "thread-self/attr/apparmor/exec")); got != "exec podrun-test" {
		t.Errorf("attr/apparmor/exec = %q", got)
	}
	if got := read(t, filepath.Join(h.Proc, "thread-self/attr/exec")); got != "" {
		t.Errorf("legacy attr/exec written too: %q", got)
	}

	legacy := fakeHost(t, map[string]string{"proc/thread-self/attr/exec": ""})
	e, err = legacy.OpenExec(Labels{AppArmorProfile: "podrun-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(legacy.Proc, "thread-self/attr/exec")); got != "exec podrun-test" {
		t.Errorf("legacy attr/exec = %q", got)
	}

	if _, err := fakeHost(t, nil).OpenExec(Labels{AppArmorProfile: "p"}); err == nil ||
		!strings.HasPrefix(err.Error(), "process.apparmorProfile: ") {
		t.Errorf("no attr files: %v", err)
	}
}

func TestOpenExecSELinux(t *testing.T) {
	h := fakeHost(t, map[string]string{"proc/thread-self/attr/exec": "", "proc/thread-self/attr/keycreate": ""})
	label := "system_u:system_r:container_t:s0:c1,c2"
	e, err := h.OpenExec(Labels{SELinuxLabel: label})
	if err != nil {
		t.Fatal(err)
	}
	// The keyring label applies at once: the init joins a keyring before exec.
	if got := read(t, filepath.Join(h.Proc, "thread-self/attr/keycreate")); got != label {
		t.Errorf("keycreate = %q", got)
	}
	if err := e.Apply(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(h.Proc, "thread-self/attr/exec")); got != label {
		t.Errorf("attr/exec = %q", got)
	}
}

func TestMountContext(t *testing.T) {
	if got := MountContext("system_u:object_r:container_file_t:s0"); got != `context="system_u:object_r:container_file_t:s0"` {
		t.Errorf("MountContext = %s", got)
	}
	for fs, want := range map[string]bool{"tmpfs": true, "devpts": true, "proc": false, "sysfs": false,
		"cgroup": false, "cgroup2": false, "mqueue": false, "bind": false} {
		if Labelable(fs) != want {
			t.Errorf("Labelable(%s) != %v", fs, want)
		}
	}
}
