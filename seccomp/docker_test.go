package seccomp

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerProfile is Docker's default profile as Docker would give it to a
// container with runc's default capabilities.
func dockerProfile(t testing.TB) *specs.LinuxSeccomp {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}}}
	p, err := mobyseccomp.GetDefaultProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDockerProfile(t *testing.T) {
	p := dockerProfile(t)
	f := mustCompile(t, p)
	t.Logf("Docker's default profile: %d rules, %d instructions", len(p.Syscalls), len(f.Insns))
	check(t, f, x86("read", t), retAllow)
	check(t, f, x86("keyctl", t), retErrno|1)
	check(t, f, x86("mount", t), retErrno|1)
	check(t, f, x86("clone3", t), retErrno|enosys)
	check(t, f, x86("socket", t, 2, 1, 0), retAllow)
	check(t, f, x86("socket", t, 40, 1, 0), retErrno|1) // AF_VSOCK
	check(t, f, seccompData{arch: auditArchX86_64, nr: 1000}, retErrno|enosys)
	check(t, f, seccompData{arch: auditArchI386, nr: 20}, retAllow) // i386 getpid
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		agree(t, p, f, randomData(r, p))
	}
}

// BenchmarkCompileDocker is the per-start cost of seccomp in podrun create:
// compiling Docker's default profile (loading is one syscall).
func BenchmarkCompileDocker(b *testing.B) {
	p := dockerProfile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterJSON is the cost of passing the compiled filter to the init.
func BenchmarkFilterJSON(b *testing.B) {
	f := mustCompile(b, dockerProfile(b))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := json.Marshal(f)
		var g Filter
		if err := json.Unmarshal(buf, &g); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateDocker is what validateSpec adds to create.
func BenchmarkValidateDocker(b *testing.B) {
	p := dockerProfile(b)
	for b.Loop() {
		if err := Validate(p); err != nil {
			b.Fatal(err)
		}
	}
}
