package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Classic BPF opcodes used by the filter.
const (
	opLdAbs  = 0x20 // BPF_LD|BPF_W|BPF_ABS
	opAndK   = 0x54 // BPF_ALU|BPF_AND|BPF_K
	opJa     = 0x05 // BPF_JMP|BPF_JA
	opJeq    = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	opJgt    = 0x25
	opJge    = 0x35
	opJset   = 0x45
	opRetK   = 0x06 // BPF_RET|BPF_K
	offNr    = 0
	offArch  = 4
	offArgLo = 16 // args[i] at 16+8i, little endian
)

// label names an instruction to jump to before it is placed.
type label int

type node struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; jt is the target of ja
	pos    int   // index in the program, set by assemble
}

// asm is a tiny assembler with symbolic, forward-only jumps. Conditional
// jumps reach 255 instructions; longer ones get a ja trampoline.
type asm struct {
	nodes   []*node
	at      []*node // by label
	pending []label
	labels  label
}

func newAsm() *asm { return &asm{at: []*node{nil}} }

func (a *asm) label() label {
	a.labels++
	a.at = append(a.at, nil)
	return a.labels
}

// bind places l at the next emitted instruction.
func (a *asm) bind(l label) { a.pending = append(a.pending, l) }

func (a *asm) emit(n *node) {
	for _, l := range a.pending {
		a.at[l] = n
	}
	a.pending = a.pending[:0]
	a.nodes = append(a.nodes, n)
}

func (a *asm) ld(off uint32) { a.emit(&node{code: opLdAbs, k: off}) }
func (a *asm) and(k uint32)  { a.emit(&node{code: opAndK, k: k}) }
func (a *asm) ret(k uint32)  { a.emit(&node{code: opRetK, k: k}) }

// fall, as a jump target, is the instruction after the jump.
const fall label = -1

func (a *asm) jmp(op uint16, k uint32, t, f label) {
	n := &node{code: op, k: k, jt: t, jf: f}
	a.emit(n)
	if t == fall || f == fall {
		l := a.label()
		if t == fall {
			n.jt = l
		}
		if f == fall {
			n.jf = l
		}
		a.bind(l)
	}
}

// assemble resolves labels, inserting trampolines for far conditional jumps.
func (a *asm) assemble() ([]Insn, error) {
	for {
		for i, n := range a.nodes {
			n.pos = i
		}
		dist := func(i int, l label) (int, error) {
			t := a.at[l]
			if t == nil {
				return 0, fmt.Errorf("seccomp: internal error: unbound label %d", l)
			}
			d := t.pos - i - 1
			if d < 0 {
				return 0, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
			}
			return d, nil
		}
		// Every far conditional jump of this pass gets a trampoline right
		// after it; inserting may push others too far, hence the loop.
		grown := false
		out := make([]*node, 0, len(a.nodes))
		for i, n := range a.nodes {
			out = append(out, n)
			if n.code&0x07 != 0x05 || n.code == opJa {
				continue
			}
			for _, lp := range []*label{&n.jt, &n.jf} {
				d, err := dist(i, *lp)
				if err != nil {
					return nil, err
				}
				if d > 255-2 { // room for this pass's trampolines
					tramp := &node{code: opJa, jt: *lp}
					l := a.label()
					a.at[l] = tramp
					*lp = l
					out = append(out, tramp)
					grown = true
				}
			}
		}
		a.nodes = out
		if grown {
			continue
		}
		if len(a.nodes) > maxInsns {
			return nil, invalid(": the filter needs %d BPF instructions, more than the kernel's %d", len(a.nodes), maxInsns)
		}
		prog := make([]Insn, len(a.nodes))
		for i, n := range a.nodes {
			in := Insn{Code: n.code, K: n.k}
			switch {
			case n.code == opJa:
				d, err := dist(i, n.jt)
				if err != nil {
					return nil, err
				}
				in.K = uint32(d)
			case n.code&0x07 == 0x05:
				dt, err := dist(i, n.jt)
				if err != nil {
					return nil, err
				}
				df, err := dist(i, n.jf)
				if err != nil {
					return nil, err
				}
				in.Jt, in.Jf = uint8(dt), uint8(df)
			}
			prog[i] = in
		}
		return prog, nil
	}
}

// gen holds the shared return instructions, placed last.
type gen struct {
	*asm
	rets map[uint32]label
}

func (g *gen) retLabel(act uint32) label {
	l, ok := g.rets[act]
	if !ok {
		l = g.label()
		g.rets[act] = l
	}
	return l
}

// generate lays out the program:
//
//	load arch; dispatch to the x86_64 or i386 section, else bad arch
//	x86_64: load nr; x32 bit set -> x32 section (or bad arch)
//	each section: a binary search over syscall-number ranges, whose leaves
//	are shared returns or the condition blocks of single syscalls
func generate(def uint32, useEnosys bool, x64, x32, i386 *section) ([]Insn, error) {
	g := &gen{asm: newAsm(), rets: map[uint32]label{}}
	bad := g.retLabel(retKillThread)
	g.ld(offArch)
	s64 := g.label()
	var s32 label
	if i386 != nil {
		s32 = g.label()
		g.jmp(opJeq, auditArchX86_64, s64, fall)
		g.jmp(opJeq, auditArchI386, s32, bad)
	} else {
		g.jmp(opJeq, auditArchX86_64, s64, bad)
	}
	g.bind(s64)
	g.ld(offNr)
	sx32 := bad
	if x32 != nil {
		sx32 = g.label()
	}
	g.jmp(opJset, x32SyscallBit, sx32, fall)
	var blocks []func()
	blocks = append(blocks, g.section(x64, def, useEnosys)...)
	if x32 != nil {
		g.bind(sx32)
		blocks = append(blocks, g.section(x32, def, useEnosys)...)
	}
	if i386 != nil {
		g.bind(s32)
		g.ld(offNr)
		blocks = append(blocks, g.section(i386, def, useEnosys)...)
	}
	for _, b := range blocks {
		b()
	}
	acts := make([]uint32, 0, len(g.rets))
	for act := range g.rets {
		acts = append(acts, act)
	}
	slices.Sort(acts)
	for _, act := range acts {
		g.bind(g.rets[act])
		g.ret(act)
	}
	return g.assemble()
}

// rng maps syscall numbers from lo up to the next range's lo to a target.
type rng struct {
	lo     uint32
	target label
}

// section emits the search tree of one ABI (A holds the syscall number) and
// returns the condition blocks to emit after all trees.
func (g *gen) section(s *section, def uint32, useEnosys bool) []func() {
	nrs := make([]uint32, 0, len(s.uncond)+len(s.rules))
	for nr := range s.uncond {
		nrs = append(nrs, nr)
	}
	for nr := range s.rules {
		if _, ok := s.uncond[nr]; !ok {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	defl := g.retLabel(def)
	var ranges []rng
	// add starts a range at lo; the last range is replaced if it starts
	// there too, and neighbours with one target are merged.
	add := func(lo uint32, t label) {
		if n := len(ranges); n > 0 && ranges[n-1].lo == lo {
			ranges = ranges[:n-1]
		}
		if n := len(ranges); n > 0 && ranges[n-1].target == t {
			return
		}
		ranges = append(ranges, rng{lo, t})
	}
	add(0, defl)
	var blocks []func()
	for _, nr := range nrs {
		var t label
		// An unconditional rule overrides the syscall's conditional
		// ones, as in libseccomp.
		if act, ok := s.uncond[nr]; ok {
			t = g.retLabel(act)
		} else {
			rules := s.rules[nr]
			t = g.label()
			blocks = append(blocks, func() { g.bind(t); g.rules(rules, def) })
		}
		add(nr, t)
		if nr != ^uint32(0) {
			add(nr+1, defl)
		}
	}
	if useEnosys && s.listed && s.hasMax && s.max != ^uint32(0) {
		add(s.max+1, g.retLabel(retErrno|enosys))
	}
	g.tree(ranges)
	return blocks
}

// tree emits a binary search over ranges (at least one).
func (g *gen) tree(rs []rng) {
	if len(rs) == 1 {
		g.emit(&node{code: opJa, jt: rs[0].target})
		return
	}
	g.node(rs, 0)
}

// node emits the search node of rs, bound to self unless self is 0, and
// returns nothing: children follow it.
func (g *gen) node(rs []rng, self label) {
	if self != 0 {
		g.bind(self)
	}
	mid := len(rs) / 2
	child := func(part []rng) label {
		if len(part) == 1 {
			return part[0].target
		}
		return g.label()
	}
	left, right := child(rs[:mid]), child(rs[mid:])
	g.jmp(opJge, rs[mid].lo, right, left)
	if mid > 1 {
		g.node(rs[:mid], left)
	}
	if len(rs)-mid > 1 {
		g.node(rs[mid:], right)
	}
}

// rules emits the checks of one syscall's conditional rules.
func (g *gen) rules(rules []rule, fallback uint32) {
	for i, r := range rules {
		fail := g.retLabel(fallback)
		var nextRule label
		if i < len(rules)-1 {
			nextRule = g.label()
			fail = nextRule
		}
		for j, c := range r.conds {
			ok := g.retLabel(r.act)
			var nextCond label
			if j < len(r.conds)-1 {
				nextCond = g.label()
				ok = nextCond
			}
			g.cond(c, ok, fail)
			if nextCond != 0 {
				g.bind(nextCond)
			}
		}
		if nextRule != 0 {
			g.bind(nextRule)
		}
	}
}

// cond emits one 64-bit comparison as two 32-bit ones.
func (g *gen) cond(c cond, ok, fail label) {
	lo, hi := offArgLo+8*uint32(c.index), offArgLo+8*uint32(c.index)+4
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	// x != v is !(x == v), x < v is !(x >= v) and x <= v is !(x > v):
	// the same checks with the targets swapped.
	yes, no := ok, fail
	switch c.op {
	case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual:
		yes, no = fail, ok
	}
	switch c.op {
	case specs.OpEqualTo, specs.OpNotEqual:
		g.ld(hi)
		g.jmp(opJeq, vhi, fall, no)
		g.ld(lo)
		g.jmp(opJeq, vlo, yes, no)
	case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
		last := uint16(opJgt)
		if c.op == specs.OpGreaterEqual || c.op == specs.OpLessThan {
			last = opJge
		}
		g.ld(hi)
		g.jmp(opJgt, vhi, yes, fall)
		g.jmp(opJeq, vhi, fall, no)
		g.ld(lo)
		g.jmp(last, vlo, yes, no)
	case specs.OpMaskedEqual:
		mlo, mhi := vlo, vhi
		dlo, dhi := uint32(c.value2), uint32(c.value2>>32)
		g.ld(hi)
		g.and(mhi)
		g.jmp(opJeq, dhi, fall, fail)
		g.ld(lo)
		g.and(mlo)
		g.jmp(opJeq, dlo, ok, fail)
	}
}
