package systemd

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Device access bits.
const (
	accRead = 1 << iota
	accWrite
	accMknod
	accAll = accRead | accWrite | accMknod
)

const wildcard = -1

type devKey struct {
	typ          byte // 'c' or 'b'
	major, minor int64
}

// devRules emulates the v1 devices cgroup on a list of rules applied in
// order: a default (allow or deny everything) and exceptions to it, as
// the kernel keeps them ("a" resets both; an exception rule adds access
// to its exact type:major:minor, the opposite rule takes it away again).
type devRules struct {
	allowAll   bool
	exceptions map[devKey]int
}

func (d *devRules) apply(r specs.LinuxDeviceCgroup) error {
	acc, err := parseAccess(r.Access)
	if err != nil {
		return err
	}
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	if typ == "a" {
		d.allowAll = r.Allow
		d.exceptions = nil
		return nil
	}
	if typ != "c" && typ != "b" {
		return fmt.Errorf("invalid device rule type %q", r.Type)
	}
	k := devKey{typ: typ[0], major: wildcard, minor: wildcard}
	if r.Major != nil {
		k.major = *r.Major
	}
	if r.Minor != nil {
		k.minor = *r.Minor
	}
	if k.major < wildcard || k.minor < wildcard {
		return fmt.Errorf("invalid device rule %s %d:%d", typ, k.major, k.minor)
	}
	if d.exceptions == nil {
		d.exceptions = make(map[devKey]int)
	}
	if r.Allow != d.allowAll {
		d.exceptions[k] |= acc
	} else if a := d.exceptions[k] &^ acc; a != 0 {
		d.exceptions[k] = a
	} else {
		delete(d.exceptions, k)
	}
	return nil
}

// parseAccess parses "rwm" (any subset, any order); empty means all.
func parseAccess(s string) (int, error) {
	if s == "" {
		return accAll, nil
	}
	acc := 0
	for _, c := range s {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		default:
			return 0, fmt.Errorf("invalid device access %q", s)
		}
	}
	return acc, nil
}

func accessString(acc int) string {
	s := ""
	if acc&accRead != 0 {
		s += "r"
	}
	if acc&accWrite != 0 {
		s += "w"
	}
	if acc&accMknod != 0 {
		s += "m"
	}
	return s
}

// procDevices is /proc/devices; a variable for the tests.
var procDevices = func() ([]byte, error) { return os.ReadFile("/proc/devices") }

// deviceProperties converts linux.resources.devices to DevicePolicy and
// DeviceAllow, like runc:
//
//   - rules that end in allow-all (and no exceptions) give DevicePolicy=auto
//     and no DeviceAllow entries: everything is allowed;
//   - an allow-list (the usual "deny all, then allow ...") gives
//     DevicePolicy=strict and one DeviceAllow entry per allowed device:
//     "/dev/char/M:m" for one device, "char-M" (systemd 240 or later;
//     before, the driver name from /proc/devices) for all minors of a
//     major, "char-*" for all devices of a type ("block-" likewise).
//     systemd cannot say "*:m" (any major, one minor): that rule is left
//     to the cgroupfs code alone;
//   - a deny-list (allow all but ...) cannot be said to systemd: it gets
//     strict with no entries, i.e. deny all, the safe side, as in runc; the
//     cgroupfs code then writes the real rules (on v1 they take effect;
//     on v2 systemd's deny-all program still applies).
//
// The DeviceAllow list is emptied first, so a Set replaces the old list.
func deviceProperties(rules []specs.LinuxDeviceCgroup, sdVer int) ([]sdbus.Property, error) {
	var d devRules
	for _, r := range rules {
		if err := d.apply(r); err != nil {
			return nil, err
		}
	}
	if d.allowAll {
		if len(d.exceptions) == 0 {
			return []sdbus.Property{newProp("DevicePolicy", "auto"), newProp("DeviceAllow", []deviceAllow{})}, nil
		}
		return []sdbus.Property{newProp("DevicePolicy", "strict"), newProp("DeviceAllow", []deviceAllow{})}, nil
	}
	keys := make([]devKey, 0, len(d.exceptions))
	for k := range d.exceptions {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b devKey) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor))
	})
	allow := []deviceAllow{}
	for _, k := range keys {
		group := "char-"
		dir := "/dev/char/"
		if k.typ == 'b' {
			group, dir = "block-", "/dev/block/"
		}
		var path string
		switch {
		case k.major == wildcard && k.minor == wildcard:
			path = group + "*"
		case k.major == wildcard:
			continue // "*:m": systemd has no syntax for it
		case k.minor == wildcard && sdVer >= 240:
			path = group + strconv.FormatInt(k.major, 10)
		case k.minor == wildcard:
			name, err := deviceGroup(k.typ, k.major)
			if err != nil {
				return nil, err
			}
			if name == "" {
				continue // unknown driver: cgroupfs only
			}
			path = group + name
		default:
			path = dir + strconv.FormatInt(k.major, 10) + ":" + strconv.FormatInt(k.minor, 10)
			if sdVer < 240 {
				// Older systemd stats the path and skips missing ones.
				if _, err := os.Stat(path); err != nil {
					continue
				}
			}
		}
		allow = append(allow, deviceAllow{Path: path, Perms: accessString(d.exceptions[k])})
	}
	return []sdbus.Property{
		newProp("DevicePolicy", "strict"),
		newProp("DeviceAllow", []deviceAllow{}),
		newProp("DeviceAllow", allow),
	}, nil
}

// deviceGroup finds the driver name of a major in /proc/devices.
func deviceGroup(typ byte, major int64) (string, error) {
	b, err := procDevices()
	if err != nil {
		return "", err
	}
	want := "Character devices:"
	if typ == 'b' {
		want = "Block devices:"
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "devices:") {
			in = line == want
			continue
		}
		num, name, ok := strings.Cut(line, " ")
		if in && ok && num == strconv.FormatInt(major, 10) {
			return strings.TrimSpace(name), nil
		}
	}
	return "", nil
}
