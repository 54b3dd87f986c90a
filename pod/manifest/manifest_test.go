package manifest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const podsDir = "../../testdata/pods"

func load(t *testing.T, name string) *Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(podsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestGoodManifests(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(podsDir, "*.*"))
	if len(files) < 5 {
		t.Fatalf("want the example pods in %s, found %d", podsDir, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p := load(t, filepath.Base(f))
			// Round trip: what pod inspect prints parses back to the same pod.
			out, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse(out)
			if err != nil {
				t.Fatalf("re-parse of %s: %v", out, err)
			}
			if err := q.Validate(); err != nil {
				t.Fatal(err)
			}
			// ... except for the uid: a new pod gets a new one, as from the
			// API server.
			if q.Metadata.UID != "" || !slices.Contains(q.Ignored(), "metadata.uid") {
				t.Errorf("re-parse kept uid %q (ignored %v)", q.Metadata.UID, q.Ignored())
			}
			q.ignored, p.ignored = nil, nil
			if !reflect.DeepEqual(p.Spec, q.Spec) || !reflect.DeepEqual(p.Metadata.Labels, q.Metadata.Labels) {
				t.Errorf("round trip changed the pod:\n%+v\n%+v", p.Spec, q.Spec)
			}
		})
	}
}

func TestBadManifests(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(podsDir, "bad", "*.yaml"))
	if len(files) < 20 {
		t.Fatalf("found only %d bad manifests", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line must be '# want: <error>'")
			}
			p, err := Parse(data)
			if err == nil {
				p.Default()
				err = p.Validate()
			}
			if err == nil {
				t.Fatalf("accepted; want error %q", want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\nwant it to contain %q", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := load(t, "minimal.yaml")
	if p.Metadata.Namespace != "default" || len(p.Metadata.UID) != 36 || p.Metadata.CreationTimestamp == nil {
		t.Errorf("metadata defaults: %+v", p.Metadata)
	}
	if p.Spec.RestartPolicy != RestartPolicyAlways || *p.Spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("spec defaults: %v %v", p.Spec.RestartPolicy, *p.Spec.TerminationGracePeriodSeconds)
	}
	if c := p.Spec.Containers[0]; c.ImagePullPolicy != PullAlways {
		t.Errorf("busybox (no tag): pull policy %q, want Always", c.ImagePullPolicy)
	}
	uid := p.Metadata.UID
	p.Default()
	if p.Metadata.UID != uid {
		t.Error("Default is not idempotent: uid changed")
	}

	f := load(t, "full.yaml")
	app := f.Spec.Containers[0]
	if app.ImagePullPolicy != PullIfNotPresent || f.Spec.InitContainers[0].ImagePullPolicy != PullIfNotPresent {
		t.Errorf("pull policies: %q %q", app.ImagePullPolicy, f.Spec.InitContainers[0].ImagePullPolicy)
	}
	if app.Ports[1].Protocol != ProtocolTCP {
		t.Errorf("port protocol default: %q", app.Ports[1].Protocol)
	}
	lp := app.LivenessProbe
	if lp.PeriodSeconds != 10 || lp.TimeoutSeconds != 2 || lp.SuccessThreshold != 1 || lp.FailureThreshold != 3 || lp.HTTPGet.Scheme != URISchemeHTTPS {
		t.Errorf("liveness defaults: %+v", lp)
	}
	rp := app.ReadinessProbe
	if rp.PeriodSeconds != 10 || rp.TimeoutSeconds != 1 || rp.SuccessThreshold != 2 || rp.FailureThreshold != 3 {
		t.Errorf("readiness defaults: %+v", rp)
	}
	if pre := app.Lifecycle.PreStop.HTTPGet; pre.Scheme != URISchemeHTTP || pre.Path != "/shutdown" {
		t.Errorf("preStop httpGet defaults: %+v", pre)
	}
	d := load(t, "demo.yaml")
	if d.Spec.Containers[0].ReadinessProbe.HTTPGet.Path != "/index.html" || d.Spec.Containers[1].ImagePullPolicy != PullIfNotPresent {
		t.Errorf("demo defaults: %+v", d.Spec.Containers[0].ReadinessProbe)
	}
	if d.Spec.Containers[0].ReadinessProbe.HTTPGet.Port != FromString("http") {
		t.Errorf("named port: %+v", d.Spec.Containers[0].ReadinessProbe.HTTPGet.Port)
	}
}

func TestIgnored(t *testing.T) {
	p := load(t, "full.yaml")
	got := p.Ignored()
	want := []string{"spec.nodeSelector", "spec.tolerations", "spec.serviceAccountName"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("Ignored() = %v, missing %s", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Ignored() = %v, want exactly %v", got, want)
	}
	// It survives a JSON round trip (pod.json of the sandbox).
	b, _ := json.Marshal(p)
	var q Pod
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Ignored(), got) {
		t.Errorf("after round trip Ignored() = %v", q.Ignored())
	}
	if m := load(t, "minimal.yaml"); len(m.Ignored()) != 0 {
		t.Errorf("minimal: Ignored() = %v", m.Ignored())
	}
}

func TestParseStream(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: busybox}]}\n"
	for name, in := range map[string]string{
		"leading separator":   "---\n" + doc,
		"trailing separator":  doc + "---\n# just a comment\n",
		"document end marker": doc + "...\n",
		"comments":            "# header\n\n---\n" + doc,
	} {
		if _, err := Parse([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// kubectl get -o yaml output carries a status: dropped and reported.
	p, err := Parse([]byte(doc + "status: {phase: Running, podIP: 10.0.0.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != "" || !slices.Contains(p.Ignored(), "status") {
		t.Errorf("status kept: %+v ignored %v", p.Status, p.Ignored())
	}
	// Numbers where Kubernetes takes quantities.
	p, err = Parse([]byte(strings.Replace(doc, "image: busybox", "image: busybox, resources: {limits: {cpu: 2, memory: 1e6}}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c := &p.Spec.Containers[0]; c.CPULimit() != 2000 || c.MemoryLimit() != 1000000 {
		t.Errorf("numeric quantities: %v -> %d %d", c.Resources.Limits, c.CPULimit(), c.MemoryLimit())
	}
	// Several errors are all reported, each with its path.
	_, err = Parse([]byte(strings.Replace(doc, "image: busybox", "image: 3, foo: 1, stdin: yes-please", 1)))
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
}

func TestQuantities(t *testing.T) {
	cpu := map[string]int64{"500m": 500, "1.5": 1500, "2": 2000, "0.1": 100, "1m": 1, "0.0001": 1, "2k": 2000000, "100e-3": 100}
	for in, want := range cpu {
		if got, err := ParseCPU(in); err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	mem := map[string]int64{"128Mi": 128 << 20, "1G": 1e9, "1e3": 1000, "500k": 500000, "1Ki": 1024, "1.5Gi": 3 << 29, "0": 0, "100": 100, "1E": 1e18, "+5": 5, "129e6": 129000000, "1n": 1}
	for in, want := range mem {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Mi", "1MiB", "1.2.3", "-1", "1e", "1e+", "abc", "1 Mi", "8Ei", "1e400"} {
		if v, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", bad, v)
		}
	}
}

func TestPodLimits(t *testing.T) {
	p := load(t, "demo.yaml")
	cpu, mem := p.PodLimits()
	if cpu != 0 { // fetcher has no cpu limit: the pod is not cpu-limited
		t.Errorf("pod cpu limit %d, want 0", cpu)
	}
	if mem != 0 { // init-www has no memory limit: kubelet leaves the pod unlimited
		t.Errorf("pod memory limit %d, want 0", mem)
	}
	p.Spec.InitContainers[0].Resources.Limits = map[string]string{"memory": "8Mi", "cpu": "2"}
	p.Spec.Containers[1].Resources.Limits["cpu"] = "100m"
	if cpu, mem := p.PodLimits(); mem != 48<<20 || cpu != 2000 {
		t.Errorf("pod limits %d %d, want cpu 2000 (the init's) and memory 48Mi", cpu, mem)
	}
	// As a sidecar, the init container runs beside the app containers.
	p.Spec.InitContainers[0].RestartPolicy = ContainerRestartPolicyAlways
	if cpu, mem := p.PodLimits(); mem != 56<<20 || cpu != 2000+350 {
		t.Errorf("pod limits with a sidecar %d %d, want cpu 2350 (2 + 250m + 100m) and memory 56Mi", cpu, mem)
	}
}

func TestEnvironment(t *testing.T) {
	p := load(t, "full.yaml")
	c := &p.Spec.Containers[0]
	env, err := p.Environment(c, []string{"PATH=/bin", "MODE=dev"}, FieldValues{PodIP: "10.1.2.3", NodeName: "host1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "MODE=prod", "POD_NAME=full", "POD_NS=team-a", "POD_UID=" + p.Metadata.UID,
		"POD_IP=10.1.2.3", "NODE=host1", "TIER=backend", "GREETING=hello full in prod"}
	if !slices.Equal(env, want) {
		t.Errorf("env\n got %q\nwant %q", env, want)
	}
	args := ExpandCommand(c.Args, env)
	if !slices.Equal(args, []string{"--listen=:8080", "--name=full", "$(literal)"}) {
		t.Errorf("args %q", args)
	}
	if got := Expand("$(A)-$(MISSING)-$$(A)-$-$(", func(n string) (string, bool) { return "x", n == "A" }); got != "x-$(MISSING)-$(A)-$-$(" {
		t.Errorf("Expand: %q", got)
	}
}

// $(VAR) expands from the container's own earlier entries, never from
// the image's Env, which the merged environment still carries.
func TestContainerEnvIgnoresImageEnv(t *testing.T) {
	p := &Pod{}
	c := &Container{Env: []EnvVar{{Name: "A", Value: "$(PATH):$(HOME)"}, {Name: "HOME", Value: "/h"}, {Name: "B", Value: "$(HOME)"}}}
	env, err := p.ContainerEnv(c, FieldValues{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=$(PATH):$(HOME)", "HOME=/h", "B=/h"}; !slices.Equal(env, want) {
		t.Errorf("ContainerEnv = %q, want %q", env, want)
	}
	merged := MergeEnv([]string{"PATH=/bin", "HOME=/root"}, env)
	if want := []string{"PATH=/bin", "HOME=/h", "A=$(PATH):$(HOME)", "B=/h"}; !slices.Equal(merged, want) {
		t.Errorf("MergeEnv = %q, want %q", merged, want)
	}
}

func TestIntOrStringAndTime(t *testing.T) {
	var h HTTPGetAction
	if err := json.Unmarshal([]byte(`{"port":"web"}`), &h); err != nil || h.Port != FromString("web") {
		t.Errorf("%+v %v", h, err)
	}
	if err := json.Unmarshal([]byte(`{"port":8080}`), &h); err != nil || h.Port != FromInt(8080) {
		t.Errorf("%+v %v", h, err)
	}
	if b, _ := json.Marshal(h); string(b) != `{"port":8080}` {
		t.Errorf("marshal %s", b)
	}
	if err := json.Unmarshal([]byte(`{"port":true}`), &h); err == nil {
		t.Error("port true accepted")
	}
	var s ContainerStateRunning
	if err := json.Unmarshal([]byte(`{"startedAt":"2024-05-01T10:20:30Z"}`), &s); err != nil || s.StartedAt.UTC().Hour() != 10 {
		t.Fatalf("%+v %v", s, err)
	}
	if b, _ := json.Marshal(s); string(b) != `{"startedAt":"2024-05-01T10:20:30Z"}` {
		t.Errorf("marshal %s", b)
	}
	if b, _ := json.Marshal(ContainerStateRunning{}); string(b) != `{}` {
		t.Errorf("empty time marshals as %s", b)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(podsDir, "*.*"))
	bad, _ := filepath.Glob(filepath.Join(podsDir, "bad", "*.yaml"))
	for _, p := range append(files, bad...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		p.Default()
		if err := p.Validate(); err != nil {
			return
		}
		_ = p.Ignored()
		for i := range p.Spec.Containers {
			c := &p.Spec.Containers[i]
			_, _ = p.Environment(c, nil, FieldValues{})
			_, _ = c.CPULimit(), c.MemoryLimit()
		}
		// A valid pod prints as JSON that parses and validates again.
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("re-validate: %v\n%s", err, out)
		}
	})
}

func TestDuplicateFields(t *testing.T) {
	for in, want := range map[string]string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox, image: evil}]\n":       "already set",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox}]\n  containers: []\n":  "already set",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"b","image":"c"}]}}`: "spec.containers[0].image: duplicate field",
	} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line containing %q", in, err, want)
		}
	}
	for _, bad := range []string{`{"apiVersion":"v1"`, `{"apiVersion":"v1"} {}`, `{"a":[1,2}`} {
		if _, err := Parse([]byte(bad)); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
