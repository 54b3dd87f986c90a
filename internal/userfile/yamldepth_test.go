package userfile

import (
	"errors"
	"strings"
	"testing"
)

func nest(d int) string { return strings.Repeat("[", d) + "1" + strings.Repeat("]", d) }

func TestCheckYAMLDepthRefusesDeepFlow(t *testing.T) {
	deep := nest(MaxDepth + 1)
	for _, doc := range []string{
		deep,
		"a: " + deep,
		"a:\n  b:\n  - " + deep,
		"--- " + deep,
		"a: !tag " + deep,
		"a: &anchor " + deep,
		"? " + deep + "\n: 1",
		// a comment or quote before it does not hide it
		"a: 'x' # it's\nb: " + deep,
		"a: \"x\\\"\" \nb: " + deep,
		// a quote that does not close on its line in block context
		"a: 'open\nb: " + deep,
		// brackets in quotes inside the flow collection do not close it
		strings.Repeat(`[ "]", `, MaxDepth+1),
		strings.Repeat(`[ ']''', `, MaxDepth+1),
		// quotes inside plain scalars do not open strings
		strings.Repeat(`[ it's "a, `, MaxDepth+1),
		"a: [it's, " + deep + "]",
		// an anchor ends at the bracket, a tag does not hide what follows it
		strings.Repeat("[ &a", MaxDepth+1),
		"a: [!t, " + deep + "]",
		// a block scalar's content is skipped, not what follows it
		"a: |\n  [[[\nb: " + deep,
		"- a: |\n    text\n  b: " + deep,
		"a: |\nb: " + deep,
		// flow over several lines
		strings.Repeat("[\n", MaxDepth+1),
		strings.Repeat("{a: \n", MaxDepth+1),
		// a plain scalar continued on a line starting with a quote
		"a: plain\n  'x\nb: " + deep,
		// ... or with a bracket, then a quote YAML reads in block context
		"a: plain\n  [\nx, 'y: " + deep,
		"a:\n  plain\n  [\nx, 'y: " + deep,
		"- a: plain\n     { 'z\n  b: " + deep,
		// a block scalar's first content line indented less than its key
		"a:\n- |\n 'x\nb: " + deep,
		"a:\n- |\n [ 'x\nb: " + deep,
		// an explicit indentation: later lines indented less are content
		"a: |1\n    x\n  [ 'x\nb: " + deep,
		// a quoted scalar over several lines in block context
		"a: \"x\n  [ 'y\"\nb: " + deep,
	} {
		if err := CheckYAMLDepth([]byte(doc)); !errors.Is(err, ErrTooDeep) {
			t.Errorf("CheckYAMLDepth(%.60q) = %v, want ErrTooDeep", doc, err)
		}
	}
}

func TestCheckYAMLDepthAcceptsManifests(t *testing.T) {
	ok := nest(MaxDepth)
	for _, doc := range []string{
		"", "a: 1", ok, "a: " + ok, "- " + ok,
		// brackets in quoted and plain scalars and comments
		"a: '" + strings.Repeat("[", 1000) + "'",
		"a: \"" + strings.Repeat("{", 1000) + "\"",
		"a: x" + strings.Repeat("[", 1000),
		"a: 1 # " + strings.Repeat("[", 1000),
		"a: [\"" + strings.Repeat("[", 1000) + "\", '" + strings.Repeat("{", 1000) + "']",
		"a: [x" + strings.Repeat("'", 1000) + "]",
		"a: !t" + strings.Repeat("[", 1000),
		// a shell script in a block scalar
		"command:\n- sh\n- -c\n- |\n  " + strings.Repeat("if [ -f x ]; then { echo \"it's\"; }; fi\n  ", 200) + "\n" + "x: " + ok,
		"args: [sh, -c, 'echo {a}; " + strings.Repeat("[", 500) + "']",
		"a: >-\n    " + strings.Repeat("[", 1000) + "\n\n    " + strings.Repeat("{", 1000) + "\nb: 1",
		// multi-line plain scalars, then many flow collections (not one
		// deep one): nothing makes the scanner fall back to counting
		"metadata:\n  annotations:\n    text: some\n      more text\n  labels: {a: b}\nspec:\n  containers:\n" +
			strings.Repeat("  - name: a\n    image: b\n    args: [sh, -c, 'echo [x']\n    ports: [{containerPort: 80}]\n    env:\n    - {name: A, value: x}\n", 200),
		"description:\n  some text\n  continued\nother: " + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "\nmore: [" + strings.Repeat("[1],", 500) + "]",
		`apiVersion: v1
kind: Pod
metadata: {name: x, labels: {app: web}}
spec:
  volumes: [{name: work, emptyDir: {}}]
  containers:
  - {name: a, image: "busybox:test", command: [sh, -c, 'echo [x] >> /work/order; exec sleep 1000'], volumeMounts: [{name: work, mountPath: /work}]}
  - name: b
    image: busybox
    args:
    - |
      while true; do
        [ -f /tmp/x ] && { echo "a[1]"; }
      done
`,
	} {
		if err := CheckYAMLDepth([]byte(doc)); err != nil {
			t.Errorf("CheckYAMLDepth(%.60q) = %v", doc, err)
		}
	}
}

func TestCheckYAMLDepthAllocatesNothing(t *testing.T) {
	deep := []byte("a: " + strings.Repeat("[", MaxSize))
	flat := []byte(strings.Repeat("- [a, 'b', \"c\", {d: e}]\n", MaxSize/24))
	if n := testing.AllocsPerRun(3, func() {
		if CheckYAMLDepth(deep) == nil || CheckYAMLDepth(flat) != nil {
			t.Fatal("wrong verdict")
		}
	}); n != 0 {
		t.Errorf("CheckYAMLDepth allocated %v times", n)
	}
}
