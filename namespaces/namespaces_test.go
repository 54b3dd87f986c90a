package namespaces

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestNewFlags(t *testing.T) {
	nss := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
		{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}, {Type: specs.UserNamespace},
	}
	got := NewFlags(nss)
	want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUSER)
	if got != want {
		t.Fatalf("NewFlags = %#x, want %#x", got, want)
	}
	if !Has(nss, specs.NetworkNamespace) || Has(nss, specs.IPCNamespace) {
		t.Error("Has")
	}
	if Path(nss, specs.NetworkNamespace) != "/proc/1/ns/net" {
		t.Error("Path")
	}
}

func TestValidate(t *testing.T) {
	if err := Validate([]specs.LinuxNamespace{{Type: "pid"}, {Type: "mount"}}); err != nil {
		t.Fatal(err)
	}
	err := Validate([]specs.LinuxNamespace{{Type: "pid"}, {Type: "pid"}})
	if err == nil || !strings.Contains(err.Error(), "linux.namespaces[1]") {
		t.Errorf("duplicate: %v", err)
	}
	if err := Validate([]specs.LinuxNamespace{{Type: "nope"}}); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestOpenNSChecksType(t *testing.T) {
	if _, err := openNS(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/uts"}); err == nil ||
		!strings.Contains(err.Error(), "is not a network namespace") {
		t.Errorf("wrong type: %v", err)
	}
	if _, err := openNS(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/etc/hostname"}); err == nil {
		t.Error("regular file accepted as namespace")
	}
	f, err := openNS(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/self/ns/uts"})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestLookPathText(t *testing.T) {
	_, err := lookPath("definitely-not-here", []string{"PATH=/nonexistent"})
	if err == nil || err.Error() != `exec: "definitely-not-here": executable file not found in $PATH` {
		t.Fatalf("lookPath error = %v", err)
	}
	p, err := lookPath("sh", []string{"PATH=/nonexistent:/bin"})
	if err != nil || p != "/bin/sh" {
		t.Fatalf("lookPath(sh) = %q, %v", p, err)
	}
}
