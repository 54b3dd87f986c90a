// Package intelrdt places a container in an Intel RDT resource group of
// the resctrl filesystem (linux.intelRdt): the CTRL_MON group named by
// closID (or the container id), its schemata, and an optional monitoring
// group. It touches resctrl only when linux.intelRdt is set.
package intelrdt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotMounted means no resctrl filesystem is mounted: the CPU or kernel
// lacks RDT, or nobody mounted it at /sys/fs/resctrl.
var ErrNotMounted = errors.New("no resctrl filesystem is mounted (Intel RDT / AMD QoS unavailable on this host)")

// Validate checks linux.intelRdt without touching the host.
func Validate(r *specs.LinuxIntelRdt) error {
	if r == nil {
		return nil
	}
	if id := r.ClosID; id != "" && id != "/" {
		if strings.ContainsAny(id, "/\n\x00") || id == "." || id == ".." {
			return fmt.Errorf("linux.intelRdt.closID: %q is not a valid resctrl group name", id)
		}
	}
	if s := r.L3CacheSchema; s != "" {
		if !strings.HasPrefix(s, "L3") || strings.ContainsAny(s, "\n\x00") {
			return fmt.Errorf("linux.intelRdt.l3CacheSchema: %q must start with L3 and be one line", s)
		}
	}
	if s := r.MemBwSchema; s != "" {
		if !strings.HasPrefix(s, "MB:") || strings.ContainsAny(s, "\n\x00") {
			return fmt.Errorf("linux.intelRdt.memBwSchema: %q must start with MB: and be one line", s)
		}
	}
	for i, s := range r.Schemata {
		if strings.ContainsAny(s, "\n\x00") || !strings.Contains(s, ":") {
			return fmt.Errorf("linux.intelRdt.schemata[%d]: %q is not one RESOURCE:ID=VALUE line", i, s)
		}
	}
	return nil
}

// Schemata returns the lines to write to the group's schemata file, in the
// order the spec mandates: l3CacheSchema, memBwSchema, then schemata.
func Schemata(r *specs.LinuxIntelRdt) []string {
	var lines []string
	if r.L3CacheSchema != "" {
		lines = append(lines, r.L3CacheSchema)
	}
	if r.MemBwSchema != "" {
		lines = append(lines, r.MemBwSchema)
	}
	return append(lines, r.Schemata...)
}

// Mountpoint returns the mount point of the first resctrl filesystem in a
// mountinfo table (/proc/self/mountinfo).
func Mountpoint(mountinfo io.Reader) (string, error) {
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && g[0] == "resctrl" {
			return unescape(f[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNotMounted
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// HostMountpoint finds the resctrl mount of this process's mount namespace.
func HostMountpoint() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return Mountpoint(f)
}

// Group is a container's place in resctrl; it is recorded at create so
// that delete removes exactly what create made.
type Group struct {
	// Dir is the CTRL_MON group (the resctrl root for closID "/").
	Dir string `json:"dir"`
	// Created: podrun made Dir and removes it on delete (no closID given).
	Created bool `json:"created,omitempty"`
	// MonDir is the monitoring group (enableMonitoring), removed on delete.
	MonDir string `json:"monDir,omitempty"`
}

// Apply creates or checks the group of container id under the resctrl
// mount root, writes its schemata and moves pid into it. On error the
// returned Group says what was made, for Destroy.
func Apply(root, id string, r *specs.LinuxIntelRdt, pid int) (Group, error) {
	var g Group
	lines := Schemata(r)
	switch {
	case r.ClosID == "/":
		g.Dir = root
		if err := compareSchemata(root, lines); err != nil {
			return g, err
		}
	case r.ClosID == "":
		g.Dir = filepath.Join(root, id)
		if err := os.Mkdir(g.Dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				return Group{}, fmt.Errorf("linux.intelRdt: resctrl group %s already exists", g.Dir)
			}
			return Group{}, fmt.Errorf("linux.intelRdt: creating resctrl group: %w", err)
		}
		g.Created = true
		if err := writeSchemata(root, g.Dir, lines); err != nil {
			return g, err
		}
	case len(lines) == 0:
		// Only a pre-configured group may be named alone.
		g.Dir = filepath.Join(root, r.ClosID)
		if st, err := os.Stat(g.Dir); err != nil || !st.IsDir() {
			return Group{}, fmt.Errorf("linux.intelRdt.closID: resctrl group %q does not exist", r.ClosID)
		}
	default:
		g.Dir = filepath.Join(root, r.ClosID)
		err := os.Mkdir(g.Dir, 0o755)
		switch {
		case err == nil:
			// Made for this closID, which other containers may share:
			// never removed by podrun (the spec says so).
			if err := writeSchemata(root, g.Dir, lines); err != nil {
				return g, err
			}
		case errors.Is(err, os.ErrExist):
			if err := compareSchemata(g.Dir, lines); err != nil {
				return g, err
			}
		default:
			return Group{}, fmt.Errorf("linux.intelRdt: creating resctrl group %q: %w", r.ClosID, err)
		}
	}
	if err := writeTask(g.Dir, pid); err != nil {
		return g, err
	}
	if r.EnableMonitoring {
		mon := filepath.Join(g.Dir, "mon_groups", id)
		if err := os.Mkdir(mon, 0o755); err != nil {
			return g, fmt.Errorf("linux.intelRdt.enableMonitoring: creating monitoring group: %w", err)
		}
		g.MonDir = mon
		if err := writeTask(mon, pid); err != nil {
			return g, err
		}
	}
	return g, nil
}

func writeTask(dir string, pid int) error {
	if err := writeLines(filepath.Join(dir, "tasks"), []string{strconv.Itoa(pid)}); err != nil {
		return fmt.Errorf("linux.intelRdt: adding the init to resctrl group %s: %w", dir, err)
	}
	return nil
}

// writeSchemata writes the lines one write(2) each, so that the kernel's
// reason for refusing one (info/last_cmd_status) names it.
func writeSchemata(root, dir string, lines []string) error {
	if err := writeLines(filepath.Join(dir, "schemata"), lines); err != nil {
		why := ""
		if b, e := os.ReadFile(filepath.Join(root, "info", "last_cmd_status")); e == nil {
			why = " (" + strings.TrimSpace(string(b)) + ")"
		}
		return fmt.Errorf("linux.intelRdt: writing schemata: %w%s", err, why)
	}
	return nil
}

// writeLines writes each line with its own write(2) on one open file.
// resctrl files exist in every group and ignore the offset; O_CREATE lets
// the tests run against a plain directory.
func writeLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := f.Write([]byte(l + "\n")); err != nil {
			f.Close()
			return fmt.Errorf("%q: %w", l, err)
		}
	}
	return f.Close()
}

// compareSchemata checks that an existing group has the asked-for values:
// every domain of every line must equal the group's.
func compareSchemata(dir string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "schemata"))
	if err != nil {
		return fmt.Errorf("linux.intelRdt: reading schemata of %s: %w", dir, err)
	}
	have := map[string]map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if res, doms, ok := parseLine(l); ok {
			have[res] = doms
		}
	}
	for _, l := range lines {
		res, doms, ok := parseLine(l)
		if !ok {
			return fmt.Errorf("linux.intelRdt: schemata line %q is not RESOURCE:ID=VALUE;...", l)
		}
		for d, v := range doms {
			if have[res][d] != v {
				return fmt.Errorf("linux.intelRdt: existing resctrl group %s has %s:%s=%s, not %s as asked",
					dir, res, d, have[res][d], v)
			}
		}
	}
	return nil
}

// parseLine splits "L3:0=7ff;1=7ff" into L3 and {0: 7ff, 1: 7ff}, with
// values normalised (lower case, no leading zeros) as the kernel prints them.
func parseLine(l string) (string, map[string]string, bool) {
	res, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
	if !ok || res == "" {
		return "", nil, false
	}
	doms := map[string]string{}
	for _, kv := range strings.Split(rest, ";") {
		d, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return "", nil, false
		}
		v = strings.TrimLeft(strings.ToLower(strings.TrimSpace(v)), "0")
		if v == "" {
			v = "0"
		}
		doms[strings.TrimSpace(d)] = v
	}
	return strings.TrimSpace(res), doms, true
}

// Destroy removes the monitoring group and, when podrun created it, the
// CTRL_MON group. Gone already is fine.
func (g Group) Destroy() error {
	dirs := []string{g.MonDir}
	if g.Created {
		dirs = append(dirs, g.Dir)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing resctrl group %s: %w", d, err)
		}
	}
	return nil
}
