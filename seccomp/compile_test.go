package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func u(v uint) *uint { return &v }

// nr returns a syscall's x86_64 number for tests.
func nr(t testing.TB, name string) uint32 {
	n, ok := lookup(tableX86_64[:], name)
	if !ok {
		t.Fatalf("no syscall %q", name)
	}
	return n
}

func mustCompile(t testing.TB, s *specs.LinuxSeccomp) *Filter {
	t.Helper()
	f, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return f
}

func x86(name string, t testing.TB, args ...uint64) seccompData {
	d := seccompData{arch: auditArchX86_64, nr: nr(t, name)}
	copy(d.args[:], args)
	return d
}

func check(t *testing.T, f *Filter, d seccompData, want uint32) {
	t.Helper()
	got, err := run(f.Insns, d)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got != want {
		t.Errorf("syscall %#x arch %#x args %x: got %#x, want %#x", d.nr, d.arch, d.args, got, want)
	}
}

func TestCompileActions(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: u(13)},
			{Names: []string{"getpid"}, Action: specs.ActErrno},
			{Names: []string{"kill"}, Action: specs.ActKill},
			{Names: []string{"tkill"}, Action: specs.ActKillProcess},
			{Names: []string{"tgkill"}, Action: specs.ActKillThread},
			{Names: []string{"getppid"}, Action: specs.ActTrap},
			{Names: []string{"getuid"}, Action: specs.ActTrace, ErrnoRet: u(5)},
			{Names: []string{"getgid"}, Action: specs.ActLog},
			{Names: []string{"no_such_syscall", "getcwd"}, Action: specs.ActErrno, ErrnoRet: u(2)},
		},
	}
	f := mustCompile(t, s)
	check(t, f, x86("mkdir", t), retErrno|13)
	check(t, f, x86("mkdirat", t), retErrno|13)
	check(t, f, x86("getpid", t), retErrno|1)
	check(t, f, x86("kill", t), retKillThread)
	check(t, f, x86("tkill", t), retKillProcess)
	check(t, f, x86("tgkill", t), retKillThread)
	check(t, f, x86("getppid", t), retTrap)
	check(t, f, x86("getuid", t), retTrace|5)
	check(t, f, x86("getgid", t), retLog)
	check(t, f, x86("getcwd", t), retErrno|2)
	check(t, f, x86("read", t), retAllow)
	// Default ALLOW: no -ENOSYS for newer syscalls.
	check(t, f, seccompData{arch: auditArchX86_64, nr: 1000}, retAllow)
	// x32 and i386 are not in the filter: bad arch, whatever the number.
	check(t, f, seccompData{arch: auditArchX86_64, nr: x32SyscallBit | nr(t, "read")}, retKillThread)
	check(t, f, seccompData{arch: auditArchI386, nr: 3}, retKillThread)
	check(t, f, seccompData{arch: 0xc00000b7, nr: 0}, retKillThread) // aarch64
}

func TestCompileArchsAndX32(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid", "rt_sigaction"}, Action: specs.ActErrno, ErrnoRet: u(9)}},
	}
	f := mustCompile(t, s)
	check(t, f, x86("getpid", t), retErrno|9)
	// The x32 bit must not bypass the filter.
	check(t, f, seccompData{arch: auditArchX86_64, nr: x32SyscallBit | 39}, retErrno|9)
	check(t, f, seccompData{arch: auditArchX86_64, nr: x32SyscallBit | 512}, retErrno|9) // x32 rt_sigaction
	check(t, f, seccompData{arch: auditArchX86_64, nr: x32SyscallBit | 13}, retAllow)    // 64-bit rt_sigaction slot
	check(t, f, seccompData{arch: auditArchI386, nr: 20}, retErrno|9)                    // i386 getpid
	check(t, f, seccompData{arch: auditArchI386, nr: 39}, retAllow)
}

func TestCompileEnosys(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: u(1),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX32},
		Syscalls:        []specs.LinuxSyscall{{Names: []string{"read", "write", "openat"}, Action: specs.ActAllow}},
	}
	f := mustCompile(t, s)
	openat := nr(t, "openat")
	check(t, f, x86("read", t), retAllow)
	check(t, f, x86("close", t), retErrno|1)                                         // below the largest named: default
	check(t, f, seccompData{arch: auditArchX86_64, nr: openat + 1}, retErrno|enosys) // newer than the profile
	check(t, f, seccompData{arch: auditArchX86_64, nr: x32SyscallBit | openat + 1}, retErrno|enosys)
	check(t, f, seccompData{arch: auditArchX86_64, nr: ^uint32(0)}, retErrno|enosys)
	// Not for archs that are not listed, nor with defaultErrnoRet ENOSYS.
	s.Architectures = nil
	check(t, mustCompile(t, s), seccompData{arch: auditArchX86_64, nr: openat + 1}, retErrno|1)
	s.Architectures = []specs.Arch{specs.ArchX86_64}
	s.DefaultErrnoRet = u(enosys)
	check(t, mustCompile(t, s), seccompData{arch: auditArchX86_64, nr: 1000}, retErrno|enosys)
	check(t, mustCompile(t, s), x86("close", t), retErrno|enosys)
}

func TestCompileArgs(t *testing.T) {
	big := uint64(0x1_0000_0005)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			// ANDed conditions on two args.
			{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: u(3), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 9, Op: specs.OpNotEqual}}},
			// Two rules for one syscall are ORed.
			{Names: []string{"dup"}, Action: specs.ActErrno, ErrnoRet: u(4), Args: []specs.LinuxSeccompArg{{Index: 0, Value: big, Op: specs.OpGreaterEqual}}},
			{Names: []string{"dup"}, Action: specs.ActErrno, ErrnoRet: u(4), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2, Op: specs.OpLessThan}}},
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: u(5), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 0x08, Op: specs.OpMaskedEqual}}},
			{Names: []string{"close"}, Action: specs.ActErrno, ErrnoRet: u(6), Args: []specs.LinuxSeccompArg{{Index: 5, Value: big, Op: specs.OpGreaterThan}}},
			{Names: []string{"close"}, Action: specs.ActErrno, ErrnoRet: u(7), Args: []specs.LinuxSeccompArg{{Index: 5, Value: 3, Op: specs.OpLessEqual}}},
			// A repeated index: separate rules (runc), so this is "< 10 or > 20"-free: any holds.
			{Names: []string{"umask"}, Action: specs.ActErrno, ErrnoRet: u(8), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 10, Op: specs.OpGreaterThan}, {Index: 0, Value: 5, Op: specs.OpLessThan}}},
		},
	}
	f := mustCompile(t, s)
	check(t, f, x86("kill", t, 1, 15), retErrno|3)
	check(t, f, x86("kill", t, 1, 9), retAllow)
	check(t, f, x86("kill", t, 1|1<<32, 15), retAllow) // high half counts
	check(t, f, x86("dup", t, big), retErrno|4)
	check(t, f, x86("dup", t, big-1), retAllow)
	check(t, f, x86("dup", t, 5), retAllow)
	check(t, f, x86("dup", t, 1), retErrno|4)
	check(t, f, x86("personality", t, 0x1f08), retErrno|5)
	check(t, f, x86("personality", t, 0x1f09), retAllow)
	check(t, f, x86("close", t, 0, 0, 0, 0, 0, big+1), retErrno|6)
	check(t, f, x86("close", t, 0, 0, 0, 0, 0, big), retAllow)
	check(t, f, x86("close", t, 0, 0, 0, 0, 0, 3), retErrno|7)
	check(t, f, x86("umask", t, 11), retErrno|8)
	check(t, f, x86("umask", t, 4), retErrno|8)
	check(t, f, x86("umask", t, 7), retAllow)

	// An unconditional rule wins over conditional ones, wherever it is
	// (libseccomp, as runc shows).
	for _, first := range []bool{true, false} {
		cond := specs.LinuxSyscall{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: u(20),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpEqualTo}}}
		uncond := specs.LinuxSyscall{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: u(10)}
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{cond, uncond}}
		if first {
			s.Syscalls = []specs.LinuxSyscall{uncond, cond}
		}
		f := mustCompile(t, s)
		check(t, f, x86("getpgid", t, 5), retErrno|10)
		check(t, f, x86("getpgid", t, 6), retErrno|10)
	}
}

func TestCompileErrors(t *testing.T) {
	ok := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
	}
	for _, c := range []struct {
		mod  func(*specs.LinuxSeccomp)
		want string
	}{
		{func(s *specs.LinuxSeccomp) { s.DefaultAction = "FOO" }, `linux.seccomp.defaultAction: unknown action "FOO"`},
		{func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify }, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action"},
		{func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActAllow; s.DefaultErrnoRet = u(1) }, "linux.seccomp.defaultErrnoRet: only meaningful"},
		{func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = u(70000) }, "linux.seccomp.defaultErrnoRet: 70000 does not fit"},
		{func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{"SCMP_ARCH_VAX"} }, `linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_VAX"`},
		{func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FOO"} }, `linux.seccomp.flags[0]: unknown flag`},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].Action = "SCMP_ACT_FOO" }, `linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO"`},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = nil }, "linux.seccomp.syscalls[0].names: must name"},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = []string{"read", ""} }, "linux.seccomp.syscalls[0].names[1]: empty"},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].ErrnoRet = u(1) }, "linux.seccomp.syscalls[0].errnoRet: only meaningful"},
		{func(s *specs.LinuxSeccomp) {
			s.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}, "linux.seccomp.syscalls[0].args[0].index: 6 is not below 6"},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].Args = []specs.LinuxSeccompArg{{Op: "SCMP_CMP_FOO"}} }, `linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO"`},
		{func(s *specs.LinuxSeccomp) { s.Syscalls[0].Action = specs.ActNotify }, "linux.seccomp.listenerPath: listenerPath is not set"},
		{func(s *specs.LinuxSeccomp) {
			s.Syscalls[0].Action, s.Syscalls[0].Names, s.ListenerPath = specs.ActNotify, []string{"write"}, "/x"
		}, `linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY cannot be used for the write syscall`},
		{func(s *specs.LinuxSeccomp) {
			s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}, "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs"},
	} {
		s := ok()
		c.mod(s)
		_, err := Compile(s)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
			t.Errorf("want error %q..., got %v", c.want, err)
		}
	}
	if _, err := Compile(ok()); err != nil {
		t.Fatal(err)
	}
}

func TestCompileFlagsAndNotify(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: "/run/l.sock",
		Flags:    []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
	}
	f := mustCompile(t, s)
	if f.Flags != flagLog|flagSpecAllow|flagWaitKillableRecv || !f.Notify {
		t.Errorf("flags %#x notify %v", f.Flags, f.Notify)
	}
	check(t, f, x86("mkdir", t), retUserNotif)
	// JSON round trip (how the filter reaches the init).
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := json.Unmarshal(b, &g); err != nil || len(g.Insns) != len(f.Insns) || g.Flags != f.Flags || !g.Notify {
		t.Fatalf("round trip: %v", err)
	}
}

// TestCompileLongJumps makes sections far longer than a conditional jump
// reaches, so trampolines are needed.
func TestCompileLongJumps(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}}
	var names []string
	for i, e := range tableX86_64[:300] {
		names = append(names, e.name)
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActErrno, ErrnoRet: u(uint(i%7 + 2)),
			Args: []specs.LinuxSeccompArg{{Index: uint(i % 6), Value: uint64(i), Op: specs.OpEqualTo}}})
	}
	f := mustCompile(t, s)
	if len(f.Insns) < 300 {
		t.Fatalf("only %d instructions", len(f.Insns))
	}
	for i, n := range names {
		d := x86(n, t)
		d.args[i%6] = uint64(i)
		check(t, f, d, retErrno|uint32(i%7+2))
		d.args[i%6]++
		check(t, f, d, retErrno|1)
	}
}

// randomProfile builds a valid profile from r: names from a small pool (so
// rules collide), real and unknown, conditions on values that the random
// syscalls will hit.
func randomProfile(r *rand.Rand) *specs.LinuxSeccomp {
	acts := []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify}
	ops := []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}
	s := &specs.LinuxSeccomp{DefaultAction: acts[r.IntN(len(acts)-1)], ListenerPath: "/l"}
	if s.DefaultAction == specs.ActErrno || s.DefaultAction == specs.ActTrace {
		if r.IntN(2) == 0 {
			s.DefaultErrnoRet = u(uint(r.IntN(3) + 37)) // 37, 38 (ENOSYS), 39
		}
	}
	for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchARM} {
		if r.IntN(2) == 0 {
			s.Architectures = append(s.Architectures, a)
		}
	}
	for range r.IntN(12) {
		sc := specs.LinuxSyscall{Action: acts[r.IntN(len(acts))]}
		if (sc.Action == specs.ActErrno || sc.Action == specs.ActTrace) && r.IntN(2) == 0 {
			sc.ErrnoRet = u(uint(r.IntN(3) + 37))
		}
		for range 1 + r.IntN(3) {
			sc.Names = append(sc.Names, randomName(r))
		}
		for range r.IntN(4) {
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: uint(r.IntN(3)), Value: randomValue(r), ValueTwo: randomValue(r), Op: ops[r.IntN(len(ops))]})
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

var namePool = []string{"read", "write", "openat", "getpid", "rt_sigaction", "execve", "socket", "clone3",
	"fchmodat2", "listns", "waitpid", "socketcall", "no_such_call", "preadv2", "arm_fadvise64_64"}

func randomName(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return tableX86_64[r.IntN(len(tableX86_64))].name
	}
	return namePool[r.IntN(len(namePool))]
}

var valuePool = []uint64{0, 1, 2, 0xff, 0x100000000, 0x1000000ff, 0xffffffff, 1 << 63, ^uint64(0)}

func randomValue(r *rand.Rand) uint64 {
	if r.IntN(4) == 0 {
		return r.Uint64()
	}
	return valuePool[r.IntN(len(valuePool))]
}

func randomData(r *rand.Rand, s *specs.LinuxSeccomp) seccompData {
	d := seccompData{}
	switch r.IntN(5) {
	case 0, 1, 2:
		d.arch = auditArchX86_64
	case 3:
		d.arch = auditArchI386
	default:
		d.arch = r.Uint32()
	}
	tables := [][]sysEntry{tableX86_64[:], tableX32[:], tableX86[:]}
	switch r.IntN(4) {
	case 0:
		d.nr = r.Uint32()
	case 1:
		d.nr = uint32(r.IntN(600)) | uint32(r.IntN(2))<<30
	default:
		name := namePool[r.IntN(len(namePool))]
		if len(s.Syscalls) > 0 {
			sc := s.Syscalls[r.IntN(len(s.Syscalls))]
			name = sc.Names[r.IntN(len(sc.Names))]
		}
		if n, ok := lookup(tables[r.IntN(3)], name); ok {
			d.nr = n + uint32(r.IntN(3)) - 1
		}
	}
	for i := range d.args {
		v := randomValue(r)
		if r.IntN(3) == 0 {
			v += uint64(r.IntN(3)) - 1
		}
		d.args[i] = v
	}
	return d
}

func agree(t testing.TB, s *specs.LinuxSeccomp, f *Filter, d seccompData) {
	t.Helper()
	got, err := run(f.Insns, d)
	if err != nil {
		t.Fatalf("run: %v\nprofile: %s", err, mustJSON(s))
	}
	if want := evaluate(s, d); got != want {
		t.Fatalf("data %+v: program says %#x, profile says %#x\nprofile: %s", d, got, want, mustJSON(s))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestCompileMatchesEvaluation is the property test: random profiles,
// random syscall data, the program and the direct evaluation agree.
func TestCompileMatchesEvaluation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := randomProfile(r)
		f, err := Compile(s)
		if err != nil {
			// Only NOTIFY on write/sendmsg can make a random profile invalid.
			if !strings.Contains(err.Error(), "SCMP_ACT_NOTIFY cannot be used") {
				t.Fatalf("Compile: %v\n%s", err, mustJSON(s))
			}
			continue
		}
		for range 100 {
			agree(t, s, f, randomData(r, s))
		}
	}
}

// FuzzCompile derives a profile and syscall data from the input; Compile
// must not panic, and an accepted profile's program must agree with the
// direct evaluation.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("seed"), []byte("data"))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, []byte{255, 254})
	f.Fuzz(func(t *testing.T, profileSeed, dataSeed []byte) {
		r := rand.New(rand.NewChaCha8(seed32(profileSeed)))
		s := randomProfile(r)
		c, err := Compile(s)
		if err != nil {
			return
		}
		rd := rand.New(rand.NewChaCha8(seed32(dataSeed)))
		for range 50 {
			agree(t, s, c, randomData(rd, s))
		}
	})
}

// FuzzCompileJSON feeds arbitrary JSON profiles: no panic, and accepted
// ones agree with the evaluation.
func FuzzCompileJSON(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":4294967296,"op":"SCMP_CMP_GE"}]}]}`), uint32(0), uint64(1<<32))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_KILL"}]}`), uint32(83), uint64(0))
	f.Fuzz(func(t *testing.T, js []byte, nr uint32, arg uint64) {
		var s specs.LinuxSeccomp
		if json.Unmarshal(js, &s) != nil {
			return
		}
		c, err := Compile(&s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not a one-line field error", err)
			}
			return
		}
		for _, arch := range []uint32{auditArchX86_64, auditArchI386} {
			agree(t, &s, c, seccompData{arch: arch, nr: nr, args: [6]uint64{arg, arg + 1, ^arg, arg >> 32, arg << 32, 0}})
		}
	})
}

func seed32(b []byte) [32]byte {
	var s [32]byte
	copy(s[:], b)
	if len(b) > 32 {
		binary.LittleEndian.PutUint64(s[24:], uint64(len(b)))
		for i, c := range b[32:] {
			s[i%24] ^= c
		}
	}
	return s
}
