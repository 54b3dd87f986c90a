// Package devices applies the OCI linux.resources.devices list (the
// "Device allowlist" of config-linux.md) to a container's cgroup: on v1
// through the devices controller's devices.allow / devices.deny files
// (ApplyV1), on v2 through a BPF_PROG_TYPE_CGROUP_DEVICE program attached
// to the cgroup directory (ApplyV2).
//
// # Semantics
//
// Both hierarchies get the same meaning, the one runc gives the list since
// 1.0 (its "devices emulator"), which is the v1 kernel's:
//
//   - The list is applied in order to a state that starts as "deny
//     everything". So an empty list denies every device; callers that want
//     runc's behaviour append DefaultAllowed (see there).
//   - A rule of type "a" (or no type) resets the state: allow:true makes
//     every device allowed, allow:false every device denied, and all earlier
//     exceptions are dropped. Its major, minor and access are ignored, as
//     by the kernel and runc ("a 1:3 r" is the same as "a *:* rwm").
//   - A "b" or "c" rule whose action differs from the current default adds
//     an exception (accesses of an exception with the same type, major and
//     minor are merged). One whose action equals the default removes the
//     named accesses from the exception with exactly the same type, major
//     and minor, if there is one.
//   - Removing accesses that a wildcard exception (major or minor -1) still
//     grants is refused: the v1 kernel would silently ignore the request,
//     so runc rejects it rather than leave the device open ("cannot punch a
//     hole in a wildcard rule"). Validate reports it.
//   - In the resulting state, when the default is deny, an access is
//     allowed if one exception matches the device and grants every
//     requested access (open(O_RDWR) asks for r and w together). When the
//     default is allow, an access is denied if any exception matching the
//     device names any of the requested accesses.
//
// For the usual lists (deny all, then allow some devices) this is the same
// as "the last matching rule wins"; it differs from that reading for
// partial overlaps, where the kernel's exact-key bookkeeping decides.
//
// # DefaultAllowed
//
// runc (libcontainer/specconv.AllowedDevices, 1.1 and later) appends its
// built-in list after the spec's rules, unconditionally, so a container can
// never deny /dev/null and can always mknod any node. containerd already
// sends its own list (oci.WithDefaultUnixDevices: null, random, full, tty,
// zero, urandom, console, pts, ptmx, tun after a deny-all); a runtime that
// follows the spec literally would apply only what it is given. This
// package therefore does not append anything itself: DefaultAllowed is
// exported and the caller decides (podrun appends it to be runc-compatible).
package devices

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func i64(v int64) *int64 { return &v }

// DefaultAllowed is runc's default device allowlist (specconv.AllowedDevices
// in runc 1.1+): mknod of any char or block node, /dev/null, random, full,
// tty, zero, urandom, /dev/pts/*, /dev/ptmx and /dev/net/tun (dropped in
// runc 1.2.0-rc1, then put back for compatibility). runc appends it
// after the spec's linux.resources.devices, except for the entries whose
// path also appears in linux.devices (DefaultAllowedFor does that).
// Do not modify it; DefaultAllowedFor returns a copy.
var DefaultAllowed = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Major: i64(-1), Minor: i64(-1), Access: "m"},
	{Allow: true, Type: "b", Major: i64(-1), Minor: i64(-1), Access: "m"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},    // /dev/null
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},    // /dev/random
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "rwm"},    // /dev/full
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},    // /dev/tty
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},    // /dev/zero
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},    // /dev/urandom
	{Allow: true, Type: "c", Major: i64(136), Minor: i64(-1), Access: "rwm"}, // /dev/pts/*
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},    // /dev/ptmx
	{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"}, // /dev/net/tun
}

// defaultAllowedPath names the node of each DefaultAllowed entry that runc
// also creates (and skips when linux.devices has the same path).
var defaultAllowedPath = [...]string{
	2: "/dev/null", 3: "/dev/random", 4: "/dev/full", 5: "/dev/tty",
	6: "/dev/zero", 7: "/dev/urandom",
}

// DefaultAllowedFor returns a fresh copy of DefaultAllowed without the
// entries whose device path is in linux.devices, as runc's createDevices
// does (the spec's device takes priority, and its access then comes only
// from linux.resources.devices). Append it after the spec's rules.
func DefaultAllowedFor(specDevices []specs.LinuxDevice) []specs.LinuxDeviceCgroup {
	out := make([]specs.LinuxDeviceCgroup, 0, len(DefaultAllowed))
next:
	for i, r := range DefaultAllowed {
		if i < len(defaultAllowedPath) && defaultAllowedPath[i] != "" {
			for _, d := range specDevices {
				if d.Path == defaultAllowedPath[i] {
					continue next
				}
			}
		}
		r.Major, r.Minor = i64(*r.Major), i64(*r.Minor)
		out = append(out, r)
	}
	return out
}

// access is a set of device accesses, with the bits of
// struct bpf_cgroup_dev_ctx (BPF_DEVCG_ACC_*).
type access uint8

const (
	accMknod = access(unix.BPF_DEVCG_ACC_MKNOD)
	accRead  = access(unix.BPF_DEVCG_ACC_READ)
	accWrite = access(unix.BPF_DEVCG_ACC_WRITE)
	accAll   = accRead | accWrite | accMknod
)

// String gives the access in devices.list order ("rwm").
func (a access) String() string {
	var b strings.Builder
	if a&accRead != 0 {
		b.WriteByte('r')
	}
	if a&accWrite != 0 {
		b.WriteByte('w')
	}
	if a&accMknod != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

func parseAccess(s string) (access, error) {
	if s == "" {
		return 0, fmt.Errorf("must not be empty (a combination of r, w and m)")
	}
	var a access
	for _, c := range s {
		switch c {
		case 'r':
			a |= accRead
		case 'w':
			a |= accWrite
		case 'm':
			a |= accMknod
		default:
			return 0, fmt.Errorf("%q has %q: want a combination of r, w and m", s, c)
		}
	}
	return a, nil
}

// DropUnknownAccess removes from each rule's access the letters other than
// r, w and m, as runc 1.1 reads them (its DevicePermissions ignore the
// rest: "rwa" is "rw"), and returns a warning for each rule it changed. An
// access left with none of r, w, m stays as it was, for Validate to refuse
// (runc fails on those too).
func DropUnknownAccess(rules []specs.LinuxDeviceCgroup) (warnings []string) {
	for i, d := range rules {
		kept := strings.Map(func(c rune) rune {
			if c == 'r' || c == 'w' || c == 'm' {
				return c
			}
			return -1
		}, d.Access)
		if kept == d.Access || kept == "" {
			continue
		}
		warnings = append(warnings, fmt.Sprintf(field+"%q is taken as %q (letters other than r, w and m are ignored, as runc does)", i, "access", d.Access, kept))
		rules[i].Access = kept
	}
	return warnings
}

// key names the devices one exception covers: type 'b' or 'c', major and
// minor number or -1 for any.
type key struct {
	typ          byte
	major, minor int64
}

func num(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

func (k key) String() string { return string(k.typ) + " " + num(k.major) + ":" + num(k.minor) }

// rule is one validated linux.resources.devices entry.
type rule struct {
	allow bool
	all   bool // type "a": resets the state
	key   key
	acc   access
}

func (r rule) String() string {
	if r.all {
		return "a *:* rwm"
	}
	return r.key.String() + " " + r.acc.String()
}

const field = "linux.resources.devices[%d].%s: "

func parseNum(i int, name string, p *int64) (int64, error) {
	if p == nil {
		return -1, nil
	}
	switch n := *p; {
	case n < -1:
		return 0, fmt.Errorf(field+"%d is negative (use -1 or leave it out for any)", i, name, n)
	case n > math.MaxUint32:
		return 0, fmt.Errorf(field+"%d is out of range (at most %d)", i, name, n, uint32(math.MaxUint32))
	default:
		return n, nil
	}
}

// parseRule checks and normalises entry i. As in runc, an empty type is
// "a" and a missing major or minor is -1 (any).
func parseRule(i int, d specs.LinuxDeviceCgroup) (rule, error) {
	r := rule{allow: d.Allow}
	switch d.Type {
	case "", "a":
		r.all = true
	case "b", "c":
		r.key.typ = d.Type[0]
	default:
		return rule{}, fmt.Errorf(field+"%q is not a device type (want a, b or c)", i, "type", d.Type)
	}
	var err error
	if r.key.major, err = parseNum(i, "major", d.Major); err != nil {
		return rule{}, err
	}
	if r.key.minor, err = parseNum(i, "minor", d.Minor); err != nil {
		return rule{}, err
	}
	if r.acc, err = parseAccess(d.Access); err != nil {
		return rule{}, fmt.Errorf(field+"%v", i, "access", err)
	}
	if r.all {
		r.key, r.acc = key{}, accAll
	}
	return r, nil
}

// Validate checks rules as ApplyV1 and ApplyV2 would, without touching any
// cgroup. Its error is one line naming the first bad entry, such as
// `linux.resources.devices[2].access: "rwx" has 'x': want a combination of r, w and m`.
func Validate(rules []specs.LinuxDeviceCgroup) error {
	_, err := compile(rules)
	return err
}

// compile validates rules and applies them, in order, to a deny-all state.
func compile(rules []specs.LinuxDeviceCgroup) (*state, error) {
	s := newState(false)
	for i, d := range rules {
		r, err := parseRule(i, d)
		if err != nil {
			return nil, err
		}
		if err := s.apply(r); err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
	}
	return s, nil
}
