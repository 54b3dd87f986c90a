package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file holds the two references the compiled programs are checked
// against: a classic BPF interpreter over struct seccomp_data, and a direct
// evaluation of the profile that shares nothing with the compiler but the
// syscall tables.

type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], 0x7fff12345678) // instruction pointer
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// run interprets prog as the kernel would (the subset of classic BPF the
// seccomp checker accepts and this compiler emits); any other opcode, an
// out-of-range load or jump, or running off the end is an error.
func run(prog []Insn, d seccompData) (uint32, error) {
	data := d.bytes()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		cond := func(ok bool) {
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case opLdAbs:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				return 0, fmt.Errorf("pc %d: bad load offset %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case opAndK:
			a &= in.K
		case opJa:
			pc += int(in.K)
		case opJeq:
			cond(a == in.K)
		case opJgt:
			cond(a > in.K)
		case opJge:
			cond(a >= in.K)
		case opJset:
			cond(a&in.K != 0)
		case opRetK:
			return in.K, nil
		default:
			return 0, fmt.Errorf("pc %d: unexpected opcode %#x", pc, in.Code)
		}
		if pc+1 > len(prog) {
			return 0, fmt.Errorf("pc %d: jump out of the program", pc)
		}
	}
	return 0, fmt.Errorf("ran off the end of the program")
}

// refAction maps a spec action as the runtime spec and runc define it.
func refAction(a specs.LinuxSeccompAction, errnoRet *uint) uint32 {
	e := uint32(1)
	if errnoRet != nil {
		e = uint32(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return 0
	case specs.ActKillProcess:
		return 0x80000000
	case specs.ActTrap:
		return 0x00030000
	case specs.ActErrno:
		return 0x00050000 | e
	case specs.ActTrace:
		return 0x7ff00000 | e
	case specs.ActAllow:
		return 0x7fff0000
	case specs.ActLog:
		return 0x7ffc0000
	case specs.ActNotify:
		return 0x7fc00000
	}
	panic("unknown action " + a)
}

func condHolds(c specs.LinuxSeccompArg, v uint64) bool {
	switch c.Op {
	case specs.OpEqualTo:
		return v == c.Value
	case specs.OpNotEqual:
		return v != c.Value
	case specs.OpLessThan:
		return v < c.Value
	case specs.OpLessEqual:
		return v <= c.Value
	case specs.OpGreaterThan:
		return v > c.Value
	case specs.OpGreaterEqual:
		return v >= c.Value
	case specs.OpMaskedEqual:
		return v&c.Value == c.ValueTwo
	}
	panic("unknown op " + c.Op)
}

// evaluate decides a syscall directly from a (valid) profile.
func evaluate(s *specs.LinuxSeccomp, d seccompData) uint32 {
	def := refAction(s.DefaultAction, s.DefaultErrnoRet)
	listed := func(a specs.Arch) bool { return slices.Contains(s.Architectures, a) }
	var table []sysEntry
	var archListed bool
	switch {
	case d.arch == 0xc000003e && d.nr&(1<<30) == 0:
		table, archListed = tableX86_64[:], listed(specs.ArchX86_64)
	case d.arch == 0xc000003e && listed(specs.ArchX32):
		table, archListed = tableX32[:], true
	case d.arch == 0x40000003 && listed(specs.ArchX86):
		table, archListed = tableX86[:], true
	default:
		return 0 // bad arch: KILL_THREAD
	}
	nrOf := func(name string) (uint32, bool) { return lookup(table, name) }
	permissive := s.DefaultAction == specs.ActAllow || s.DefaultAction == specs.ActLog || s.DefaultAction == specs.ActTrace
	if archListed && !permissive && (s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != 38) {
		max, any := uint32(0), false
		for _, sc := range s.Syscalls {
			for _, n := range sc.Names {
				if nr, ok := nrOf(n); ok && (!any || nr > max) {
					max, any = nr, true
				}
			}
		}
		if any && d.nr > max {
			return 0x00050000 | 38
		}
	}
	var uncond, cond *uint32
	for _, sc := range s.Syscalls {
		act := refAction(sc.Action, sc.ErrnoRet)
		if act == def {
			continue
		}
		match := false
		for _, n := range sc.Names {
			if nr, ok := nrOf(n); ok && nr == d.nr {
				match = true
			}
		}
		if !match {
			continue
		}
		if len(sc.Args) == 0 {
			if uncond == nil {
				uncond = &act
			}
			continue
		}
		if uncond != nil {
			continue // decided below: an unconditional rule wins
		}
		idx := map[uint]bool{}
		repeated := false
		for _, c := range sc.Args {
			repeated = repeated || idx[c.Index]
			idx[c.Index] = true
		}
		all, anyHolds := true, false
		for _, c := range sc.Args {
			h := condHolds(c, d.args[c.Index])
			all = all && h
			anyHolds = anyHolds || h
		}
		if ((repeated && anyHolds) || (!repeated && all)) && cond == nil {
			cond = &act
		}
	}
	if uncond != nil {
		return *uncond
	}
	if cond != nil {
		return *cond
	}
	return def
}
