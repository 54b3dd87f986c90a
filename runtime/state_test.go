package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeState puts a state.json with the given spec JSON under a new root.
func writeState(t *testing.T, spec string) *Runtime {
	t.Helper()
	r := New(t.TempDir(), nil)
	if err := os.Mkdir(r.dir("c1"), 0o711); err != nil {
		t.Fatal(err)
	}
	st := `{"id":"c1","bundle":"/b","rootfs":"/b/rootfs","status":"stopped","spec":` + spec + `}`
	if err := os.WriteFile(filepath.Join(r.dir("c1"), stateFile), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// The state keeps the spec as JSON: load decodes its hooks and
// annotations only, Spec the rest when asked, and a save writes back the
// same bytes it read.
func TestStateSpecDecodedOnDemand(t *testing.T) {
	spec := `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},` +
		`"hooks":{"poststop":[{"path":"/bin/true"}]},"annotations":{"a":"b"},` +
		`"linux":{"resources":{"pids":{"limit":7}}}}`
	r := writeState(t, spec)
	c, err := r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.spec != nil {
		t.Fatal("load decoded the whole spec")
	}
	if h := c.meta.Hooks; h == nil || len(h.Poststop) != 1 || h.Poststop[0].Path != "/bin/true" {
		t.Fatalf("hooks = %+v", h)
	}
	if a := c.OCIState().Annotations; a["a"] != "b" {
		t.Fatalf("annotations = %v", a)
	}
	s, err := c.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if s.Process == nil || s.Process.Args[0] != "sh" || s.Linux.Resources.Pids.Limit == nil || *s.Linux.Resources.Pids.Limit != 7 {
		t.Fatalf("spec = %+v", s)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir("c1"), stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Spec json.RawMessage }
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved.Spec, []byte(spec)) {
		t.Fatalf("saved spec %s, want %s", saved.Spec, spec)
	}
}

// setSpec (Update) replaces the saved spec and what load decodes of it.
func TestStateSetSpec(t *testing.T) {
	r := writeState(t, `{"ociVersion":"1.0.2","annotations":{"a":"b"}}`)
	c, err := r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Spec()
	if err != nil {
		t.Fatal(err)
	}
	ns := *s
	ns.Annotations = map[string]string{"a": "c"}
	if err := c.setSpec(&ns); err != nil {
		t.Fatal(err)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a := c.OCIState().Annotations; a["a"] != "c" {
		t.Fatalf("annotations after setSpec = %v", a)
	}
}

// A spec whose hooks do not decode fails the load, as a state that does
// not decode always did: delete must not skip poststop hooks it cannot
// read.
func TestStateBadSpecRefused(t *testing.T) {
	for name, spec := range map[string]string{
		"hooks":       `{"hooks":5}`,
		"annotations": `{"annotations":{"a":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := writeState(t, spec)
			c, err := r.Load("c1")
			if err == nil {
				c.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), "spec") {
				t.Fatalf("error %q does not name the spec", err)
			}
		})
	}
}

// A state without a spec (null) has an empty one.
func TestStateNullSpec(t *testing.T) {
	r := writeState(t, `null`)
	c, err := r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Spec()
	if err != nil || s == nil || s.Process != nil {
		t.Fatalf("Spec() = %+v, %v", s, err)
	}
	// exec has nothing to start from.
	if _, _, err := c.baseProcess(); err == nil || !strings.Contains(err.Error(), "no process") {
		t.Fatalf("baseProcess() error = %v", err)
	}
}

// exec reads the process, seccomp and personality of the spec, and only
// those: the same values Spec gives.
func TestStateExecBase(t *testing.T) {
	r := writeState(t, `{"process":{"args":["sh"],"env":["A=1"]},"linux":{`+
		`"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"personality":{"domain":"LINUX32"},`+
		`"resources":{"pids":{"limit":7}}}}`)
	c, err := r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, l, err := c.execBase()
	if err != nil {
		t.Fatal(err)
	}
	if c.spec != nil {
		t.Fatal("execBase decoded the whole spec")
	}
	if p == nil || p.Args[0] != "sh" || p.Env[0] != "A=1" {
		t.Fatalf("process = %+v", p)
	}
	if l == nil || l.Seccomp == nil || l.Seccomp.DefaultAction != "SCMP_ACT_ALLOW" ||
		l.Personality == nil || l.Personality.Domain != "LINUX32" || l.Resources != nil {
		t.Fatalf("linux = %+v", l)
	}
	full, err := c.Spec()
	if err != nil {
		t.Fatal(err)
	}
	p2, l2, _ := c.execBase()
	if p2 != full.Process || l2 != full.Linux {
		t.Fatal("execBase does not use the decoded spec")
	}
	r = writeState(t, `{"process":{"args":["sh"]}}`)
	c2, err := r.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, l, err := c2.execBase(); err != nil || l != nil {
		t.Fatalf("no linux: %v, %v", l, err)
	}
}
