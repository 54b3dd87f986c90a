package devices

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseList(t *testing.T) {
	s, err := parseList("c 1:3 rwm\nc 136:* rw\nb *:* m\nc 5:2 r\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "b *:* m\nc 1:3 rwm\nc 5:2 r\nc 136:* rw\n"; s.String() != want {
		t.Fatalf("parsed:\n%s\nwant:\n%s", s, want)
	}
	if s, err := parseList("a *:* rwm\n"); err != nil || !s.allowAll || len(s.ex) != 0 {
		t.Fatalf("parseList(a *:* rwm) = %v, %v; want allow all", s, err)
	}
	if s, err := parseList(""); err != nil || s.allowAll || len(s.ex) != 0 {
		t.Fatalf("parseList(\"\") = %v, %v; want deny all", s, err)
	}
	for _, bad := range []string{"x 1:3 r", "c 1:3", "c 1-3 r", "c a:3 r", "c 1:3 rx", "c 1:99999999999 r"} {
		if _, err := parseList(bad + "\n"); err == nil {
			t.Errorf("parseList(%q): no error", bad)
		}
	}
}

func mustCompile(t *testing.T, rules ...specs.LinuxDeviceCgroup) *state {
	t.Helper()
	s, err := compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writesString(ws []write) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s: %s\n", w.file(), w.line)
	}
	return b.String()
}

func TestTransition(t *testing.T) {
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	for _, tc := range []struct {
		name        string
		cur, target *state
		want        string
	}{
		{"fresh cgroup to allow list",
			mustCompile(t, allowAll),
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 136, -1, "rw")),
			"devices.deny: a *:* rwm\ndevices.allow: c 1:3 rwm\ndevices.allow: c 136:* rw\n"},
		{"same allow list: nothing to write",
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm")),
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm")),
			""},
		{"allow list change: drop first, then add",
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "r")),
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 9, "rw"), dev(true, "c", 1, 5, "rw")),
			"devices.deny: c 1:3 wm\ndevices.allow: c 1:5 w\ndevices.allow: c 1:9 rw\n"},
		{"allow list to deny all",
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm")),
			mustCompile(t),
			"devices.deny: c 1:3 rwm\n"},
		{"allow list to deny list",
			mustCompile(t, denyAll, dev(true, "c", 1, 3, "rwm")),
			mustCompile(t, allowAll, dev(false, "b", 8, 0, "w")),
			"devices.allow: a *:* rwm\ndevices.deny: b 8:0 w\n"},
		{"deny list (unreadable) to deny list",
			mustCompile(t, allowAll),
			mustCompile(t, allowAll, dev(false, "b", 8, 0, "w")),
			"devices.allow: a *:* rwm\ndevices.deny: b 8:0 w\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := writesString(transition(tc.cur, tc.target)); got != tc.want {
				t.Fatalf("transition:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// kernelWrite changes s as the v1 kernel does for one line written to
// devices.allow or devices.deny (devcgroup_update_access): unlike
// state.apply, removing an exception only ever touches the exact key.
func kernelWrite(t *testing.T, s *state, w write) {
	t.Helper()
	r, err := parseListLine(w.line)
	if err != nil {
		t.Fatalf("transition wrote %q: %v", w.line, err)
	}
	switch {
	case r.all:
		*s = *newState(w.allow)
	case w.allow != s.allowAll:
		s.ex[r.key] |= r.acc
	default:
		if left := s.ex[r.key] &^ r.acc; left != 0 {
			s.ex[r.key] = left
		} else {
			delete(s.ex, r.key)
		}
	}
}

// probes are the devices the property tests ask about: every number that
// the random rules use, and others.
var (
	probeNums  = []uint32{0, 1, 3, 5, 136, 1<<31 + 7, 1<<32 - 1}
	ruleNums   = []int64{-1, 1, 3, 136, 1<<31 + 7, 1<<32 - 1}
	probeTypes = []byte{'b', 'c'}
)

func randomRule(rng *rand.Rand) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: rng.IntN(2) == 0, Access: accessStrings[1+rng.IntN(7)]}
	if rng.IntN(12) == 0 {
		return d // type a
	}
	d.Type = string(probeTypes[rng.IntN(2)])
	d.Major = i64(ruleNums[rng.IntN(len(ruleNums))])
	d.Minor = i64(ruleNums[rng.IntN(len(ruleNums))])
	return d
}

var accessStrings = [8]string{"", "m", "r", "rm", "w", "wm", "rw", "rwm"} // indexed by access bits

// randomState returns the state of a random valid rule list, and the list.
func randomState(rng *rand.Rand, startAllow bool) (*state, []specs.LinuxDeviceCgroup) {
	rules := []specs.LinuxDeviceCgroup{{Allow: startAllow, Access: "rwm"}}
	for n := rng.IntN(8); len(rules) <= n; {
		r := randomRule(rng)
		if Validate(append(rules, r)) == nil {
			rules = append(rules, r)
		}
	}
	s, _ := compile(rules)
	return s, rules
}

func forEachProbe(f func(typ byte, major, minor uint32, acc access)) {
	for _, typ := range probeTypes {
		for _, major := range probeNums {
			for _, minor := range probeNums {
				for acc := access(1); acc <= accAll; acc++ {
					f(typ, major, minor, acc)
				}
			}
		}
	}
}

// TestTransitionSafety replays the writes of random allow-list
// transitions on a model of the kernel and checks that no intermediate
// state allows what neither the old nor the new state allows, and that
// the end state is the target.
func TestTransitionSafety(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		cur, _ := randomState(rng, rng.IntN(4) != 0)
		target, rules := randomState(rng, rng.IntN(4) != 0)
		if cur.allowAll {
			cur = newState(true) // devices.list cannot show deny exceptions
		}
		ws := transition(cur, target)
		k := &state{allowAll: cur.allowAll, ex: map[key]access{}}
		for kk, a := range cur.ex {
			k.ex[kk] = a
		}
		for step, w := range ws {
			kernelWrite(t, k, w)
			if target.allowAll {
				continue // starts from allow-all, a known limit: see transition
			}
			forEachProbe(func(typ byte, major, minor uint32, acc access) {
				if k.allows(typ, major, minor, acc) && !cur.allows(typ, major, minor, acc) && !target.allows(typ, major, minor, acc) {
					t.Fatalf("rules %v: from\n%sto\n%sstep %d (%s) allows %c %d:%d %s", rules, cur, target, step, w.line, typ, major, minor, acc)
				}
			})
		}
		if !k.equal(target) {
			t.Fatalf("from\n%sthe writes\n%send in\n%swant\n%s", cur, writesString(ws), k, target)
		}
	}
}
