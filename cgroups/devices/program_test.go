package devices

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// String disassembles i (only the opcodes program emits).
func (i insn) String() string {
	switch {
	case i.code == unix.BPF_LDX|unix.BPF_MEM|unix.BPF_W:
		return fmt.Sprintf("ldxw r%d, [r%d%+d]", i.dst, i.src, i.off)
	case i.code&0x07 == unix.BPF_ALU:
		name := map[uint8]string{unix.BPF_AND: "and32", unix.BPF_RSH: "rsh32", unix.BPF_MOV: "mov32"}[i.code&0xf0]
		if i.code&unix.BPF_X != 0 {
			return fmt.Sprintf("%s r%d, r%d", name, i.dst, i.src)
		}
		return fmt.Sprintf("%s r%d, %#x", name, i.dst, uint32(i.imm))
	case i.code == unix.BPF_JMP|unix.BPF_EXIT:
		return "exit"
	case i.code&0x07 == unix.BPF_JMP:
		name := map[uint8]string{unix.BPF_JNE: "jne", unix.BPF_JEQ: "jeq"}[i.code&0xf0]
		if i.code&unix.BPF_X != 0 {
			return fmt.Sprintf("%s r%d, r%d, %+d", name, i.dst, i.src, i.off)
		}
		return fmt.Sprintf("%s r%d, %d, %+d", name, i.dst, i.imm, i.off)
	}
	return fmt.Sprintf("unknown %#02x", i.code)
}

func disasm(p []insn) string {
	var b strings.Builder
	for n, i := range p {
		fmt.Fprintf(&b, "%2d: %s\n", n, i)
	}
	return b.String()
}

// run interprets p as the kernel would run it for one request, for the
// instructions program emits; it fails on anything else, on backward
// jumps, on reads of r1 after it stops being the context, and on running
// off the end.
func run(p []insn, typ byte, major, minor uint32, acc access) (uint64, error) {
	devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
	if typ == 'b' {
		devType = unix.BPF_DEVCG_DEV_BLOCK
	}
	ctx := [3]uint32{uint32(acc)<<16 | devType, major, minor}
	var reg [11]uint64
	r1ctx := true
	for pc := 0; pc < len(p); pc++ {
		i := p[pc]
		if i.dst > 10 || i.src > 10 {
			return 0, fmt.Errorf("%d: bad register in %s", pc, i)
		}
		if i.dst == r1 && !(i.code&0x07 == unix.BPF_JMP) {
			r1ctx = false
		}
		switch {
		case i.code == unix.BPF_LDX|unix.BPF_MEM|unix.BPF_W:
			if i.src != r1 || !r1ctx || i.off < 0 || i.off > 8 || i.off%4 != 0 {
				return 0, fmt.Errorf("%d: bad context load %s", pc, i)
			}
			reg[i.dst] = uint64(ctx[i.off/4])
		case i.code&0x07 == unix.BPF_ALU:
			v := uint32(i.imm)
			if i.code&unix.BPF_X != 0 {
				v = uint32(reg[i.src])
			}
			d := uint32(reg[i.dst])
			switch i.code & 0xf0 {
			case unix.BPF_AND:
				d &= v
			case unix.BPF_RSH:
				d >>= v
			case unix.BPF_MOV:
				d = v
			default:
				return 0, fmt.Errorf("%d: unknown ALU op %s", pc, i)
			}
			reg[i.dst] = uint64(d) // 32-bit ops zero the upper half
		case i.code == unix.BPF_JMP|unix.BPF_EXIT:
			return reg[r0], nil
		case i.code&0x07 == unix.BPF_JMP:
			v := uint64(int64(i.imm)) // sign-extended, as the kernel does
			if i.code&unix.BPF_X != 0 {
				v = reg[i.src]
			}
			var taken bool
			switch i.code & 0xf0 {
			case unix.BPF_JNE:
				taken = reg[i.dst] != v
			case unix.BPF_JEQ:
				taken = reg[i.dst] == v
			default:
				return 0, fmt.Errorf("%d: unknown jump %s", pc, i)
			}
			if i.off < 0 {
				return 0, fmt.Errorf("%d: backward jump %s", pc, i)
			}
			if taken {
				pc += int(i.off)
			}
		default:
			return 0, fmt.Errorf("%d: unknown instruction %s", pc, i)
		}
	}
	return 0, fmt.Errorf("ran off the end of the program")
}

func TestProgramGolden(t *testing.T) {
	s := mustCompile(t, denyAll,
		dev(true, "c", 1, 3, "rwm"),
		dev(true, "c", 136, -1, "rw"),
		dev(true, "b", -1, -1, "m"),
		dev(true, "c", 1<<32-1, 1<<31, "r"))
	want := ` 0: ldxw r2, [r1+0]
 1: and32 r2, 0xffff
 2: ldxw r3, [r1+0]
 3: rsh32 r3, 0x10
 4: ldxw r4, [r1+4]
 5: ldxw r5, [r1+8]
 6: jne r2, 1, +5
 7: mov32 r1, r3
 8: and32 r1, 0xfffffffe
 9: jne r1, 0, +2
10: mov32 r0, 0x1
11: exit
12: jne r2, 2, +4
13: jne r4, 1, +3
14: jne r5, 3, +2
15: mov32 r0, 0x1
16: exit
17: jne r2, 2, +6
18: mov32 r1, r3
19: and32 r1, 0xfffffff9
20: jne r1, 0, +3
21: jne r4, 136, +2
22: mov32 r0, 0x1
23: exit
24: jne r2, 2, +9
25: mov32 r1, r3
26: and32 r1, 0xfffffffd
27: jne r1, 0, +6
28: mov32 r1, 0xffffffff
29: jne r4, r1, +4
30: mov32 r1, 0x80000000
31: jne r5, r1, +2
32: mov32 r0, 0x1
33: exit
34: mov32 r0, 0x0
35: exit
`
	// Exceptions come sorted by type, major, minor.
	got := disasm(program(s))
	if got != want {
		t.Fatalf("program for\n%sis\n%s\nwant\n%s", s, got, want)
	}
}

func TestProgramDenyListGolden(t *testing.T) {
	s := mustCompile(t, specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w"), dev(false, "b", 8, -1, "rwm"))
	want := ` 0: ldxw r2, [r1+0]
 1: and32 r2, 0xffff
 2: ldxw r3, [r1+0]
 3: rsh32 r3, 0x10
 4: ldxw r4, [r1+4]
 5: ldxw r5, [r1+8]
 6: jne r2, 1, +6
 7: mov32 r1, r3
 8: and32 r1, 0x7
 9: jeq r1, 0, +3
10: jne r4, 8, +2
11: mov32 r0, 0x0
12: exit
13: jne r2, 2, +7
14: mov32 r1, r3
15: and32 r1, 0x4
16: jeq r1, 0, +4
17: jne r4, 1, +3
18: jne r5, 3, +2
19: mov32 r0, 0x0
20: exit
21: mov32 r0, 0x1
22: exit
`
	if got := disasm(program(s)); got != want {
		t.Fatalf("program for\n%sis\n%s\nwant\n%s", s, got, want)
	}
}

// TestProgramMatchesModel runs the programs of random rule lists, and of
// the usual ones, on every probe request and compares their verdict with
// the v1 kernel's rules (state.allows).
func TestProgramMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lists := [][]specs.LinuxDeviceCgroup{
		nil,
		{{Allow: true, Access: "rwm"}},
		append([]specs.LinuxDeviceCgroup{denyAll}, DefaultAllowed...),
	}
	for range 1500 {
		_, rules := randomState(rng, rng.IntN(2) == 0)
		lists = append(lists, rules)
	}
	for _, rules := range lists {
		s := mustCompile(t, rules...)
		p := program(s)
		if len(p) > 4096 {
			t.Fatalf("%d instructions", len(p))
		}
		// The access check is also exact for access 0, which the kernel never asks.
		forEachProbe(func(typ byte, major, minor uint32, acc access) {
			got, err := run(p, typ, major, minor, acc)
			if err != nil {
				t.Fatalf("rules %v: %v\n%s", rules, err, disasm(p))
			}
			if want := s.allows(typ, major, minor, acc); (got == 1) != want || got > 1 {
				t.Fatalf("rules %v (state\n%s): program says %d for %c %d:%d %s, want %v\n%s", rules, s, got, typ, major, minor, acc, want, disasm(p))
			}
		})
	}
}

func TestEncode(t *testing.T) {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) != 1 {
		t.Skip("expected bytes are little-endian")
	}
	got := hex.EncodeToString(encode([]insn{
		ldxw(r2, r1, 8),
		alu32(unix.BPF_AND, r2, 0xffff),
		jmpImm(unix.BPF_JNE, r4, 136),
		jmpReg(unix.BPF_JNE, r5, r1),
		mov32reg(r1, r3),
		exit(),
	}))
	// 0x61 = LDX|MEM|W, regs byte = src<<4 | dst, off and imm little-endian.
	want := "6112080000000000" + "54020000ffff0000" + "5504000088000000" + "5d15000000000000" + "bc31000000000000" + "9500000000000000"
	if got != want {
		t.Fatalf("encode:\n%s\nwant\n%s", got, want)
	}
}
