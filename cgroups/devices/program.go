package devices

import (
	"encoding/binary"
	"math"
	"unsafe"

	"golang.org/x/sys/unix"
)

// insn is one eBPF instruction (struct bpf_insn).
type insn struct {
	code     uint8
	dst, src uint8 // registers r0..r10
	off      int16
	imm      int32
}

// Registers of the device program: r1 holds the context on entry and is
// then scratch; r2..r5 hold the request (loaded once by the prologue).
const (
	r0 = iota // return value: 1 allow, 0 deny
	r1        // struct bpf_cgroup_dev_ctx *, then scratch
	r2        // device type (BPF_DEVCG_DEV_BLOCK or _CHAR)
	r3        // requested access (BPF_DEVCG_ACC_* bits)
	r4        // major
	r5        // minor
)

func ldxw(dst, src uint8, off int16) insn {
	return insn{code: unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W, dst: dst, src: src, off: off}
}
func alu32(op uint8, dst uint8, imm int32) insn {
	return insn{code: unix.BPF_ALU | op | unix.BPF_K, dst: dst, imm: imm}
}
func mov32reg(dst, src uint8) insn {
	return insn{code: unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X, dst: dst, src: src}
}
func jmpImm(op uint8, dst uint8, imm int32) insn {
	return insn{code: unix.BPF_JMP | op | unix.BPF_K, dst: dst, imm: imm}
}
func jmpReg(op uint8, dst, src uint8) insn {
	return insn{code: unix.BPF_JMP | op | unix.BPF_X, dst: dst, src: src}
}
func exit() insn { return insn{code: unix.BPF_JMP | unix.BPF_EXIT} }

func isJump(i insn) bool {
	return i.code&0x07 == unix.BPF_JMP && i.code&0xf0 != unix.BPF_EXIT
}

// program compiles s into a BPF_PROG_TYPE_CGROUP_DEVICE program that
// decides as s.allows does. Every exception has the same action (the
// opposite of the default), so their order does not matter; they are
// emitted sorted by type, major, minor. Each block jumps to the next one
// when the request does not match and returns its action when it does;
// the last instructions return the default.
//
// Comparisons are 64-bit (BPF_JMP, which every kernel with device programs
// has); the context's u32 fields load zero-extended, so a number above
// MaxInt32, which a sign-extended immediate cannot express, is moved into
// r1 with a 32-bit mov first.
func program(s *state) []insn {
	p := []insn{
		// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
		// access_type is (access << 16) | type; a u32 load reads it the same
		// on either byte order.
		ldxw(r2, r1, 0),
		alu32(unix.BPF_AND, r2, 0xffff),
		ldxw(r3, r1, 0),
		alu32(unix.BPF_RSH, r3, 16),
		ldxw(r4, r1, 4),
		ldxw(r5, r1, 8),
	}
	action := int32(0)
	if !s.allowAll {
		action = 1
	}
	for _, k := range s.keys() {
		acc := s.ex[k]
		var b []insn
		devType := int32(unix.BPF_DEVCG_DEV_CHAR)
		if k.typ == 'b' {
			devType = unix.BPF_DEVCG_DEV_BLOCK
		}
		b = append(b, jmpImm(unix.BPF_JNE, r2, devType))
		switch {
		case !s.allowAll && acc != accAll:
			// allow only if every requested access is granted:
			// if (access & ^acc) != 0 goto next
			b = append(b,
				mov32reg(r1, r3),
				alu32(unix.BPF_AND, r1, ^int32(acc)),
				jmpImm(unix.BPF_JNE, r1, 0))
		case s.allowAll:
			// deny if any requested access is named:
			// if (access & acc) == 0 goto next
			b = append(b,
				mov32reg(r1, r3),
				alu32(unix.BPF_AND, r1, int32(acc)),
				jmpImm(unix.BPF_JEQ, r1, 0))
		}
		b = appendCompare(b, r4, k.major)
		b = appendCompare(b, r5, k.minor)
		b = append(b, alu32(unix.BPF_MOV, r0, action), exit())
		// Point every jump of the block past its end.
		for i := range b {
			if isJump(b[i]) {
				b[i].off = int16(len(b) - i - 1)
			}
		}
		p = append(p, b...)
	}
	return append(p, alu32(unix.BPF_MOV, r0, 1-action), exit())
}

// appendCompare adds "if reg != n goto next" unless n is -1 (any).
func appendCompare(b []insn, reg uint8, n int64) []insn {
	switch {
	case n < 0:
		return b
	case n <= math.MaxInt32:
		return append(b, jmpImm(unix.BPF_JNE, reg, int32(n)))
	default:
		return append(b,
			alu32(unix.BPF_MOV, r1, int32(uint32(n))),
			jmpReg(unix.BPF_JNE, reg, r1))
	}
}

// encode lays the program out as the kernel reads it (struct bpf_insn
// with the dst_reg:4, src_reg:4 bitfield in native order).
func encode(p []insn) []byte {
	x := uint16(1)
	bigEndian := *(*byte)(unsafe.Pointer(&x)) == 0
	buf := make([]byte, 8*len(p))
	for i, in := range p {
		b := buf[8*i:]
		b[0] = in.code
		if bigEndian {
			b[1] = in.dst<<4 | in.src&0x0f
		} else {
			b[1] = in.src<<4 | in.dst&0x0f
		}
		binary.NativeEndian.PutUint16(b[2:], uint16(in.off))
		binary.NativeEndian.PutUint32(b[4:], uint32(in.imm))
	}
	return buf
}
