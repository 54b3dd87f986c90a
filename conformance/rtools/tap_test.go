package main

import (
	"slices"
	"strings"
	"testing"
)

func units(fs []failure) []string {
	var us []string
	for _, f := range fs {
		us = append(us, f.program+" | "+f.unit)
	}
	return us
}

func TestParseTAPTests(t *testing.T) {
	out := `TAP version 13
ok 1 - create MUST generate an error if the ID is not provided
  ---
  {
    "error": "exit status 1"
  }
  ...
not ok 2 - attempting to ` + "`delete`" + ` a container that is not ` + "`stopped`" + ` MUST generate an error
  ---
  {
    "reference": "https://example/runtime.md#delete"
  }
  ...
not ok 3 - devices c 10:229 rwm is set correctly
# expect: c 10:229 rwm, actual: b 0:0 m
not ok 4 - memory kernel is set correctly # TODO not on this kernel
ok 5 # skip no hugetlb
1..5
`
	r := parseTAP([]byte(out))
	r.program = "delete"
	if r.ok != 2 {
		t.Errorf("ok = %d, want 2", r.ok)
	}
	want := []string{
		"delete | attempting to `delete` a container that is not `stopped` MUST generate an error",
		"delete | devices c 10:229 rwm is set correctly",
	}
	if got := units(r.failures()); !slices.Equal(got, want) {
		t.Errorf("failures = %q, want %q", got, want)
	}
	if d := r.failed[0].detail; !strings.Contains(d, "runtime.md#delete") {
		t.Errorf("detail of test 2 = %q, want its YAML block", d)
	}
	if d := r.failed[1].detail; !strings.Contains(d, "expect: c 10:229 rwm") {
		t.Errorf("detail of test 3 = %q, want its # lines", d)
	}
}

// An error in a YAML block before any test is a failure (the hooks
// programs report so, then print "1..0"); after a passing test it is that
// test's expected error.
func TestParseTAPDiagnostic(t *testing.T) {
	out := "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called in the listed order\"\n  }\n  ...\n1..0\n"
	r := parseTAP([]byte(out))
	r.program = "hooks"
	if got, want := units(r.failures()), []string{"hooks | (diagnostic)"}; !slices.Equal(got, want) {
		t.Errorf("failures = %q, want %q", got, want)
	}
	if r.passed() {
		t.Error("passed() with an error diagnostic")
	}
	empty := parseTAP([]byte("TAP version 13\n1..0\n"))
	if !empty.passed() {
		t.Errorf("a program that printed no test and no error fails: %+v", empty.failures())
	}
}

func TestResultProgramLevelFailures(t *testing.T) {
	r := result{program: "mounts", exitCode: 1, stderr: []byte("failed to create the container\npodrun: bad\n")}
	if got, want := units(r.failures()), []string{"mounts | (exit)"}; !slices.Equal(got, want) {
		t.Errorf("failures = %q, want %q", got, want)
	}
	if !strings.Contains(r.failures()[0].detail, "podrun: bad") {
		t.Errorf("detail = %q, want the stderr tail", r.failures()[0].detail)
	}
	r = result{program: "killsig", timedOut: true, exitCode: -1}
	if got, want := units(r.failures()), []string{"killsig | (timeout)"}; !slices.Equal(got, want) {
		t.Errorf("failures = %q, want %q", got, want)
	}
}

func TestParseExpected(t *testing.T) {
	list, err := parseExpected("x", []byte("# comment\n\nhooks | (diagnostic) | the suite expects \"post-start1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].program != "hooks" || list[0].unit != "(diagnostic)" || list[0].line != 3 {
		t.Errorf("list = %+v", list)
	}
	for _, bad := range []string{
		"hooks | (diagnostic)\n",      // no reason
		"hooks | (diagnostic) |  \n",  // empty reason
		"hooks|(diagnostic)|reason\n", // separator without spaces
		"a | b | r\na | b | again\n",  // duplicate
		" | (exit) | no program\n",    // empty program
	} {
		if _, err := parseExpected("x", []byte(bad)); err == nil {
			t.Errorf("parseExpected(%q) = nil error", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	list, err := parseExpected("x", []byte(`
delete | a MUST fail | runc too
hooks | (diagnostic) | suite bug
start | (exit) | fixed since
`))
	if err != nil {
		t.Fatal(err)
	}
	results := []result{
		{program: "delete", failed: []failure{{unit: "a MUST fail"}, {unit: "b MUST fail"}, {unit: "b MUST fail"}}},
		{program: "hooks", failed: []failure{{unit: unitDiagnostic}}},
		{program: "start", ok: 7},
	}
	v := list.check(results)
	if got, want := units(v.unexpected), []string{"delete | b MUST fail"}; !slices.Equal(got, want) {
		t.Errorf("unexpected = %q, want %q", got, want)
	}
	if len(v.nowPassing) != 1 || v.nowPassing[0].program != "start" {
		t.Errorf("nowPassing = %+v, want start | (exit)", v.nowPassing)
	}
	if v.total != 3 {
		t.Errorf("total = %d, want 3 (a repeated description counts once)", v.total)
	}
	// Entries of programs that did not run (-only) are neither.
	v = list.check(results[:1])
	if len(v.nowPassing) != 0 {
		t.Errorf("nowPassing = %+v for programs that did not run", v.nowPassing)
	}
	if got := list.unknownPrograms([]string{"delete", "hooks"}, true); !slices.Equal(got, []string{"start"}) {
		t.Errorf("unknownPrograms = %q, want [start]", got)
	}
	if got := list.unknownPrograms([]string{"delete"}, false); got != nil {
		t.Errorf("unknownPrograms with -only = %q, want none", got)
	}
}

func TestTestDescription(t *testing.T) {
	for in, want := range map[string]string{
		"1 - exit status 1":          "exit status 1",
		"12 has expected soft limit": "has expected soft limit",
		"3 - a # b":                  "a # b",
		"no number - still a test":   "no number - still a test",
	} {
		if got, skipped := testDescription(in); got != want || skipped {
			t.Errorf("testDescription(%q) = %q, %v; want %q, false", in, got, skipped, want)
		}
	}
	if got, skipped := testDescription("4 - kmem # SKIP not here"); got != "kmem" || !skipped {
		t.Errorf("directive: got %q, %v", got, skipped)
	}
}

const mountinfo = `24 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 24 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755
33 30 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw
40 30 0:36 / /sys/fs/cgroup/memory rw shared:17 - cgroup cgroup rw,memory
41 30 0:37 / /sys/fs/cgroup/cpu,cpuacct rw shared:18 - cgroup cgroup rw,cpu,cpuacct
42 30 0:38 / /sys/fs/cgroup/systemd rw shared:19 - cgroup cgroup rw,xattr,name=systemd
100 24 0:50 / /tmp/rtools-podrun-1/ocitest1 rw - ext4 /dev/vda1 rw
101 100 0:51 / /tmp/rtools-podrun-1/ocitest1/proc rw - proc proc rw
102 101 0:52 / /tmp/rtools-podrun-1/ocitest1/proc/sys\040x rw - proc proc rw
103 24 0:53 / /tmp/rtools-podrun-10 rw - tmpfs tmpfs rw
`

func TestMountsUnder(t *testing.T) {
	got := mountsUnder(mountinfo, "/tmp/rtools-podrun-1/")
	want := []string{"/tmp/rtools-podrun-1/ocitest1/proc/sys x", "/tmp/rtools-podrun-1/ocitest1/proc", "/tmp/rtools-podrun-1/ocitest1"}
	if !slices.Equal(got, want) {
		t.Errorf("mountsUnder = %q, want %q (deepest first, not the sibling -10)", got, want)
	}
}

func TestCgroupLeftovers(t *testing.T) {
	got := cgroupLeftovers(mountinfo, "4:memory:/process_api/x\n2:cpu,cpuacct:/\n9:name=systemd:/\n7:blkio:/\n0::/user.slice\n")
	want := []string{
		"/sys/fs/cgroup/memory/process_api/x/testdir/cgrouptest/container",
		"/sys/fs/cgroup/memory/process_api/x/testdir/cgrouptest",
		"/sys/fs/cgroup/memory/process_api/x/testdir",
		"/sys/fs/cgroup/memory/cgrouptest",
		"/sys/fs/cgroup/cpu,cpuacct/testdir/cgrouptest/container",
		"/sys/fs/cgroup/cpu,cpuacct/testdir/cgrouptest",
		"/sys/fs/cgroup/cpu,cpuacct/testdir",
		"/sys/fs/cgroup/cpu,cpuacct/cgrouptest",
		"/sys/fs/cgroup/systemd/testdir/cgrouptest/container",
		"/sys/fs/cgroup/systemd/testdir/cgrouptest",
		"/sys/fs/cgroup/systemd/testdir",
		"/sys/fs/cgroup/systemd/cgrouptest",
		// blkio is not mounted: nothing.
		"/sys/fs/cgroup/unified/user.slice/testdir/cgrouptest/container",
		"/sys/fs/cgroup/unified/user.slice/testdir/cgrouptest",
		"/sys/fs/cgroup/unified/user.slice/testdir",
		"/sys/fs/cgroup/unified/cgrouptest",
	}
	if !slices.Equal(got, want) {
		t.Errorf("cgroupLeftovers =\n%q\nwant\n%q", got, want)
	}
}

func TestExpectedForHost(t *testing.T) {
	list, err := parseExpected("x", []byte(`
hooks | (diagnostic) | everywhere
[cgroup v1] linux_cgroups_hugetlb | (exit) | not mounted on v1 hosts
[cgroup v2] linux_cgroups_devices | (exit) | no devices.list on v2
[cgroup v2] linux_cgroups_hugetlb | (exit) | the same unit, another host
`))
	if err != nil {
		t.Fatal(err)
	}
	progs := func(l expectedList) []string {
		var ps []string
		for _, e := range l {
			ps = append(ps, e.host+":"+e.program)
		}
		return ps
	}
	if got, want := progs(list.forHost("cgroup v1")), []string{":hooks", "cgroup v1:linux_cgroups_hugetlb"}; !slices.Equal(got, want) {
		t.Errorf("v1 = %q, want %q", got, want)
	}
	if got, want := progs(list.forHost("cgroup v2")), []string{":hooks", "cgroup v2:linux_cgroups_devices", "cgroup v2:linux_cgroups_hugetlb"}; !slices.Equal(got, want) {
		t.Errorf("v2 = %q, want %q", got, want)
	}
	for _, bad := range []string{"[cgroup v3] a | b | c\n", "[cgroup v1 a | b | c\n", "[cgroup v1] a | b | c\n[cgroup v1] a | b | d\n"} {
		if _, err := parseExpected("x", []byte(bad)); err == nil {
			t.Errorf("parseExpected(%q) = nil error", bad)
		}
	}
}
