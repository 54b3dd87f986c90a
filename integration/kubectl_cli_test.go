package integration

// The pod and image commands as kubectl users type them: flags after the
// pod name or path, and shell completion of pod and container names.

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/testimage"
)

// kubectlPod runs pod "demo" (containers web and side) and returns its env.
func kubectlPod(t *testing.T) *podEnv {
	p := newPodEnv(t)
	f := p.manifest(`apiVersion: v1
kind: Pod
metadata:
  name: demo
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:test
    env: [{name: WHO, value: web}]
    command: ["sh", "-c", "echo hello from $WHO; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
  - name: side
    image: busybox:test
    env: [{name: WHO, value: side}]
    command: ["sh", "-c", "echo hello from $WHO; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
`)
	p.mustPod("run", "-f", f, "-d")
	t.Cleanup(func() {
		if r := p.pod("rm", "-f", "demo"); r.Code != 0 && !strings.Contains(r.Stderr, "does not exist") {
			t.Errorf("pod rm -f demo: %s", r.Stderr)
		}
	})
	p.mustPod("wait", "demo", "--for", "condition=Ready", "--timeout", "60s")
	return p
}

func TestKubectlFlagOrder(t *testing.T) {
	p := kubectlPod(t)

	// pod logs NAME -c C
	if !waitFor(30*time.Second, func() bool { return p.mustPod("logs", "demo", "-c", "side").Stdout == "hello from side\n" }) {
		t.Errorf("pod logs demo -c side: %q", p.mustPod("logs", "demo", "-c", "side").Stdout)
	}
	// pod logs NAME -c C -f: follows (read the first line, then stop it)
	cmd := p.podCmd("logs", "demo", "-c", "web", "-f")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "hello from web\n" {
		t.Errorf("pod logs demo -c web -f: first line %q (%v)", line, err)
	}

	// pod status NAME -o json
	var st struct {
		Phase             string
		ContainerStatuses []struct{ Name string }
	}
	r := p.mustPod("status", "demo", "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Phase != "Running" || len(st.ContainerStatuses) != 2 {
		t.Errorf("pod status demo -o json: %v\n%s", err, r.Stdout)
	}

	// pod exec NAME -c C -- CMD: -c reaches exec, the command's own -c is
	// the command's.
	if r := p.mustPod("exec", "demo", "-c", "side", "--", "sh", "-c", "echo $WHO"); r.Stdout != "side\n" {
		t.Errorf("pod exec demo -c side -- sh -c: %q", r.Stdout)
	}
	if r := p.pod("exec", "demo", "-c", "web", "--", "sh", "-c", "exit 3"); r.Code != 3 {
		t.Errorf("pod exec demo -c web -- sh -c 'exit 3': exit %d, stderr %q", r.Code, r.Stderr)
	}
	// ... -- sh: stdin is /dev/null without -i; with -i it is ours.
	p.mustPod("exec", "demo", "-c", "web", "--", "sh")
	cmd = p.podCmd("exec", "demo", "-c", "side", "-i", "--", "sh")
	cmd.Stdin = strings.NewReader("echo in $WHO\n")
	if r := p.RunCmd(cmd); r.Code != 0 || r.Stdout != "in side\n" {
		t.Errorf("pod exec demo -c side -i -- sh: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// kubectl's rule: the command only after "--".
	for _, c := range []struct {
		want string
		args []string
	}{
		{`the command goes after "--"`, []string{"exec", "demo", "-c", "web", "sh", "-c", "true"}},
		{"pod logs: unknown flag --bogus", []string{"logs", "demo", "--bogus"}},
		{"pod status: flag -o needs a value", []string{"status", "demo", "-o"}},
	} {
		r := p.pod(c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
			t.Errorf("pod %v: exit %d, stderr %q; want one line with %q", c.args, r.Code, r.Stderr, c.want)
		}
	}

	// image import FILE --name N (and the listing, flags after too)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	testimage.OCIArchive(t, archive, "busybox:test")
	p.Must("image", "import", archive, "--name", "busybox:renamed", "--store", p.store)
	if r := p.Must("image", "ls", "--store", p.store, "-q"); r.Stdout == "" {
		t.Errorf("image ls -q: nothing")
	}
	if r := p.Must("image", "inspect", "busybox:renamed", "--store", p.store); !strings.Contains(r.Stdout, "busybox:renamed") {
		t.Errorf("image inspect busybox:renamed:\n%s", r.Stdout)
	}
}

// bashComplete runs the completion function of `podrun completion bash`
// on a command line (words after "podrun"; the last is being completed).
func bashComplete(t *testing.T, words ...string) []string {
	t.Helper()
	script := `source <("$PODRUN" completion bash) || exit 1
COMP_WORDS=("$PODRUN" "$@"); COMP_CWORD=$#
_podrun_complete || exit 1
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", append([]string{"-c", script, "bash"}, words...)...)
	cmd.Env = append(os.Environ(), "PODRUN="+podrunBin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash completion of %q: %v", words, err)
	}
	return strings.Fields(string(out))
}

func TestKubectlCompletion(t *testing.T) {
	p := kubectlPod(t)
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"--root", p.Root, "pod", "logs", ""}, "demo"},
		{[]string{"--root", p.Root, "pod", "logs", "demo", "-c", ""}, "web side"},
		{[]string{"--root", p.Root, "pod", "exec", "demo", "-it", "-c", "s"}, "side"},
		{[]string{"--root", p.Root, "pod", "status", "demo", "-o", "j"}, "json"},
		// bash splits --flag=value at "=": the reply is the value
		{[]string{"--root", p.Root, "pod", "logs", "demo", "--container", "=", "w"}, "web"},
		{[]string{"--root", p.Root, "pod", "logs", "demo", "--container", "="}, "web side"},
		{[]string{"--root", p.Root, "pod", "logs", "demo", "--container", "=", ""}, "web side"},
		{[]string{"--root", p.Root, "pod", "logs", "demo", "--container", "=", "web", "-f", "--pr"}, "--previous"},
		{[]string{"--root", p.Root, "pod", "lo"}, "logs"},
		{[]string{"pod", "logs", "demo", "--fol"}, "--follow"},
		{[]string{"compl"}, "completion"},
		{[]string{"image", "inspect", "--store", p.store, "busy"}, "busybox:test"},
		// ... and at ":" (image:tag)
		{[]string{"image", "inspect", "--store", p.store, "busybox", ":", "t"}, "test"},
		{[]string{"image", "inspect", "--store", p.store, "busybox", ":"}, "test"},
		{[]string{"bundle", "b", "--store", "=", p.store, "-i", "busybox", ":", ""}, "test"},
		// another root has no pods
		{[]string{"--root", t.TempDir(), "pod", "logs", ""}, ""},
	} {
		if got := strings.Join(bashComplete(t, c.words...), " "); got != c.want {
			t.Errorf("complete %q: %q, want %q", c.words, got, c.want)
		}
	}

	// zsh: the script parses, and its function, run with compsys's
	// compadd and _files stubbed, offers the same names.
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed (scripts/install-deps.sh installs it)")
	}
	script := filepath.Join(t.TempDir(), "_podrun")
	if err := os.WriteFile(script, []byte(p.Must("completion", "zsh").Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"--root", p.Root, "pod", "logs", ""}, "demo"},
		{[]string{"--root", p.Root, "pod", "logs", "demo", "-c", ""}, "web side"},
		{[]string{"image", "import", ""}, "FILES"},
	} {
		cmd := exec.Command(zsh, append([]string{"-f", "-c", `compdef() { :; }
compadd() { [[ $1 == -a ]] && print -rl -- ${(P)2}; }
_files() { print FILES; }
source "$SCRIPT" || exit 1
words=("$PODRUN" "$@"); CURRENT=$#words
_podrun`, "zsh"}, c.words...)...)
		cmd.Env = append(os.Environ(), "PODRUN="+podrunBin, "SCRIPT="+script)
		out, err := cmd.Output()
		if got := strings.Join(strings.Fields(string(out)), " "); err != nil || got != c.want {
			t.Errorf("zsh completion of %q: %q (%v), want %q", c.words, got, err, c.want)
		}
	}
}
