package namespaces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/overlay"
	"github.com/podrun/podrun/seccomp"
)

// The plan's wire form: fields in a fixed order, no names, no reflection.
// Integers are varints, strings and lists a uvarint length then their
// content, an optional part a presence byte. planVersion leads, so that a
// parent and child of different builds fail with a message, not garbage
// (the child is the parent's own binary, so this is a tripwire only).
//
// Decoding trusts nothing: every length is checked against the bytes
// left (each list element takes at least one byte), so a message of n
// bytes cannot make the decoder allocate much more than a few times n,
// and the message itself is at most maxFrame.
const planVersion = 2

// encodePlan appends the wire form of pl to b.
func encodePlan(b []byte, pl *Plan) []byte {
	e := &encoder{b: b}
	e.uint(planVersion)
	e.str(pl.ID)
	e.int(int64(pl.FifoFd))
	e.int(int64(pl.ConsoleFd))
	e.int(int64(pl.PreserveFds))
	e.uint(uint64(len(pl.JoinFds)))
	for _, j := range pl.JoinFds {
		e.str(j.Name)
		e.int(int64(j.Fd))
	}
	e.ints(pl.MountFds)
	e.bool(pl.UnshareCgroup)

	e.str(pl.Rootfs)
	e.str(pl.BundleDir)
	e.bool(pl.NoPivot)
	e.bool(pl.NewKeyring)
	e.bool(pl.NewMountNS)
	e.str(pl.Hostname)
	e.str(pl.Domainname)
	e.uint(uint64(pl.Namespaces))
	e.bool(pl.NewNetNS)
	e.uint(uint64(len(pl.Sysctls)))
	for _, s := range pl.Sysctls {
		e.str(s.Key)
		e.str(s.Path)
		e.str(s.Value)
	}
	e.uint(uint64(len(pl.Mounts)))
	for _, m := range pl.Mounts {
		e.str(m.Destination)
		e.str(m.Type)
		e.str(m.Source)
		e.strs(m.Options)
		e.idMaps(m.UIDMappings)
		e.idMaps(m.GIDMappings)
	}
	e.bool(pl.RootReadonly)
	e.str(pl.RootfsPropagation)
	e.str(pl.MountLabel)
	e.uint(uint64(len(pl.Devices)))
	for _, d := range pl.Devices {
		e.str(d.Path)
		e.str(d.Type)
		e.int(d.Major)
		e.int(d.Minor)
		if e.bool(d.FileMode != nil) {
			e.uint(uint64(*d.FileMode))
		}
		e.optU32(d.UID)
		e.optU32(d.GID)
	}
	e.strs(pl.MaskedPaths)
	e.strs(pl.ReadonlyPaths)
	e.hooks(pl.CreateContainer)
	e.hooks(pl.StartContainer)
	if st := pl.State; e.bool(st != nil) {
		e.str(st.Version)
		e.str(st.ID)
		e.str(string(st.Status))
		e.int(int64(st.Pid))
		e.str(st.Bundle)
		e.strMap(st.Annotations)
	}
	if o := pl.Overlay; e.bool(o != nil) {
		e.strs(o.Lower)
		e.str(o.Upper)
		e.str(o.Work)
		e.str(o.LinkDir)
		e.strs(o.Links)
		e.bool(o.Detached)
	}

	e.str(pl.ApparmorProfile)
	e.str(pl.SelinuxLabel)
	if p := pl.Personality; e.bool(p != nil) {
		e.str(string(p.Domain))
		e.uint(uint64(len(p.Flags)))
		for _, f := range p.Flags {
			e.str(string(f))
		}
	}
	if s := pl.Scheduler; e.bool(s != nil) {
		e.str(string(s.Policy))
		e.int(int64(s.Nice))
		e.int(int64(s.Priority))
		e.uint(uint64(len(s.Flags)))
		for _, f := range s.Flags {
			e.str(string(f))
		}
		e.uint(s.Runtime)
		e.uint(s.Deadline)
		e.uint(s.Period)
	}
	if p := pl.IOPriority; e.bool(p != nil) {
		e.str(string(p.Class))
		e.int(int64(p.Priority))
	}
	if f := pl.Seccomp; e.bool(f != nil) {
		e.uint(uint64(len(f.Insns)))
		for _, in := range f.Insns {
			e.b = binary.LittleEndian.AppendUint16(e.b, in.Code)
			e.b = append(e.b, in.Jt, in.Jf)
			e.b = binary.LittleEndian.AppendUint32(e.b, in.K)
		}
		e.uint(uint64(f.Flags))
		e.bool(f.Notify)
	}
	e.strs(pl.Args)
	e.strs(pl.Env)
	e.str(pl.Cwd)
	e.bool(pl.Terminal)
	if b := pl.ConsoleSize; e.bool(b != nil) {
		e.uint(uint64(b.Height))
		e.uint(uint64(b.Width))
	}
	e.uint(uint64(pl.UID))
	e.uint(uint64(pl.GID))
	e.uint(uint64(len(pl.AdditionalGids)))
	for _, g := range pl.AdditionalGids {
		e.uint(uint64(g))
	}
	e.optU32(pl.Umask)
	for _, m := range pl.Caps {
		e.uint(m)
	}
	e.uint(uint64(len(pl.Rlimits)))
	for _, r := range pl.Rlimits {
		e.str(r.Type)
		e.int(int64(r.Resource))
		e.uint(r.Soft)
		e.uint(r.Hard)
	}
	e.bool(pl.NoNewPrivileges)
	return e.b
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) bool(v bool) bool {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	return v
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) ints(v []int) {
	e.uint(uint64(len(v)))
	for _, i := range v {
		e.int(int64(i))
	}
}

func (e *encoder) optU32(v *uint32) {
	if e.bool(v != nil) {
		e.uint(uint64(*v))
	}
}

func (e *encoder) idMaps(m []specs.LinuxIDMapping) {
	e.uint(uint64(len(m)))
	for _, x := range m {
		e.uint(uint64(x.ContainerID))
		e.uint(uint64(x.HostID))
		e.uint(uint64(x.Size))
	}
}

func (e *encoder) hooks(hs []specs.Hook) {
	e.uint(uint64(len(hs)))
	for _, h := range hs {
		e.str(h.Path)
		e.strs(h.Args)
		e.strs(h.Env)
		if e.bool(h.Timeout != nil) {
			e.int(int64(*h.Timeout))
		}
	}
}

// strMap writes a map sorted by key, so that a plan encodes the same
// bytes each time.
func (e *encoder) strMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

// decodePlan decodes the wire form of a plan; the whole of b must be used.
func decodePlan(b []byte) (*Plan, error) {
	d := &decoder{s: string(b)}
	if v := d.uint(); d.err == nil && v != planVersion {
		return nil, fmt.Errorf("init protocol: plan version %d, want %d", v, planVersion)
	}
	pl := &Plan{}
	pl.ID = d.str()
	pl.FifoFd = d.fd()
	pl.ConsoleFd = d.fd()
	pl.PreserveFds = d.fd()
	if n := d.count(2); n > 0 {
		pl.JoinFds = make([]NSFd, n)
		for i := range pl.JoinFds {
			pl.JoinFds[i] = NSFd{Name: d.str(), Fd: d.fd()}
		}
	}
	if n := d.count(1); n > 0 {
		pl.MountFds = make([]int, n)
		for i := range pl.MountFds {
			pl.MountFds[i] = d.fd()
		}
	}
	pl.UnshareCgroup = d.bool()

	pl.Rootfs = d.str()
	pl.BundleDir = d.str()
	pl.NoPivot = d.bool()
	pl.NewKeyring = d.bool()
	pl.NewMountNS = d.bool()
	pl.Hostname = d.str()
	pl.Domainname = d.str()
	pl.Namespaces = uintptr(d.uint())
	pl.NewNetNS = d.bool()
	if n := d.count(3); n > 0 {
		pl.Sysctls = make([]Sysctl, n)
		for i := range pl.Sysctls {
			pl.Sysctls[i] = Sysctl{Key: d.str(), Path: d.str(), Value: d.str()}
		}
	}
	if n := d.count(6); n > 0 {
		pl.Mounts = make([]specs.Mount, n)
		for i := range pl.Mounts {
			m := &pl.Mounts[i]
			m.Destination, m.Type, m.Source = d.str(), d.str(), d.str()
			m.Options = d.strs()
			m.UIDMappings, m.GIDMappings = d.idMaps(), d.idMaps()
		}
	}
	pl.RootReadonly = d.bool()
	pl.RootfsPropagation = d.str()
	pl.MountLabel = d.str()
	if n := d.count(7); n > 0 {
		pl.Devices = make([]specs.LinuxDevice, n)
		for i := range pl.Devices {
			dv := &pl.Devices[i]
			dv.Path, dv.Type = d.str(), d.str()
			dv.Major, dv.Minor = d.int(), d.int()
			if d.bool() {
				m := os.FileMode(d.u32())
				dv.FileMode = &m
			}
			dv.UID, dv.GID = d.optU32(), d.optU32()
		}
	}
	pl.MaskedPaths = d.strs()
	pl.ReadonlyPaths = d.strs()
	pl.CreateContainer = d.hooks()
	pl.StartContainer = d.hooks()
	if d.bool() {
		pl.State = &specs.State{Version: d.str(), ID: d.str(), Status: specs.ContainerState(d.str()),
			Pid: d.intv(), Bundle: d.str(), Annotations: d.strMap()}
	}
	if d.bool() {
		pl.Overlay = &overlay.Mount{Lower: d.strs(), Upper: d.str(), Work: d.str(),
			LinkDir: d.str(), Links: d.strs(), Detached: d.bool()}
	}

	pl.ApparmorProfile = d.str()
	pl.SelinuxLabel = d.str()
	if d.bool() {
		p := &specs.LinuxPersonality{Domain: specs.LinuxPersonalityDomain(d.str())}
		if n := d.count(1); n > 0 {
			p.Flags = make([]specs.LinuxPersonalityFlag, n)
			for i := range p.Flags {
				p.Flags[i] = specs.LinuxPersonalityFlag(d.str())
			}
		}
		pl.Personality = p
	}
	if d.bool() {
		s := &specs.Scheduler{Policy: specs.LinuxSchedulerPolicy(d.str()), Nice: d.i32(), Priority: d.i32()}
		if n := d.count(1); n > 0 {
			s.Flags = make([]specs.LinuxSchedulerFlag, n)
			for i := range s.Flags {
				s.Flags[i] = specs.LinuxSchedulerFlag(d.str())
			}
		}
		s.Runtime, s.Deadline, s.Period = d.uint(), d.uint(), d.uint()
		pl.Scheduler = s
	}
	if d.bool() {
		pl.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPriorityClass(d.str()), Priority: int(d.int())}
	}
	if d.bool() {
		f := &seccomp.Filter{}
		if n := d.count(8); n > 0 {
			f.Insns = make(seccomp.Program, n)
			for i := range f.Insns {
				r, ok := d.take(8)
				if !ok {
					break
				}
				f.Insns[i] = seccomp.Insn{Code: uint16(r[0]) | uint16(r[1])<<8, Jt: r[2], Jf: r[3],
					K: uint32(r[4]) | uint32(r[5])<<8 | uint32(r[6])<<16 | uint32(r[7])<<24}
			}
		}
		f.Flags = uint(d.uint())
		f.Notify = d.bool()
		pl.Seccomp = f
	}
	pl.Args = d.strs()
	pl.Env = d.strs()
	pl.Cwd = d.str()
	pl.Terminal = d.bool()
	if d.bool() {
		pl.ConsoleSize = &specs.Box{Height: uint(d.uint()), Width: uint(d.uint())}
	}
	pl.UID = d.u32()
	pl.GID = d.u32()
	if n := d.count(1); n > 0 {
		pl.AdditionalGids = make([]uint32, n)
		for i := range pl.AdditionalGids {
			pl.AdditionalGids[i] = d.u32()
		}
	}
	pl.Umask = d.optU32()
	for i := range pl.Caps {
		pl.Caps[i] = d.uint()
	}
	if n := d.count(4); n > 0 {
		pl.Rlimits = make([]Rlimit, n)
		for i := range pl.Rlimits {
			pl.Rlimits[i] = Rlimit{Type: d.str(), Resource: d.intv(), Soft: d.uint(), Hard: d.uint()}
		}
	}
	pl.NoNewPrivileges = d.bool()
	if d.err == nil && len(d.s) > 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("init protocol: bad plan: %w", d.err)
	}
	return pl, nil
}

// decoder reads the wire form. The first error sticks: later reads
// return zero values, and decodePlan reports it once at the end. Strings
// are slices of s, the message copied once: one allocation, not one per
// string.
type decoder struct {
	s   string
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
	d.s = ""
}

// uint reads a uvarint (encoding/binary's, which works on bytes only).
func (d *decoder) uint() uint64 {
	var v uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			d.s = d.s[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	d.fail("bad or missing integer")
	return 0
}

// int reads a zig-zag varint.
func (d *decoder) int() int64 {
	u := d.uint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uint()
	if v > math.MaxUint32 {
		d.fail("integer out of range")
		return 0
	}
	return uint32(v)
}

func (d *decoder) i32() int32 {
	v := d.int()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("integer out of range")
		return 0
	}
	return int32(v)
}

// intv is an int that fits in 32 bits (pids, resources, priorities).
func (d *decoder) intv() int { return int(d.i32()) }

// fd is a file descriptor number, -1 for none.
func (d *decoder) fd() int {
	v := d.i32()
	if v < -1 {
		d.fail("bad fd number")
		return 0
	}
	return int(v)
}

func (d *decoder) bool() bool {
	if len(d.s) == 0 {
		d.fail(errShort.Error())
		return false
	}
	v := d.s[0]
	d.s = d.s[1:]
	if v > 1 {
		d.fail("bad boolean")
		return false
	}
	return v == 1
}

// take returns the next n bytes.
func (d *decoder) take(n uint64) (string, bool) {
	if n > uint64(len(d.s)) {
		d.fail(errShort.Error())
		return "", false
	}
	r := d.s[:n]
	d.s = d.s[n:]
	return r, true
}

func (d *decoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	s, _ := d.take(n)
	return s
}

// count reads a list length, refused when the bytes left cannot hold
// that many elements of at least min bytes each: what bounds allocation.
func (d *decoder) count(min uint64) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.s))/min {
		d.fail(errShort.Error())
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) optU32() *uint32 {
	if !d.bool() {
		return nil
	}
	v := d.u32()
	return &v
}

func (d *decoder) idMaps() []specs.LinuxIDMapping {
	n := d.count(3)
	if n == 0 {
		return nil
	}
	out := make([]specs.LinuxIDMapping, n)
	for i := range out {
		out[i] = specs.LinuxIDMapping{ContainerID: d.u32(), HostID: d.u32(), Size: d.u32()}
	}
	return out
}

func (d *decoder) hooks() []specs.Hook {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	out := make([]specs.Hook, n)
	for i := range out {
		h := &out[i]
		h.Path, h.Args, h.Env = d.str(), d.strs(), d.strs()
		if d.bool() {
			t := int(d.int())
			h.Timeout = &t
		}
	}
	return out
}

func (d *decoder) strMap() map[string]string {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}
