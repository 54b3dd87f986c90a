package devices

import (
	"math"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func dev(allow bool, typ string, major, minor int64, acc string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: i64(major), Minor: i64(minor), Access: acc}
}

var denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

func TestValidateErrors(t *testing.T) {
	ok := dev(true, "c", 1, 3, "rwm")
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"type", []specs.LinuxDeviceCgroup{ok, dev(true, "x", 1, 3, "r")}, `linux.resources.devices[1].type: "x" is not a device type`},
		{"type u", []specs.LinuxDeviceCgroup{dev(true, "u", 1, 3, "r")}, `linux.resources.devices[0].type: "u"`},
		{"type long", []specs.LinuxDeviceCgroup{dev(true, "cc", 1, 3, "r")}, `linux.resources.devices[0].type: "cc"`},
		{"access empty", []specs.LinuxDeviceCgroup{ok, ok, {Allow: true, Type: "c"}}, `linux.resources.devices[2].access: must not be empty`},
		{"access bad", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwx")}, `linux.resources.devices[0].access: "rwx" has 'x'`},
		{"access upper", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "R")}, `linux.resources.devices[0].access: "R" has 'R'`},
		{"major", []specs.LinuxDeviceCgroup{dev(true, "b", -2, 3, "r")}, `linux.resources.devices[0].major: -2 is negative`},
		{"minor", []specs.LinuxDeviceCgroup{ok, dev(true, "b", 8, -7, "r")}, `linux.resources.devices[1].minor: -7 is negative`},
		{"major big", []specs.LinuxDeviceCgroup{dev(true, "c", math.MaxUint32+1, 0, "r")}, `linux.resources.devices[0].major: 4294967296 is out of range`},
		{"minor big", []specs.LinuxDeviceCgroup{dev(true, "c", 0, math.MaxInt64, "r")}, `linux.resources.devices[0].minor: 9223372036854775807 is out of range`},
		{"hole", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, -1, "rwm"), dev(false, "c", 1, 3, "w")},
			`linux.resources.devices[2]: deny "c 1:3 w" cannot punch a hole in the earlier wildcard exception "c 1:* rwm"`},
		{"hole any major", []specs.LinuxDeviceCgroup{denyAll, dev(true, "b", -1, 0, "r"), dev(false, "b", 8, 0, "rw")},
			`linux.resources.devices[2]: deny "b 8:0 rw" cannot punch a hole in the earlier wildcard exception "b *:0 r"`},
		{"hole deny list", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", -1, -1, "w"), dev(true, "c", 1, 3, "rw")},
			`linux.resources.devices[2]: allow "c 1:3 rw" cannot punch a hole in the earlier wildcard exception "c *:* w"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.rules)
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate: %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateOK(t *testing.T) {
	for name, rules := range map[string][]specs.LinuxDeviceCgroup{
		"empty":           nil,
		"runc defaults":   DefaultAllowed,
		"runc spec":       append([]specs.LinuxDeviceCgroup{denyAll}, DefaultAllowed...),
		"allow all":       {{Allow: true, Access: "rwm"}},
		"type a explicit": {{Allow: true, Type: "a", Major: i64(-1), Minor: i64(-1), Access: "rwm"}},
		"no major/minor":  {denyAll, {Allow: true, Type: "c", Access: "m"}},
		"repeated access": {denyAll, dev(true, "c", 1, 3, "rrw"), dev(true, "c", 1, 3, "wr")},
		"max numbers":     {denyAll, dev(true, "c", math.MaxUint32, math.MaxUint32, "r")},
		// Removing an exact exception, and removing what a wildcard does not grant, are fine.
		"remove exact":    {denyAll, dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, 3, "w")},
		"remove disjoint": {denyAll, dev(true, "c", 1, -1, "r"), dev(false, "c", 1, 3, "w")},
	} {
		if err := Validate(rules); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
}

// TestSemantics checks the state the rules leave, in the notation of
// state.String.
func TestSemantics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"empty denies all", nil, ""},
		{"deny all then allow", []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rw"), dev(true, "b", 8, -1, "r")},
			"b 8:* r\nc 1:3 rw\n"},
		{"merge", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "m")}, "c 1:3 rm\n"},
		{"remove part", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, 3, "wm")}, "c 1:3 r\n"},
		{"remove all", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rw"), dev(false, "c", 1, 3, "rwm")}, ""},
		{"remove missing", []specs.LinuxDeviceCgroup{dev(false, "c", 1, 3, "rwm")}, ""},
		{"allow all resets", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "r"), {Allow: true, Access: "r"}}, "a *:* rwm\n"},
		{"type a ignores numbers", []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Major: i64(1), Minor: i64(3), Access: "r"}}, "a *:* rwm\n"},
		{"deny list", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w"), dev(false, "b", -1, -1, "m")},
			"a *:* rwm\ndeny b *:* m\ndeny c 1:3 w\n"},
		{"deny list re-allow", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "rw"), dev(true, "c", 1, 3, "w")},
			"a *:* rwm\ndeny c 1:3 r\n"},
		{"deny all resets", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w"), denyAll}, ""},
		{"missing type/major/minor", []specs.LinuxDeviceCgroup{denyAll, {Allow: true, Type: "b", Access: "m"}}, "b *:* m\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := compile(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tc.want {
				t.Fatalf("state:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestAllows checks the kernel's matching rules on a few states,
// including the combined access of open(O_RDWR).
func TestAllows(t *testing.T) {
	allowList, _ := compile([]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), dev(true, "c", 1, -1, "w"), dev(true, "b", -1, -1, "m")})
	denyList, _ := compile([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, dev(false, "c", 1, 3, "w")})
	for _, tc := range []struct {
		s            *state
		typ          byte
		major, minor uint32
		acc          access
		want         bool
	}{
		{allowList, 'c', 1, 3, accRead, true},
		{allowList, 'c', 1, 3, accWrite, true},            // via c 1:*
		{allowList, 'c', 1, 3, accRead | accWrite, false}, // no single exception grants rw
		{allowList, 'c', 1, 4, accRead, false},
		{allowList, 'c', 1, 4, accWrite, true},
		{allowList, 'b', 1, 3, accRead, false},
		{allowList, 'b', 259, 7, accMknod, true},
		{allowList, 'c', 259, 7, accMknod, false},
		{denyList, 'c', 1, 3, accRead, true},
		{denyList, 'c', 1, 3, accWrite, false},
		{denyList, 'c', 1, 3, accRead | accWrite, false}, // any overlap denies
		{denyList, 'b', 1, 3, accWrite, true},
		{denyList, 'c', 1, 5, accWrite, true},
	} {
		if got := tc.s.allows(tc.typ, tc.major, tc.minor, tc.acc); got != tc.want {
			t.Errorf("%q allows %c %d:%d %s = %v, want %v", tc.s.String(), tc.typ, tc.major, tc.minor, tc.acc, got, tc.want)
		}
	}
}

func TestDefaultAllowed(t *testing.T) {
	got := DefaultAllowedFor(nil)
	if len(got) != len(DefaultAllowed) {
		t.Fatalf("DefaultAllowedFor(nil) has %d rules, want %d", len(got), len(DefaultAllowed))
	}
	*got[0].Major = 42 // a copy: DefaultAllowed must not change
	if *DefaultAllowed[0].Major != -1 {
		t.Fatal("DefaultAllowedFor returned DefaultAllowed's pointers")
	}
	got = DefaultAllowedFor([]specs.LinuxDevice{{Path: "/dev/null"}, {Path: "/dev/fuse"}, {Path: "/dev/urandom"}})
	if len(got) != len(DefaultAllowed)-2 {
		t.Fatalf("DefaultAllowedFor(null, fuse, urandom) has %d rules, want %d", len(got), len(DefaultAllowed)-2)
	}
	for _, r := range got {
		if r.Type == "c" && *r.Major == 1 && (*r.Minor == 3 || *r.Minor == 9) {
			t.Errorf("DefaultAllowedFor kept c 1:%d though linux.devices has its path", *r.Minor)
		}
	}
	s, err := compile(append([]specs.LinuxDeviceCgroup{denyAll}, DefaultAllowed...))
	if err != nil {
		t.Fatal(err)
	}
	want := "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n"
	if s.String() != want {
		t.Fatalf("deny all + DefaultAllowed:\n%s\nwant:\n%s", s, want)
	}
}

// TestDropUnknownAccess: as runc 1.1 reads an access, "rwa" is "rw" and
// "rwx" is "rw" (with a warning each); one without r, w or m stays, for
// Validate to refuse.
func TestDropUnknownAccess(t *testing.T) {
	rules := []specs.LinuxDeviceCgroup{
		dev(true, "c", 1, 3, "rwa"), dev(true, "c", 1, 5, "rwm"), dev(true, "c", 1, 7, "xmr"), dev(true, "c", 1, 9, "a"),
	}
	w := DropUnknownAccess(rules)
	var got []string
	for _, r := range rules {
		got = append(got, r.Access)
	}
	if strings.Join(got, " ") != "rw rwm mr a" || len(w) != 2 || !strings.Contains(w[0], `linux.resources.devices[0].access: "rwa" is taken as "rw"`) {
		t.Errorf("accesses %q, warnings %q", got, w)
	}
	if err := Validate(rules[:3]); err != nil {
		t.Errorf("Validate after DropUnknownAccess: %v", err)
	}
	if err := Validate(rules[3:]); err == nil {
		t.Errorf(`Validate accepted access "a"`)
	}
}
