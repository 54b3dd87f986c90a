// Package seccomp turns the OCI linux.seccomp section into a classic BPF
// program for seccomp(2), with libseccomp's and runc's semantics, and loads
// it. It is pure Go: no cgo, no shared library, no work at package init.
//
// Semantics (those of runc with libseccomp, where a profile can tell):
//   - The native arch (x86_64) is always in the filter, as libseccomp puts it
//     there; SCMP_ARCH_X86 and SCMP_ARCH_X32 add the i386 and x32 ABIs. Other
//     archs are accepted and can never match on an x86_64 kernel. A syscall
//     of an arch not in the filter gets the bad-arch action (KILL_THREAD);
//     on x86_64 the x32 bit (1<<30) selects the x32 ABI, so x32 syscall
//     numbers never reach the x86_64 rules.
//   - Unknown syscall names are skipped; rules whose action is the default
//     action are dropped (libseccomp refuses them).
//   - Conditions of one rule are ANDed, except that conditions repeating an
//     argument index become separate rules (runc's behaviour, runc#2735);
//     rules of one syscall are ORed. An unconditional rule wins over the
//     syscall's conditional ones (libseccomp), the first one if several;
//     otherwise conditional rules are tried in profile order (where
//     libseccomp refuses overlapping ones with different actions), then
//     the default action applies.
//   - Values are 64-bit, compared unsigned on both 32-bit halves;
//     SCMP_CMP_MASKED_EQ is (arg & value) == valueTwo.
//   - runc's -ENOSYS rule: unless the default action is ALLOW, LOG or TRACE
//     or defaultErrnoRet is ENOSYS, a syscall numbered above the largest one
//     the profile names (per listed arch) returns ENOSYS, so that a program
//     can tell a syscall newer than the profile from a denied one.
package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/mktables

// Return values of a seccomp filter (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

// Filter flags of seccomp(2).
const (
	flagTsync            = 1 << 0
	flagLog              = 1 << 1
	flagSpecAllow        = 1 << 2
	flagNewListener      = 1 << 3
	flagWaitKillableRecv = 1 << 5
)

const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
	x32SyscallBit   = 0x40000000
	enosys          = 38
	maxInsns        = 4096 // BPF_MAXINSNS
	maxArgs         = 6
)

// ErrInvalid marks an invalid profile; the message names the field.
var ErrInvalid = errors.New("invalid seccomp profile")

type fieldError struct{ msg string }

func (e *fieldError) Error() string   { return e.msg }
func (e *fieldError) Is(t error) bool { return t == ErrInvalid }

func invalid(format string, a ...any) error {
	return &fieldError{msg: "linux.seccomp" + fmt.Sprintf(format, a...)}
}

// sysEntry is one row of a syscall name table.
type sysEntry struct {
	name string
	nr   uint32
}

// lookup finds name in a table sorted by name.
func lookup(t []sysEntry, name string) (uint32, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].name >= name })
	if i < len(t) && t[i].name == name {
		return t[i].nr, true
	}
	return 0, false
}

// Actions lists the actions podrun knows (for `podrun features`).
func Actions() []string {
	return []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
		"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}
}

// Operators lists the argument operators podrun knows.
func Operators() []string {
	return []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
		"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}
}

// knownArchs are the arch names of the spec; only the x86 family can match
// on this host.
var knownArchs = []specs.Arch{
	specs.ArchAARCH64, specs.ArchARM, specs.ArchLOONGARCH64, specs.ArchMIPS, specs.ArchMIPS64,
	specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
	specs.ArchPARISC, specs.ArchPARISC64, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE,
	specs.ArchRISCV64, specs.ArchS390, specs.ArchS390X, specs.ArchX32, specs.ArchX86, specs.ArchX86_64,
}

// Archs lists the arch names podrun accepts.
func Archs() []string {
	out := make([]string, len(knownArchs))
	for i, a := range knownArchs {
		out[i] = string(a)
	}
	return out
}

// flagBit maps the spec's flags to seccomp(2) flags (a switch, not a map:
// no work at package init). TSYNC is accepted and has no effect: the filter
// is loaded by the one thread that then execs.
func flagBit(f specs.LinuxSeccompFlag) (uint, bool) {
	switch f {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return 0, true
	case specs.LinuxSeccompFlagLog:
		return flagLog, true
	case specs.LinuxSeccompFlagSpecAllow:
		return flagSpecAllow, true
	case specs.LinuxSeccompFlagWaitKillableRecv:
		return flagWaitKillableRecv, true
	}
	return 0, false
}

// KnownFlags lists the flags podrun knows.
func KnownFlags() []string {
	return []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
		"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
}

// action returns the filter return value of a spec action.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, bool) {
	data := func(def uint32) uint32 {
		if errnoRet != nil {
			return uint32(*errnoRet)
		}
		return def
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, true
	case specs.ActKillProcess:
		return retKillProcess, true
	case specs.ActTrap:
		return retTrap, true
	case specs.ActErrno:
		return retErrno | data(1), true // EPERM unless told
	case specs.ActTrace:
		return retTrace | data(1), true
	case specs.ActAllow:
		return retAllow, true
	case specs.ActLog:
		return retLog, true
	case specs.ActNotify:
		return retUserNotif, true
	}
	return 0, false
}

// Filter is a compiled profile, ready to load. It travels to the container
// init as JSON.
type Filter struct {
	// Insns is the BPF program, one sock_filter per element.
	Insns Program `json:"insns"`
	// Flags are the seccomp(2) flags of the profile (without NEW_LISTENER).
	Flags uint `json:"flags,omitempty"`
	// Notify: some rule uses SCMP_ACT_NOTIFY; loading returns a listener fd.
	Notify bool `json:"notify,omitempty"`
}

// Insn is a struct sock_filter.
type Insn struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Program is a BPF program; its JSON form is the base64 of the kernel's
// 8-byte records (little endian), cheap to pass to the container init.
type Program []Insn

// MarshalJSON encodes p as base64 of its records.
func (p Program) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 8*len(p))
	for i, in := range p {
		b := raw[8*i:]
		binary.LittleEndian.PutUint16(b, in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(b[4:], in.K)
	}
	return json.Marshal(raw)
}

// UnmarshalJSON decodes what MarshalJSON made.
func (p *Program) UnmarshalJSON(data []byte) error {
	var raw []byte
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if len(raw)%8 != 0 {
		return errors.New("seccomp: program length is not a multiple of 8")
	}
	out := make(Program, len(raw)/8)
	for i := range out {
		b := raw[8*i:]
		out[i] = Insn{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	*p = out
	return nil
}

// cond is one argument comparison.
type cond struct {
	index         uint
	op            specs.LinuxSeccompOperator
	value, value2 uint64
}

// rule is an action guarded by ANDed conditions.
type rule struct {
	conds []cond
	act   uint32
}

// section is the rule set of one syscall ABI.
type section struct {
	table  []sysEntry
	listed bool // named in architectures: the -ENOSYS rule applies
	rules  map[uint32][]rule
	uncond map[uint32]uint32
	max    uint32 // largest syscall number the profile names
	hasMax bool
}

// Compile validates a profile and compiles it. Errors wrap ErrInvalid and
// name the field, e.g. "linux.seccomp.syscalls[2].action: unknown action".
func Compile(s *specs.LinuxSeccomp) (*Filter, error) { return compile(s, true) }

// Validate checks a profile without compiling it (a few microseconds), and
// that the kernel takes its flags. Only the size limit is left to Compile.
func Validate(s *specs.LinuxSeccomp) error {
	if _, err := compile(s, false); err != nil {
		return err
	}
	return Supported(s)
}

func compile(s *specs.LinuxSeccomp, gen bool) (*Filter, error) {
	if runtime.GOARCH != "amd64" {
		return nil, invalid(": only supported on amd64 hosts")
	}
	def, ok := action(s.DefaultAction, s.DefaultErrnoRet)
	if !ok {
		return nil, invalid(".defaultAction: unknown action %q", s.DefaultAction)
	}
	if s.DefaultAction == specs.ActNotify {
		// The init must still write to its parent after loading the filter.
		return nil, invalid(".defaultAction: SCMP_ACT_NOTIFY cannot be used as default action")
	}
	if err := checkErrnoRet(s.DefaultAction, s.DefaultErrnoRet, ".defaultErrnoRet"); err != nil {
		return nil, err
	}
	f := &Filter{}
	x64 := &section{table: tableX86_64[:]}
	var x32, i386 *section
	for i, a := range s.Architectures {
		if !slices.Contains(knownArchs, a) {
			return nil, invalid(".architectures[%d]: unknown architecture %q", i, a)
		}
		switch a {
		case specs.ArchX86_64:
			x64.listed = true
		case specs.ArchX32:
			x32 = &section{table: tableX32[:], listed: true}
		case specs.ArchX86:
			i386 = &section{table: tableX86[:], listed: true}
		}
	}
	for i, fl := range s.Flags {
		bit, ok := flagBit(fl)
		if !ok {
			return nil, invalid(".flags[%d]: unknown flag %q", i, fl)
		}
		f.Flags |= bit
	}
	secs := []*section{x64, x32, i386}
	for i, sc := range s.Syscalls {
		field := fmt.Sprintf(".syscalls[%d]", i)
		act, ok := action(sc.Action, sc.ErrnoRet)
		if !ok {
			return nil, invalid("%s.action: unknown action %q", field, sc.Action)
		}
		if err := checkErrnoRet(sc.Action, sc.ErrnoRet, field+".errnoRet"); err != nil {
			return nil, err
		}
		if len(sc.Names) == 0 {
			return nil, invalid("%s.names: must name at least one syscall", field)
		}
		for j, n := range sc.Names {
			if n == "" {
				return nil, invalid("%s.names[%d]: empty syscall name", field, j)
			}
			if sc.Action == specs.ActNotify && (n == "write" || n == "sendmsg") {
				// The init sends the listener fd with sendmsg and writes
				// its ready message after loading the filter.
				return nil, invalid("%s.action: SCMP_ACT_NOTIFY cannot be used for the %s syscall", field, n)
			}
		}
		if sc.Action == specs.ActNotify {
			f.Notify = true
		}
		rules, err := splitRules(sc.Args, act, field)
		if err != nil {
			return nil, err
		}
		for _, sec := range secs {
			if sec != nil && gen {
				sec.add(sc.Names, rules, act == def)
			}
		}
	}
	if f.Notify && s.ListenerPath == "" {
		return nil, invalid(".listenerPath: listenerPath is not set (required by the SCMP_ACT_NOTIFY rules)")
	}
	if f.Flags&flagWaitKillableRecv != 0 && !f.Notify {
		return nil, invalid(".flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY rule")
	}
	if !gen {
		return f, nil
	}
	// runc's -ENOSYS rule (libcontainer/seccomp/patchbpf): only for
	// restrictive defaults and listed archs.
	useEnosys := s.DefaultAction != specs.ActAllow && s.DefaultAction != specs.ActLog &&
		s.DefaultAction != specs.ActTrace &&
		(s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != enosys)
	insns, err := generate(def, useEnosys, x64, x32, i386)
	if err != nil {
		return nil, err
	}
	f.Insns = insns
	return f, nil
}

func checkErrnoRet(a specs.LinuxSeccompAction, e *uint, field string) error {
	if e == nil {
		return nil
	}
	if a != specs.ActErrno && a != specs.ActTrace {
		return invalid("%s: only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", field, a)
	}
	if *e > 0xffff {
		return invalid("%s: %d does not fit in 16 bits", field, *e)
	}
	return nil
}

// splitRules turns a rule's args into ANDed rules: one rule, or one per
// condition when an argument index repeats (runc#2735).
func splitRules(args []specs.LinuxSeccompArg, act uint32, field string) ([]rule, error) {
	var conds []cond
	seen := map[uint]bool{}
	repeat := false
	for j, a := range args {
		if a.Index >= maxArgs {
			return nil, invalid("%s.args[%d].index: %d is not below %d", field, j, a.Index, maxArgs)
		}
		if !slices.Contains(Operators(), string(a.Op)) {
			return nil, invalid("%s.args[%d].op: unknown operator %q", field, j, a.Op)
		}
		repeat = repeat || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, value2: a.ValueTwo})
	}
	if len(conds) == 0 || !repeat {
		return []rule{{conds: conds, act: act}}, nil
	}
	out := make([]rule, len(conds))
	for i, c := range conds {
		out[i] = rule{conds: []cond{c}, act: act}
	}
	return out, nil
}

// add records rules for the names this ABI knows; redundant ones (the
// default action) only count for the -ENOSYS bound.
func (s *section) add(names []string, rules []rule, redundant bool) {
	for _, n := range names {
		nr, ok := lookup(s.table, n)
		if !ok {
			continue
		}
		if !s.hasMax || nr > s.max {
			s.max, s.hasMax = nr, true
		}
		if redundant {
			continue
		}
		for _, r := range rules {
			if len(r.conds) == 0 {
				if s.uncond == nil {
					s.uncond = map[uint32]uint32{}
				}
				if _, ok := s.uncond[nr]; !ok {
					s.uncond[nr] = r.act
				}
				continue
			}
			if s.rules == nil {
				s.rules = map[uint32][]rule{}
			}
			s.rules[nr] = append(s.rules[nr], r)
		}
	}
}

// SyscallNumber returns the number of a syscall in one of the x86 ABIs
// (with the x32 bit for SCMP_ARCH_X32), for tools and tests.
func SyscallNumber(arch specs.Arch, name string) (uint32, bool) {
	switch arch {
	case specs.ArchX86_64:
		return lookup(tableX86_64[:], name)
	case specs.ArchX32:
		return lookup(tableX32[:], name)
	case specs.ArchX86:
		return lookup(tableX86[:], name)
	}
	return 0, false
}
