package checkreport

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	data := `22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
36 35 98:0 /mnt1 /mnt\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
40 36 0:5 / /dev rw shared:3 master:2 - tmpfs tmpfs rw,mode=755
41 36 0:6 / /x ro unbindable - tmpfs none ro
42 36 0:7 / /y ro - overlay overlay rw,lowerdir=/a:/b
`
	mounts, err := ParseMountinfo(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 5 {
		t.Fatalf("got %d mounts, want 5", len(mounts))
	}
	want := Mount{
		ID: 36, Parent: 35, Dev: "98:0", Root: "/mnt1", Mountpoint: "/mnt 2",
		Options: []string{"rw", "noatime"}, Optional: []string{"master:1"},
		Propagation: "slave", FSType: "ext3", Source: "/dev/root",
		SuperOptions: []string{"rw", "errors=continue"},
	}
	if !reflect.DeepEqual(mounts[1], want) {
		t.Errorf("got %+v\nwant %+v", mounts[1], want)
	}
	for i, p := range []string{"shared", "slave", "shared,slave", "unbindable", "private"} {
		if mounts[i].Propagation != p {
			t.Errorf("mount %d: propagation %q, want %q", i, mounts[i].Propagation, p)
		}
	}
	if !mounts[0].HasOption("noexec") || mounts[0].HasOption("ro") || !mounts[2].HasOption("mode=755") {
		t.Errorf("HasOption wrong on %+v / %+v", mounts[0], mounts[2])
	}
	if _, err := ParseMountinfo("1 2 3 4 5 6 7\n"); err == nil {
		t.Error("want an error for a line without separator")
	}
}

func TestParseCgroups(t *testing.T) {
	cgs, err := ParseCgroups("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/user.slice\n")
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Cgroups: cgs}
	for ctrl, want := range map[string]string{"memory": "/a/b", "cpuacct": "/c", "": "/user.slice", "name=systemd": "/"} {
		if got, ok := r.Cgroup(ctrl); !ok || got != want {
			t.Errorf("Cgroup(%q) = %q, %v; want %q", ctrl, got, ok, want)
		}
	}
	if _, ok := r.Cgroup("pids"); ok {
		t.Error("Cgroup(pids) found")
	}
}

func TestParseCapSet(t *testing.T) {
	// runc's default set: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
	s, err := ParseCapSet("0000000020000420")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}
	if !reflect.DeepEqual(s.Names, want) {
		t.Errorf("names %v, want %v", s.Names, want)
	}
	if !s.Has("kill") || !s.Has("CAP_AUDIT_WRITE") || s.Has("CAP_SYS_ADMIN") {
		t.Errorf("Has wrong for %v", s.Names)
	}
	s, _ = ParseCapSet("0000040000000000")
	if !reflect.DeepEqual(s.Names, []string{"CAP_42"}) {
		t.Errorf("unknown bit: %v", s.Names)
	}
	if s, _ := ParseCapSet("0000000000000000"); len(s.Names) != 0 || s.Names == nil {
		t.Errorf("empty set: %#v", s.Names)
	}
	if _, err := ParseCapSet("zz"); err == nil {
		t.Error("want an error for a bad mask")
	}
}

func TestParseStatus(t *testing.T) {
	st := ParseStatus("Name:\tchecker\nUmask:\t0022\nNoNewPrivs:\t1\nSeccomp:\t2\n")
	if st["Umask"] != "0022" || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("got %v", st)
	}
}

func TestParse(t *testing.T) {
	r := Report{
		Pid: 1, Hostname: "runc", Env: []string{"PATH=/bin", "A=b=c"},
		Rlimits: map[string]Rlimit{"RLIMIT_NOFILE": {Soft: 1024, Hard: RlimInfinity}},
		FDs:     []FD{{FD: 0, Target: "/dev/null"}},
		Mounts:  []Mount{{Mountpoint: "/dev", FSType: "tmpfs"}, {Mountpoint: "/dev", FSType: "devtmpfs"}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{
		"alone":       b,
		"with noise":  append(append([]byte("hello\r\n"), b...), []byte("\r\nbye\n")...),
		"with spaces": append(append([]byte("\n  "), b...), '\n'),
	} {
		got, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(*got, r) {
			t.Errorf("%s: got %+v, want %+v", name, *got, r)
		}
	}
	got, _ := Parse(b)
	if v, ok := got.Getenv("A"); !ok || v != "b=c" {
		t.Errorf("Getenv(A) = %q, %v", v, ok)
	}
	if _, ok := got.Getenv("HOME"); ok {
		t.Error("Getenv(HOME) found")
	}
	if l, ok := got.Rlimit("nofile"); !ok || l.Soft != 1024 || l.Hard != RlimInfinity {
		t.Errorf("Rlimit(nofile) = %+v, %v", l, ok)
	}
	if m := got.Mount("/dev"); m == nil || m.FSType != "devtmpfs" {
		t.Errorf("Mount(/dev) = %+v", m)
	}
	if got.FD(0) == nil || got.FD(1) != nil {
		t.Errorf("FD lookups wrong: %+v", got.FDs)
	}
	if _, err := Parse([]byte("sh: checker: not found\n")); err == nil {
		t.Error("want an error for output without a report")
	}
	if _, err := Parse(nil); err == nil {
		t.Error("want an error for empty output")
	}
}
