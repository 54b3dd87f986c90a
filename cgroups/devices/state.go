package devices

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// state is what a devices cgroup enforces, as the v1 kernel keeps it: a
// default action and exceptions to it, keyed by exact (type, major, minor).
// runc's devices emulator models the same thing.
type state struct {
	allowAll bool           // the default: true is v1's "a *:* rwm" (deny-list mode)
	ex       map[key]access // exceptions; their action is !allowAll
}

func newState(allowAll bool) *state { return &state{allowAll: allowAll, ex: map[key]access{}} }

// apply changes s as writing r to devices.allow (r.allow) or devices.deny
// would, except that removing accesses a wildcard exception still grants
// is an error instead of being silently ignored (as in runc).
func (s *state) apply(r rule) error {
	if r.all {
		*s = *newState(r.allow)
		return nil
	}
	if r.allow != s.allowAll {
		s.ex[r.key] |= r.acc
		return nil
	}
	for _, w := range [...]key{
		{r.key.typ, -1, r.key.minor},
		{r.key.typ, r.key.major, -1},
		{r.key.typ, -1, -1},
	} {
		if w == r.key {
			continue
		}
		if both := s.ex[w] & r.acc; both != 0 {
			verb := "deny"
			if r.allow {
				verb = "allow"
			}
			return fmt.Errorf("%s %q cannot punch a hole in the earlier wildcard exception %q (the devices cgroup cannot express it)",
				verb, r.String(), w.String()+" "+s.ex[w].String())
		}
	}
	if left := s.ex[r.key] &^ r.acc; left != 0 {
		s.ex[r.key] = left
	} else {
		delete(s.ex, r.key)
	}
	return nil
}

// allows reports whether s lets a process access device (typ, major,
// minor) with every access in acc, by the v1 kernel's rules
// (devcgroup_legacy_check_permission): in allow-list mode one exception
// must match the device and grant all of acc; in deny-list mode no
// exception matching the device may name any access in acc.
func (s *state) allows(typ byte, major, minor uint32, acc access) bool {
	for k, a := range s.ex {
		if k.typ != typ || (k.major >= 0 && uint32(k.major) != major) || (k.minor >= 0 && uint32(k.minor) != minor) {
			continue
		}
		if s.allowAll && a&acc != 0 {
			return false
		}
		if !s.allowAll && acc&^a == 0 {
			return true
		}
	}
	return s.allowAll
}

// keys returns the exception keys in a fixed order: type, major, minor.
func (s *state) keys() []key {
	ks := make([]key, 0, len(s.ex))
	for k := range s.ex {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor))
	})
	return ks
}

func (s *state) equal(o *state) bool {
	if s.allowAll != o.allowAll || len(s.ex) != len(o.ex) {
		return false
	}
	for k, a := range s.ex {
		if o.ex[k] != a {
			return false
		}
	}
	return true
}

// String gives s as devices.list shows it in allow-list mode (one
// exception a line), or "a *:* rwm" plus the deny exceptions, marked.
func (s *state) String() string {
	var b strings.Builder
	if s.allowAll {
		b.WriteString("a *:* rwm\n")
	}
	for _, k := range s.keys() {
		if s.allowAll {
			b.WriteString("deny ")
		}
		b.WriteString(k.String() + " " + s.ex[k].String() + "\n")
	}
	return b.String()
}

// parseList reads a v1 devices.list. The kernel lists the allow exceptions
// in allow-list mode and only "a *:* rwm" in deny-list mode, whose deny
// exceptions cannot be read back: such a state has allowAll and no ex, and
// transition treats it as unknown.
func parseList(list string) (*state, error) {
	s := newState(false)
	for _, line := range strings.Split(list, "\n") {
		if line == "" {
			continue
		}
		r, err := parseListLine(line)
		if err != nil {
			return nil, fmt.Errorf("devices.list line %q: %w", line, err)
		}
		if err := s.apply(r); err != nil {
			return nil, fmt.Errorf("devices.list line %q: %w", line, err)
		}
	}
	return s, nil
}

func parseListLine(line string) (rule, error) {
	f := strings.Fields(line)
	if len(f) != 3 || len(f[0]) != 1 {
		return rule{}, fmt.Errorf("want \"type major:minor access\"")
	}
	r := rule{allow: true}
	switch f[0] {
	case "a":
		r.all = true
		return r, nil
	case "b", "c":
		r.key.typ = f[0][0]
	default:
		return rule{}, fmt.Errorf("unknown type %q", f[0])
	}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return rule{}, fmt.Errorf("want major:minor, got %q", f[1])
	}
	var err error
	if r.key.major, err = parseListNum(maj); err != nil {
		return rule{}, err
	}
	if r.key.minor, err = parseListNum(min); err != nil {
		return rule{}, err
	}
	if r.acc, err = parseAccess(f[2]); err != nil {
		return rule{}, err
	}
	return r, nil
}

func parseListNum(s string) (int64, error) {
	if s == "*" {
		return -1, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return int64(n), err
}

// write is one line for devices.allow (allow) or devices.deny.
type write struct {
	allow bool
	line  string
}

func (w write) file() string {
	if w.allow {
		return "devices.allow"
	}
	return "devices.deny"
}

// transition returns the writes that take a v1 devices cgroup from cur to
// target, as runc's emulator computes them, so that no step allows more
// than cur or target do:
//
//   - in allow-list mode throughout, the accesses to drop are removed
//     before the new ones are added (every step is within cur ∪ target),
//     and nothing is written for what both share;
//   - a switch to allow-list mode starts with "deny a *:* rwm" (deny all),
//     then adds the exceptions;
//   - a switch to, or a stay in, deny-list mode must start with "allow a
//     *:* rwm", because deny-list exceptions cannot be read back from
//     devices.list. Until the deny exceptions are written again that
//     briefly allows every device: an unavoidable limit of the v1
//     interface, which containers normally avoid by using allow lists.
func transition(cur, target *state) []write {
	var ws []write
	old := cur.ex
	if cur.allowAll || cur.allowAll != target.allowAll {
		ws = append(ws, write{allow: target.allowAll, line: "a *:* rwm"})
		old = nil
	}
	oldKeys := (&state{ex: old}).keys()
	for _, k := range oldKeys {
		if drop := old[k] &^ target.ex[k]; drop != 0 {
			ws = append(ws, write{allow: target.allowAll, line: k.String() + " " + drop.String()})
		}
	}
	for _, k := range target.keys() {
		if gain := target.ex[k] &^ old[k]; gain != 0 {
			ws = append(ws, write{allow: !target.allowAll, line: k.String() + " " + gain.String()})
		}
	}
	return ws
}
