package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The failure units that are not a TAP test.
const (
	unitExit       = "(exit)"       // the program exited non-zero (util.Fatal: it could not run its tests)
	unitDiagnostic = "(diagnostic)" // an error reported in a YAML block outside any test
	unitTimeout    = "(timeout)"    // the program did not finish within the per-program timeout
)

// result is one program's run.
type result struct {
	program        string
	ok             int       // passed tests
	failed         []failure // failed tests, then the program-level failures
	exitCode       int
	timedOut       bool
	stdout, stderr []byte
	elapsed        time.Duration
}

type failure struct {
	program, unit string
	detail        string // the test's YAML diagnostic, or stderr for program-level units
}

// failures returns every failure unit of r, program-level ones included.
func (r result) failures() []failure {
	fs := slices.Clone(r.failed)
	tail := string(lastLines(r.stderr, 6))
	switch {
	case r.timedOut:
		fs = append(fs, failure{unit: unitTimeout, detail: tail})
	case r.exitCode != 0:
		fs = append(fs, failure{unit: unitExit, detail: fmt.Sprintf("exit status %d\n%s", r.exitCode, tail)})
	}
	for i := range fs {
		fs[i].program = r.program
	}
	return fs
}

func (r result) passed() bool { return len(r.failures()) == 0 }

func (r result) summary() string {
	switch {
	case r.timedOut:
		return "TIMEOUT"
	case r.passed():
		return "pass"
	case r.exitCode != 0:
		return fmt.Sprintf("FAIL(exit %d)", r.exitCode)
	}
	return "FAIL"
}

// parseTAP reads a validation program's TAP: `ok N - desc` and
// `not ok N - desc` lines, each possibly followed by an indented YAML block
// ("  ---" to "  ..."). A YAML block before any test line that holds an
// "error" key is the program reporting a failure outside a test (the hooks
// programs do so and print "1..0").
func parseTAP(out []byte) result {
	var r result
	var yaml strings.Builder
	inYAML, seenTest := false, false
	last := -1 // index in r.failed of the last test line if it failed
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if inYAML {
			if trimmed == "..." {
				inYAML = false
				switch {
				case last >= 0:
					r.failed[last].detail = yaml.String()
				case !seenTest && strings.Contains(yaml.String(), `"error"`):
					r.failed = append(r.failed, failure{unit: unitDiagnostic, detail: yaml.String()})
				}
				continue
			}
			yaml.WriteString(trimmed + "\n")
			continue
		}
		switch {
		case trimmed == "---":
			inYAML = true
			yaml.Reset()
		case strings.HasPrefix(line, "ok "):
			seenTest, last = true, -1
			r.ok++
		case strings.HasPrefix(line, "not ok "):
			seenTest = true
			desc, skipped := testDescription(strings.TrimPrefix(line, "not ok "))
			if skipped {
				last = -1
				continue
			}
			r.failed = append(r.failed, failure{unit: desc})
			last = len(r.failed) - 1
		case strings.HasPrefix(line, "# ") && last >= 0:
			// tap-go's Diagnostic lines explain the test above them.
			r.failed[last].detail += strings.TrimPrefix(line, "# ") + "\n"
		}
	}
	return r
}

// testDescription returns the description of a test line after its
// "ok"/"not ok" ("N - desc # directive"), and whether a TODO or SKIP
// directive excuses its failure.
func testDescription(s string) (string, bool) {
	num, rest, _ := strings.Cut(s, " ")
	if _, err := strconv.Atoi(num); err != nil {
		rest = s
	}
	rest = strings.TrimPrefix(strings.TrimSpace(rest), "- ")
	desc, directive, found := strings.Cut(rest, " # ")
	if found {
		d := strings.ToUpper(strings.TrimSpace(directive))
		if strings.HasPrefix(d, "TODO") || strings.HasPrefix(d, "SKIP") {
			return strings.TrimSpace(desc), true
		}
	}
	return strings.TrimSpace(rest), false
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// expectedList is the committed list of failures every runtime has on
// the project's hosts: lines "program | unit | reason", where unit is a
// test description or (exit), (diagnostic), (timeout); # starts a comment
// line. A line that starts with "[cgroup v1]" or "[cgroup v2]" holds only
// on hosts of that cgroup mode (hybrid is v1: the controllers are there).
type expectedList []entry

type entry struct {
	program, unit, reason string
	host                  string // "", "cgroup v1" or "cgroup v2"
	line                  int
}

// hostModes are the qualifiers an entry may start with.
var hostModes = []string{"cgroup v1", "cgroup v2"}

// forHost returns the entries that hold on a host of the given mode.
func (l expectedList) forHost(mode string) expectedList {
	var out expectedList
	for _, e := range l {
		if e.host == "" || e.host == mode {
			out = append(out, e)
		}
	}
	return out
}

func readExpected(path string) (expectedList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseExpected(path, b)
}

func parseExpected(name string, b []byte) (expectedList, error) {
	var list expectedList
	seen := map[[3]string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		host := ""
		if rest, ok := strings.CutPrefix(line, "["); ok {
			q, after, found := strings.Cut(rest, "]")
			if !found || !slices.Contains(hostModes, q) {
				return nil, fmt.Errorf("%s:%d: a qualifier is [%s]", name, i+1, strings.Join(hostModes, "] or ["))
			}
			host, line = q, strings.TrimSpace(after)
		}
		parts := strings.SplitN(line, " | ", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want \"program | test description or (exit)/(diagnostic)/(timeout) | reason\"", name, i+1)
		}
		e := entry{program: strings.TrimSpace(parts[0]), unit: strings.TrimSpace(parts[1]), reason: strings.TrimSpace(parts[2]), host: host, line: i + 1}
		key := [3]string{e.host, e.program, e.unit}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s | %s is listed already on line %d", name, i+1, e.program, e.unit, prev)
		}
		seen[key] = e.line
		list = append(list, e)
	}
	return list, nil
}

// unknownPrograms returns the listed programs that are not among progs
// (a typo, or a program the pinned version does not have); only checked
// when every program ran.
func (l expectedList) unknownPrograms(progs []string, all bool) []string {
	if !all {
		return nil
	}
	var unknown []string
	for _, e := range l {
		if !slices.Contains(progs, e.program) && !slices.Contains(unknown, e.program) {
			unknown = append(unknown, e.program)
		}
	}
	return unknown
}

type verdict struct {
	total      int       // podrun's failures
	unexpected []failure // not in the list
	nowPassing []entry   // listed, for a program that ran, but not failing
}

// check compares the failures of the programs that ran with the list.
func (l expectedList) check(results []result) verdict {
	var v verdict
	failing := map[[2]string]bool{}
	ran := map[string]bool{}
	for _, r := range results {
		ran[r.program] = true
		for _, f := range r.failures() {
			key := [2]string{f.program, f.unit}
			if failing[key] {
				continue // the same description in a loop: one unit
			}
			failing[key] = true
			v.total++
			if !slices.ContainsFunc(l, func(e entry) bool { return e.program == f.program && e.unit == f.unit }) {
				v.unexpected = append(v.unexpected, f)
			}
		}
	}
	for _, e := range l {
		if ran[e.program] && !failing[[2]string{e.program, e.unit}] {
			v.nowPassing = append(v.nowPassing, e)
		}
	}
	return v
}

// mountsUnder returns the mount points in a mountinfo text that lie below
// dir, deepest first (the 5th field, with mountinfo's octal escapes undone).
func mountsUnder(mountinfo, dir string) []string {
	prefix := filepath.Clean(dir) + "/"
	var points []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeOctal(f[4])
		if strings.HasPrefix(p, prefix) {
			points = append(points, p)
		}
	}
	slices.SortStableFunc(points, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return points
}

func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
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

// cgroupLeftovers returns the cgroup dirs the cgroup programs make,
// deepest first, in every mounted hierarchy: cgroupsPath "/cgrouptest" and,
// relative to the runtime's (this process's) cgroup,
// "testdir/cgrouptest/container". Runtimes remove a container's own
// cgroup on delete, not the parents a path made, so these stay behind.
func cgroupLeftovers(mountinfo, procCgroup string) []string {
	var dirs []string
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		mp := cgroupMount(mountinfo, f[1])
		if mp == "" {
			continue
		}
		own := filepath.Join(mp, f[2])
		dirs = append(dirs,
			filepath.Join(own, "testdir/cgrouptest/container"),
			filepath.Join(own, "testdir/cgrouptest"),
			filepath.Join(own, "testdir"),
			filepath.Join(mp, "cgrouptest"))
	}
	return dirs
}

// cgroupMount returns where the hierarchy of the comma-separated
// controllers of a /proc/self/cgroup line is mounted ("" for cgroup v2).
func cgroupMount(mountinfo, controllers string) string {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 5 || len(f) < sep+4 {
			continue
		}
		fstype, opts := f[sep+1], strings.Split(f[sep+3], ",")
		switch {
		case controllers == "" && fstype == "cgroup2":
			return unescapeOctal(f[4])
		case controllers != "" && fstype == "cgroup":
			all := true
			for _, c := range strings.Split(controllers, ",") {
				all = all && slices.Contains(opts, c)
			}
			if all {
				return unescapeOctal(f[4])
			}
		}
	}
	return ""
}
