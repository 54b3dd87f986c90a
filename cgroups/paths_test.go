package cgroups

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// mountinfo of a hybrid host like the dev VMs (v1 controllers each on its
// own mount, name=systemd, cgroup2 without controllers at unified).
const hybridMountinfo = `22 1 0:21 / / rw,relatime - ext4 /dev/vda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridSelf = `9:name=systemd:/user.slice/session-1.scope
4:memory:/process_api/8ff0
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/user.slice/session-1.scope
`

// A Debian-style v1 host: co-mounted cpu,cpuacct and net_cls,net_prio,
// and a pids hierarchy the caller sees in /proc/self/cgroup that is not
// mounted here.
const legacyMountinfo = `30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
`

const legacySelf = `12:pids:/system.slice/x.service
4:net_cls,net_prio:/
3:cpu,cpuacct:/system.slice/x.service
1:name=systemd:/system.slice/x.service
0::/system.slice/x.service
`

func mustHost(t *testing.T, mode Mode, mi string) *host {
	t.Helper()
	h, err := parseHost(mode, strings.NewReader(mi))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var unifiedHost = &host{mode: Unified, mounts: []hierarchyMount{{mountpoint: "/sys/fs/cgroup", root: "/", v2: true}}}

func TestResolve(t *testing.T) {
	hybrid := mustHost(t, Hybrid, hybridMountinfo)
	legacy := mustHost(t, Legacy, legacyMountinfo)
	for _, tc := range []struct {
		name, cgroupsPath, id string
		h                     *host
		self                  string
		want                  map[string]string
	}{
		{
			name: "hybrid empty: id under own cgroup", id: "c1", h: hybrid, self: hybridSelf,
			want: map[string]string{
				"name=systemd": "/sys/fs/cgroup/systemd/user.slice/session-1.scope/c1",
				"memory":       "/sys/fs/cgroup/memory/process_api/8ff0/c1",
				"cpuset":       "/sys/fs/cgroup/cpuset/c1",
				"cpuacct":      "/sys/fs/cgroup/cpuacct/c1",
				"cpu":          "/sys/fs/cgroup/cpu/c1",
				"":             "/sys/fs/cgroup/unified/user.slice/session-1.scope/c1",
			},
		},
		{
			name: "hybrid absolute: from each root", cgroupsPath: "/podrun/c1", id: "ignored", h: hybrid, self: hybridSelf,
			want: map[string]string{
				"name=systemd": "/sys/fs/cgroup/systemd/podrun/c1",
				"memory":       "/sys/fs/cgroup/memory/podrun/c1",
				"cpuset":       "/sys/fs/cgroup/cpuset/podrun/c1",
				"cpuacct":      "/sys/fs/cgroup/cpuacct/podrun/c1",
				"cpu":          "/sys/fs/cgroup/cpu/podrun/c1",
				"":             "/sys/fs/cgroup/unified/podrun/c1",
			},
		},
		{
			name: "hybrid relative, cleaned", cgroupsPath: "./a//x/../b/", id: "c1", h: hybrid, self: hybridSelf,
			want: map[string]string{
				"name=systemd": "/sys/fs/cgroup/systemd/user.slice/session-1.scope/a/b",
				"memory":       "/sys/fs/cgroup/memory/process_api/8ff0/a/b",
				"cpuset":       "/sys/fs/cgroup/cpuset/a/b",
				"cpuacct":      "/sys/fs/cgroup/cpuacct/a/b",
				"cpu":          "/sys/fs/cgroup/cpu/a/b",
				"":             "/sys/fs/cgroup/unified/user.slice/session-1.scope/a/b",
			},
		},
		{
			name: "legacy: co-mounted controllers, unmounted pids skipped, cgroup2 ignored", id: "c1", h: legacy, self: legacySelf,
			want: map[string]string{
				"name=systemd": "/sys/fs/cgroup/systemd/system.slice/x.service/c1",
				"cpu":          "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service/c1",
				"cpuacct":      "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service/c1",
				"net_cls":      "/sys/fs/cgroup/net_cls,net_prio/c1",
				"net_prio":     "/sys/fs/cgroup/net_cls,net_prio/c1",
			},
		},
		{
			// The parent of the caller's cgroup, as runc: the caller's own
			// cgroup holds processes and could not delegate controllers.
			name: "unified empty", id: "c1", h: unifiedHost, self: "0::/init.scope\n",
			want: map[string]string{"": "/sys/fs/cgroup/c1"},
		},
		{
			name: "unified relative under a nested caller", cgroupsPath: "a", id: "c1", h: unifiedHost, self: "0::/user.slice/session-1.scope\n",
			want: map[string]string{"": "/sys/fs/cgroup/user.slice/a"},
		},
		{
			name: "unified absolute", cgroupsPath: "/a/b", id: "c1", h: unifiedHost, self: "0::/init.scope\n",
			want: map[string]string{"": "/sys/fs/cgroup/a/b"},
		},
		{
			name: "unified relative", cgroupsPath: "a/b", id: "c1", h: unifiedHost, self: "0::/\n",
			want: map[string]string{"": "/sys/fs/cgroup/a/b"},
		},
		{
			name: "cgroupns: own cgroup outside the namespace, absolute still fine", cgroupsPath: "/x", h: unifiedHost, self: "0::/../../user.slice\n",
			want: map[string]string{"": "/sys/fs/cgroup/x"},
		},
		{
			// A container that sees only its own sub-tree, bind-mounted
			// (mount root /docker/abc); the second mount shows the whole tree.
			name: "mount root not /", id: "c1", self: "5:memory:/docker/abc/sub\n1:name=systemd:/docker/abc\n",
			h: mustHost(t, Legacy, `40 30 0:40 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
41 30 0:41 /other /sys/fs/cgroup/systemd ro - cgroup cgroup rw,name=systemd
42 30 0:41 / /mnt/systemd ro - cgroup cgroup rw,name=systemd
`),
			want: map[string]string{
				"memory":       "/sys/fs/cgroup/memory/sub/c1",
				"name=systemd": "/mnt/systemd/docker/abc/c1",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolve(tc.cgroupsPath, tc.id, tc.h, []byte(tc.self))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	hybrid := mustHost(t, Hybrid, hybridMountinfo)
	for _, tc := range []struct {
		name, cgroupsPath, id string
		h                     *host
		self                  string
		want                  error
	}{
		{name: "relative escapes", cgroupsPath: "../x", id: "c", want: ErrInvalidPath},
		{name: "relative escapes later", cgroupsPath: "a/../../x", id: "c", want: ErrInvalidPath},
		{name: "absolute escapes", cgroupsPath: "/../x", id: "c", want: ErrInvalidPath},
		{name: "absolute escapes later", cgroupsPath: "/a/../../b", id: "c", want: ErrInvalidPath},
		{name: "hierarchy root", cgroupsPath: "/", id: "c", want: ErrInvalidPath},
		{name: "hierarchy root cleaned", cgroupsPath: "/a/..", id: "c", want: ErrInvalidPath},
		{name: "own cgroup", cgroupsPath: ".", id: "c", want: ErrInvalidPath},
		{name: "own cgroup cleaned", cgroupsPath: "a/..", id: "c", want: ErrInvalidPath},
		{name: "empty path, empty id", want: ErrInvalidPath},
		{name: "empty path, id with slash", id: "a/b", want: ErrInvalidPath},
		{name: "empty path, id ..", id: "..", want: ErrInvalidPath},
		{name: "nothing mounted", id: "c", h: &host{mode: Legacy}, want: ErrNotMounted},
		{name: "caller in no mounted hierarchy", id: "c", self: "7:pids:/\n", want: ErrNotMounted},
		{name: "unified without 0:: line", id: "c", h: unifiedHost, self: "1:name=systemd:/\n", want: ErrNotMounted},
		{name: "cgroupns: own cgroup outside the namespace", id: "c", h: unifiedHost, self: "0::/../x\n", want: ErrNotMounted},
		{
			name: "own cgroup not under mount root", id: "c", self: "5:memory:/elsewhere\n", want: ErrNotMounted,
			h: mustHost(t, Legacy, "40 30 0:40 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, self := tc.h, tc.self
			if h == nil {
				h = hybrid
			}
			if self == "" {
				self = hybridSelf
			}
			got, err := resolve(tc.cgroupsPath, tc.id, h, []byte(self))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want error %v", got, err, tc.want)
			}
			// As New reports it: one line, naming linux.cgroupsPath.
			msg := (&Error{CgroupsPath: tc.cgroupsPath, Op: "resolve", Err: err, fromSpec: true}).Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "linux.cgroupsPath") {
				t.Errorf("message %q: want one line naming linux.cgroupsPath", msg)
			}
			t.Log(msg)
		})
	}
}

func TestParseHost(t *testing.T) {
	h := mustHost(t, Legacy, legacyMountinfo)
	for _, m := range h.mounts {
		if m.v2 {
			t.Errorf("legacy host: cgroup2 mount %s kept", m.mountpoint)
		}
	}
	if len(h.mounts) != 3 {
		t.Errorf("legacy: got %d mounts, want 3", len(h.mounts))
	}
	h = mustHost(t, Hybrid, hybridMountinfo)
	if n := len(h.mounts); n != 6 || !h.mounts[5].v2 || h.mounts[5].mountpoint != "/sys/fs/cgroup/unified" {
		t.Errorf("hybrid: got %+v", h.mounts)
	}
	// Octal escapes in mount points are undone.
	h = mustHost(t, Legacy, `40 30 0:40 / /my\040cgroups/memory rw - cgroup cgroup rw,memory`+"\n")
	if h.mounts[0].mountpoint != "/my cgroups/memory" {
		t.Errorf("got mount point %q", h.mounts[0].mountpoint)
	}
}

func TestLoad(t *testing.T) {
	v1 := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/c", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c", "name=systemd": "/sys/fs/cgroup/systemd/c"}
	m, err := Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Paths(); !maps.Equal(got, v1) {
		t.Errorf("Paths() = %v, want %v", got, v1)
	}
	if got := m.(*manager).dirs; len(got) != 2 {
		t.Errorf("distinct dirs = %v, want 2", got)
	}
	m.Paths()["cpu"] = "changed"
	if m.Paths()["cpu"] == "changed" {
		t.Error("Paths() returns the manager's own map")
	}
	if f, err := m.CgroupFD(); !errors.Is(err, ErrNoCgroupFD) {
		t.Errorf("v1 CgroupFD() = %v, %v; want ErrNoCgroupFD", f, err)
	}
	if m, _ := Load(map[string]string{UnifiedKey: "/sys/fs/cgroup/c"}); !m.(*manager).onlyUnified {
		t.Error("unified-only paths not seen as v2")
	}
	for _, bad := range []map[string]string{nil, {"cpu": "relative/c"}, {"cpu": "/sys/fs/cgroup/cpu/../c"}, {"": "/"}} {
		if _, err := Load(bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Load(%v) = %v, want ErrInvalidPath", bad, err)
		}
	}
}
