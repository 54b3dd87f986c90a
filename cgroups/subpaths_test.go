package cgroups

import (
	"fmt"
	"strings"
	"testing"
)

func TestSubPaths(t *testing.T) {
	v1 := map[string]string{
		"cpu": "/c/cpu,cpuacct/ctr", "cpuacct": "/c/cpu,cpuacct/ctr", "memory": "/c/memory/ctr",
		"pids": "/c/pids/ctr", "systemd:unit": "x.scope",
	}
	v2 := map[string]string{"": "/c/ctr"}
	for _, tc := range []struct {
		paths map[string]string
		args  []string
		want  string // fmt of the map, or "error: <substring>"
	}{
		{v2, []string{"sub"}, "map[:/c/ctr/sub]"},
		{v2, []string{"a/b"}, "map[:/c/ctr/a/b]"},
		{v2, []string{"memory:sub"}, "error: unknown controller memory"},
		{v2, []string{".."}, "error: .. is not a sub cgroup path"},
		{v2, []string{"../ctr2"}, "error: ../ctr2 is not a sub cgroup path"},
		{v2, []string{"."}, "map[:/c/ctr]"}, // the container's own, as runc
		{v2, []string{"a", "b"}, "error: missing <controller>: prefix"},
		{v1, []string{"s"}, "map[cpu:/c/cpu,cpuacct/ctr/s cpuacct:/c/cpu,cpuacct/ctr/s memory:/c/memory/ctr/s pids:/c/pids/ctr/s]"},
		{v1, []string{"memory:m"}, "map[cpu:/c/cpu,cpuacct/ctr cpuacct:/c/cpu,cpuacct/ctr memory:/c/memory/ctr/m pids:/c/pids/ctr]"},
		{v1, []string{"cpu:c", "memory:m"}, "map[cpu:/c/cpu,cpuacct/ctr/c cpuacct:/c/cpu,cpuacct/ctr/c memory:/c/memory/ctr/m pids:/c/pids/ctr]"},
		{v1, []string{"cpu,pids:x"}, "map[cpu:/c/cpu,cpuacct/ctr/x cpuacct:/c/cpu,cpuacct/ctr/x memory:/c/memory/ctr pids:/c/pids/ctr/x]"},
		{v1, []string{"cpu:a", "cpuacct:b"}, "error: same hierarchy"},
		{v1, []string{"a:b:c"}, "error: invalid --cgroup argument: a:b:c"},
		{v1, []string{"systemd:unit:x"}, "error: invalid --cgroup argument"},
		{v1, []string{"blkio:x"}, "error: unknown controller blkio"},
	} {
		got, err := SubPaths(tc.paths, tc.args, "systemd:unit")
		name := fmt.Sprint(tc.args)
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, %v; want error %q", name, got, err, want)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("%s: got %v, %v; want %s", name, got, err, tc.want)
		}
	}
	if v1["memory"] != "/c/memory/ctr" {
		t.Errorf("SubPaths changed its input: %v", v1)
	}
}
