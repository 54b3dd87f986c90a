package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// testApp is podrun's whole command tree.
func testApp() *cli.App {
	var e runccli.Env
	return newApp(&e, io.Discard, io.Discard)
}

func TestKubectlArgs(t *testing.T) {
	app := testApp()
	for _, c := range []struct{ in, want string }{
		// flags after the pod name, values consumed, booleans not
		{"pod logs demo -c web -f", "pod logs -c web -f demo"},
		{"pod logs demo -f -c web", "pod logs -f -c web demo"},
		{"pod status demo -o json", "pod status -o json demo"},
		{"pod status demo --output=json", "pod status --output=json demo"},
		{"pod logs -c web demo", "pod logs -c web demo"},
		// a flag's value that looks like a flag or a subcommand is a value
		{"pod logs demo -c -f", "pod logs -c -f demo"},
		{"pod logs demo -c logs", "pod logs -c logs demo"},
		// exec: "--" stays after the pod name, the command untouched
		{"pod exec demo -c web -- sh -c x", "pod exec -c web demo -- sh -c x"},
		{"pod exec demo -it -c web -- sh", "pod exec -it -c web demo -- sh"},
		{"pod exec -c web demo -- ls -l -- x", "pod exec -c web demo -- ls -l -- x"},
		{"pod exec demo -ic web -- sh", "pod exec -ic web demo -- sh"},
		{"pod attach demo -ti", "pod attach -ti demo"},
		// image import, pull, bundle
		{"image import busybox.tar --name busybox", "image import --name busybox busybox.tar"},
		{"image import busybox.tar --name busybox -q --store /s", "image import --name busybox -q --store /s busybox.tar"},
		{"bundle /b -i busybox -t", "bundle -i busybox -t /b"},
		// parent and global flags go back to their commands
		{"pod logs demo --data-dir /d -c web", "pod --data-dir /d logs -c web demo"},
		{"pod ls --root /r -q", "--root /r pod ls -q"},
		{"--debug pod --store /s status demo --root=/r -o yaml", "--debug --root=/r pod --store /s status -o yaml demo"},
		{"pod rm demo -f", "pod rm -f demo"},
		{"pod run -f - -d", "pod run -f - -d"},
		{"pod logs demo --help", "pod logs --help"},
		{"pod exec demo -h -- sh", "pod exec -h"},
		{"image import a.tar --help", "image import --help"},
		{"pod logs demo -c help", "pod logs -c help demo"},
		{"pod logs demo -c -h", "pod logs -c -h demo"},
		// "--" elsewhere ends the flags; what follows is positional
		{"image import -- -odd.tar --name x", "image import -- -odd.tar --name x"},
		{"image rm a -- -b", "image rm -- a -b"},
		// aliases run as their command
		{"pod list -q", "pod ls -q"},
		// runc commands keep runc's parsing
		{"exec ctr -c x", "exec ctr -c x"},
		{"kill ctr -a", "kill ctr -a"},
		{"create --bundle b ctr --nope", "create --bundle b ctr --nope"},
		{"--nope pod logs demo -c x", "--nope pod logs demo -c x"},
		{"", ""},
	} {
		in := append([]string{"podrun"}, strings.Fields(c.in)...)
		got, err := kubectlArgs(app, in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if want := append([]string{"podrun"}, strings.Fields(c.want)...); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, want)
		}
	}
}

func TestKubectlArgsErrors(t *testing.T) {
	app := testApp()
	for _, c := range []struct{ in, want string }{
		{"pod logs demo -x", "pod logs: unknown flag -x"},
		{"pod logs demo --nope=1", "pod logs: unknown flag --nope=1"},
		{"pod logs demo -c", "pod logs: flag -c needs a value"},
		{"image import a.tar --name", "image import: flag --name needs a value"},
		{"pod exec demo -ix -- sh", "pod exec: unknown flag -ix"},
		{"pod exec demo -ci web -- sh", "pod exec: unknown flag -ci"},
		{"pod logs demo -fp", "pod logs: unknown flag -fp"}, // logs does not combine
		{"pod exec demo -ic", "pod exec: flag -ic needs a value"},
		{"bundle /b --nope", "bundle: unknown flag --nope"},
	} {
		_, err := kubectlArgs(app, append([]string{"podrun"}, strings.Fields(c.in)...))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
}

// The real app: a flag after the argument reaches the command, and an
// unknown one is a one-line error.
func TestRunKubectlOrder(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"podrun", "image", "import", filepath.Join(dir, "missing.tar"), "--name", "x", "--store", filepath.Join(dir, "s")}, &out, &errb)
	if code == 0 || strings.Contains(errb.String(), "takes one PATH") || !strings.Contains(errb.String(), "missing.tar") {
		t.Errorf("image import PATH --name: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = run([]string{"podrun", "--root", dir, "pod", "logs", "demo", "--bogus"}, &out, &errb)
	if code != 1 || errb.String() != "podrun: pod logs: unknown flag --bogus\n" {
		t.Errorf("unknown flag: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	for _, args := range [][]string{
		{"exec", "demo", "-c", "web", "--", "sh"},
		{"exec", "demo", "-ic", "web", "--", "sh"},
		{"logs", "demo", "-f", "-c", "web"},
		{"status", "demo", "-o", "json", "--data-dir", filepath.Join(dir, "d")},
	} {
		errb.Reset()
		code = run(append([]string{"podrun", "--root", dir, "pod", "--store", filepath.Join(dir, "s"), "--data-dir", filepath.Join(dir, "d0")}, args...), &out, &errb)
		if code != 1 || errb.String() != "podrun: pod does not exist: demo\n" {
			t.Errorf("pod %q: exit %d, stderr %q; want the missing pod's error", args, code, errb.String())
		}
	}
}

// fakePods writes pod records under root as pod run leaves them.
func fakePods(t *testing.T, root string, pods map[string][]string) {
	for name, ctrs := range pods {
		dir := filepath.Join(root, runtime.PodsDir, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		p := &manifest.Pod{}
		p.Metadata.Name = name
		for i, c := range ctrs {
			if i == 0 && strings.HasPrefix(c, "init:") {
				p.Spec.InitContainers = append(p.Spec.InitContainers, manifest.Container{Name: strings.TrimPrefix(c, "init:")})
				continue
			}
			p.Spec.Containers = append(p.Spec.Containers, manifest.Container{Name: c})
		}
		sb := &pod.Sandbox{Name: name, StateDir: dir, Pod: p}
		if err := sb.Save(); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeStore writes image records as the store keeps them.
func fakeStore(t *testing.T, dir string, names map[string]string) {
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o700); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for name, hex := range names {
		ids[name] = "sha256:" + hex
		rec := `{"id":"sha256:` + hex + `"}`
		if err := os.WriteFile(filepath.Join(dir, "images", hex+".json"), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := json.Marshal(ids)
	if err := os.WriteFile(filepath.Join(dir, "names.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCompletions(t *testing.T) {
	root := t.TempDir()
	fakePods(t, root, map[string][]string{"demo": {"init:setup", "web", "log"}, "db": {"pg"}})
	store := t.TempDir()
	fakeStore(t, store, map[string]string{"busybox:test": strings.Repeat("a", 64), "alpine:3": strings.Repeat("b", 64)})
	t.Setenv("PODRUN_STORE", store)
	// Not a pod: skipped.
	os.MkdirAll(filepath.Join(root, runtime.PodsDir, "junk"), 0o700)
	for _, c := range []struct {
		line      string // the last word is the one completed ("|" for an empty one)
		want      string
		directive string
	}{
		{"--root R pod logs |", "db demo", "none"},
		{"--root R pod logs d", "db demo", "none"},
		{"--root R pod logs de", "demo", "none"},
		{"pod --root=R status |", "db demo", "none"},
		{"--root /nonexistent pod --data-dir root --root R logs |", "db demo", "none"}, // the last --root
		{"--root R pod logs demo -c |", "setup web log", "none"},
		{"--root R pod logs -f demo -c w", "web", "none"},
		{"--root R pod exec -c |", "", "none"}, // no pod yet
		{"--root R pod exec demo -it -c |", "setup web log", "none"},
		{"--root R pod exec demo -ic |", "setup web log", "none"},
		{"--root R pod logs nope -c |", "", "none"},
		{"--root R pod logs demo --container=w", "--container=web", "none"},
		{"--root R pod logs demo -c=", "-c=setup -c=web -c=log", "none"},
		{"pod status demo -o=y", "-o=yaml", "none"},
		{"pod logs demo --follow=", "", "none"},
		{"pod run -f=", "", "files"},
		{"--root R pod logs demo |", "", "none"}, // one pod name only
		{"--root R pod exec demo -- |", "", "files"},
		{"--root R pod status demo -o |", "json yaml wide", "none"},
		{"pod lo", "logs", "none"},
		{"pod s", "stop status", "none"}, // not supervise: hidden
		{"pod logs --fo", "--follow", "none"},
		{"pod logs demo --r", "--root --rootless", "none"},
		{"image i", "import inspect", "none"},
		{"image import |", "", "files"},
		{"image import --store |", "", "files"},
		{"completion |", "bash zsh", "none"},
		{"comp", "completion", "none"},
		{"pod logs demo --nope |", "", "none"},
		{"|", "create start run state kill delete list exec ps spec features image bundle pod pause resume update events completion", "none"},
		// image names from the line's --store, then $PODRUN_STORE
		{"image inspect --store S |", "alpine:3 busybox:test", "none"},
		{"image inspect --store S b", "busybox:test", "none"},
		{"image inspect --store S busybox:test |", "", "none"},
		{"image rm busybox:test --store=S |", "alpine:3 busybox:test", "none"},
		{"image inspect |", "alpine:3 busybox:test", "none"},
		{"image inspect --store S/absent |", "", "none"},
		{"bundle /b --store S -i |", "alpine:3 busybox:test", "none"},
	} {
		words := strings.Fields(strings.NewReplacer("R", root, "S", store).Replace(c.line))
		if last := len(words) - 1; words[last] == "|" {
			words[last] = ""
		}
		var out bytes.Buffer
		if code := complete(testApp(), words, &out); code != 0 {
			t.Errorf("%q: exit %d", c.line, code)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		got := strings.Join(lines[:len(lines)-1], " ")
		if want := c.want; got != want || lines[len(lines)-1] != ":"+c.directive {
			t.Errorf("%q: got %q %s, want %q :%s", c.line, got, lines[len(lines)-1], want, c.directive)
		}
	}
}

// Completion with an unreadable or absent --root is quiet.
func TestCompleteNoState(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"podrun", runccli.CompleteCommand, "--root", "/nonexistent/x", "pod", "logs", ""}, &out, &errb); code != 0 || out.String() != ":none\n" || errb.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
