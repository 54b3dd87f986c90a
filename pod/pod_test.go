package pod

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podrun/podrun/pod/manifest"
)

func TestAddDropCaps(t *testing.T) {
	for _, c := range []struct {
		name      string
		add, drop []string
		has, lack []string
		n         int
	}{
		{name: "add one", add: []string{"NET_ADMIN"}, has: []string{"CAP_NET_ADMIN", "CAP_CHOWN"}, n: len(defaultCaps) + 1},
		{name: "drop one", drop: []string{"chown"}, lack: []string{"CAP_CHOWN"}, has: []string{"CAP_KILL"}, n: len(defaultCaps) - 1},
		{name: "drop all add one", add: []string{"NET_BIND_SERVICE"}, drop: []string{"ALL"}, has: []string{"CAP_NET_BIND_SERVICE"}, n: 1},
		{name: "add all drop one", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, has: []string{"CAP_NET_ADMIN"}, lack: []string{"CAP_SYS_ADMIN"}},
		{name: "drop all", drop: []string{"ALL"}, n: 0},
	} {
		got, err := addDropCaps(slices.Clone(defaultCaps), &manifest.Capabilities{Add: c.add, Drop: c.drop}, "spec.containers[0]")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, h := range c.has {
			if !slices.Contains(got, h) {
				t.Errorf("%s: %s missing from %v", c.name, h, got)
			}
		}
		for _, l := range c.lack {
			if slices.Contains(got, l) {
				t.Errorf("%s: %s present", c.name, l)
			}
		}
		if c.n >= 0 && (c.add == nil || c.add[0] != "ALL") && len(got) != c.n {
			t.Errorf("%s: %d caps, want %d: %v", c.name, len(got), c.n, got)
		}
	}
	_, err := addDropCaps(defaultCaps, &manifest.Capabilities{Add: []string{"NOPE"}}, "spec.containers[1]")
	if err == nil || err.Error() != `spec.containers[1].securityContext.capabilities.add[0]: unknown capability "NOPE"` {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestPodLimits(t *testing.T) {
	ctr := func(cpuReq, cpuLim, mem string) manifest.Container {
		c := manifest.Container{Resources: manifest.ResourceRequirements{Limits: map[string]string{}, Requests: map[string]string{}}}
		if cpuReq != "" {
			c.Resources.Requests["cpu"] = cpuReq
		}
		if cpuLim != "" {
			c.Resources.Limits["cpu"] = cpuLim
		}
		if mem != "" {
			c.Resources.Limits["memory"] = mem
		}
		return c
	}
	p := &manifest.Pod{}
	p.Spec.Containers = []manifest.Container{ctr("250m", "500m", "64Mi"), ctr("", "1", "32Mi")}
	p.Spec.InitContainers = []manifest.Container{ctr("", "2", "16Mi")}
	l, err := podLimits(p)
	if err != nil {
		t.Fatal(err)
	}
	// cpu: sum 1500m vs the init's 2000m; memory: sum 96Mi vs 16Mi.
	if l.cpuLimit != 2000 || l.memLimit != 96<<20 || l.cpuRequest != 2000 {
		t.Errorf("pod limits %+v", l)
	}
	r := l.resources()
	if *r.CPU.Quota != 200000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 2048 || *r.Memory.Limit != 96<<20 {
		t.Errorf("resources cpu %+v mem %+v", r.CPU, r.Memory)
	}
	// One container without a memory limit: no pod memory limit.
	p.Spec.Containers = append(p.Spec.Containers, ctr("100m", "", ""))
	if l, _ = podLimits(p); l.memLimit != 0 || l.cpuLimit != 0 {
		t.Errorf("unbounded container: pod limits %+v", l)
	}
	// A sidecar runs beside the app containers and the init containers
	// after it: its limits add to both (kubelet's PodLimits).
	side := ctr("100m", "1", "8Mi")
	side.RestartPolicy = manifest.ContainerRestartPolicyAlways
	p.Spec.Containers = p.Spec.Containers[:2]
	p.Spec.InitContainers = []manifest.Container{side, ctr("", "2", "100Mi")}
	if l, _ = podLimits(p); l.cpuLimit != 3000 || l.memLimit != 108<<20 || l.cpuRequest != 2100 {
		// cpu: apps 1500m + sidecar 1000m vs init 2000m + sidecar 1000m;
		// memory: 96Mi + 8Mi vs 100Mi + 8Mi.
		t.Errorf("pod limits with a sidecar %+v", l)
	}
	p.Spec.InitContainers[1] = ctr("", "500m", "1Mi")
	if l, _ = podLimits(p); l.cpuLimit != 2500 || l.memLimit != 104<<20 || l.cpuRequest != 1350 {
		t.Errorf("pod limits with a sidecar and a small init %+v", l)
	}
	if r := (limits{}).resources(); *r.CPU.Shares != 2 || r.CPU.Quota != nil || r.Memory != nil {
		t.Errorf("best effort: %+v", r)
	}
}

func TestHostsFile(t *testing.T) {
	sb := &Sandbox{Name: "web", Namespace: "prod", Pod: &manifest.Pod{Metadata: manifest.ObjectMeta{Name: "web", Namespace: "prod"}}}
	if got := string(hostsFile(sb)); !strings.HasSuffix(got, "127.0.1.1\tweb\n") || !strings.Contains(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("no IP:\n%s", got)
	}
	sb.IP = "10.1.2.3"
	sb.Pod.Spec.Hostname, sb.Pod.Spec.Subdomain = "h", "sub"
	if got := string(hostsFile(sb)); !strings.HasSuffix(got, "10.1.2.3\th.sub.prod.svc.cluster.local\th\n") {
		t.Errorf("with IP and subdomain:\n%s", got)
	}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	typ := func(s manifest.HostPathType) *manifest.HostPathType { return &s }
	for _, c := range []struct {
		path string
		t    *manifest.HostPathType
		ok   bool
	}{
		{dir, nil, true},
		{filepath.Join(dir, "missing"), nil, true},
		{dir, typ(manifest.HostPathDirectory), true},
		{file, typ(manifest.HostPathDirectory), false},
		{filepath.Join(dir, "missing"), typ(manifest.HostPathDirectory), false},
		{file, typ(manifest.HostPathFile), true},
		{dir, typ(manifest.HostPathFile), false},
		{filepath.Join(dir, "new/d"), typ(manifest.HostPathDirectoryOrCreate), true},
		{filepath.Join(dir, "new2/f"), typ(manifest.HostPathFileOrCreate), true},
		{dir, typ(manifest.HostPathFileOrCreate), false},
		{file, typ(manifest.HostPathSocket), false},
		{"/dev/null", typ(manifest.HostPathCharDev), true},
		{file, typ(manifest.HostPathCharDev), false},
		{"/dev/null", typ(manifest.HostPathBlockDev), false},
		{"relative", nil, false},
	} {
		err := checkHostPath(&manifest.HostPathVolumeSource{Path: c.path, Type: c.t})
		if (err == nil) != c.ok {
			t.Errorf("%s %v: %v", c.path, c.t, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "new/d")); err != nil || !st.IsDir() {
		t.Errorf("DirectoryOrCreate made nothing")
	}
	if st, err := os.Stat(filepath.Join(dir, "new2/f")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("FileOrCreate made nothing")
	}
}

func TestCommandLine(t *testing.T) {
	ep, cmd, env := []string{"/entry"}, []string{"serve", "$(X)"}, []string{"X=1"}
	for _, c := range []struct {
		command, args, want []string
	}{
		{nil, nil, []string{"/entry", "serve", "$(X)"}}, // the image's, unexpanded
		{[]string{"run", "$(X)"}, nil, []string{"run", "1"}},
		{nil, []string{"a", "$(X)", "$$(X)"}, []string{"/entry", "a", "1", "$(X)"}},
		{[]string{"run"}, []string{"b"}, []string{"run", "b"}},
	} {
		if got := commandLine(ep, cmd, c.command, c.args, env); !slices.Equal(got, c.want) {
			t.Errorf("command %q args %q: %q, want %q", c.command, c.args, got, c.want)
		}
	}
	if got := commandLine(nil, nil, nil, nil, nil); len(got) != 0 {
		t.Errorf("nothing: %q", got)
	}
}

func TestCoversAll(t *testing.T) {
	p := &manifest.Pod{}
	p.Spec.InitContainers = []manifest.Container{{Name: "init"}}
	p.Spec.Containers = []manifest.Container{{Name: "a"}, {Name: "b"}}
	all := map[string]string{"init": "i1", "a": "i2", "b": "i2"}
	if !coversAll(all, p) {
		t.Errorf("coversAll(%v) = false", all)
	}
	for _, miss := range []string{"init", "b"} {
		m := maps.Clone(all)
		delete(m, miss)
		if coversAll(m, p) {
			t.Errorf("coversAll without %q = true", miss)
		}
	}
	if coversAll(nil, p) {
		t.Error("coversAll(nil) = true")
	}
}
