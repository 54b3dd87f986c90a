package integration

// A pod container's stdin, stdinOnce and tty, as containerd's CRI sets
// them up: stdin: true is a pipe the supervisor keeps open (no EOF),
// stdin: false is /dev/null, tty: true a pty whose output is the log's
// stdout; both survive a supervisor restart through the fd holder.

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/pod/manifest"
)

// stdinProbe tells EOF (cat ends at once: 0) from an open, silent stdin
// (timeout kills cat: 143) without any timing in the test itself.
const stdinProbe = `timeout 1 cat; echo cat=$?; `

func TestPodStdinAndTTY(t *testing.T) {
	e := newSvEnv(t)
	e.run("tty", podYAML("tty", "Never", "2", `  containers:
  - name: term
    image: busybox:test
    tty: true
    command: ["sh", "-c", "tty; test -t 0 && echo STDIN-IS-TTY; echo SIZE=$(stty size); echo to-stderr >&2; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]
  - name: reader
    image: busybox:test
    stdin: true
    command: ["sh", "-c", "`+stdinProbe+`cat; echo EOF-REACHED"]
  - name: once
    image: busybox:test
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "`+stdinProbe+`exec cat"]
  - name: noinput
    image: busybox:test
    command: ["sh", "-c", "`+stdinProbe+`exit 0"]
  - name: shell
    image: busybox:test
    stdin: true
    tty: true
    command: ["sh"]
`))
	s := e.waitStatus("tty", "noinput exited, the others running", func(s manifest.PodStatus) bool {
		return ctrStatus(s, "noinput").State.Terminated != nil &&
			ctrStatus(s, "term").State.Running != nil && ctrStatus(s, "reader").State.Running != nil &&
			ctrStatus(s, "once").State.Running != nil && ctrStatus(s, "shell").State.Running != nil
	})
	if tm := ctrStatus(s, "noinput").State.Terminated; tm.ExitCode != 0 {
		t.Errorf("noinput: %+v", tm)
	}
	logs := func(c string) string { return e.mustPod("logs", "-c", c, "tty").Stdout }
	// stdin: false reads EOF at once; stdin: true (and stdinOnce, with no
	// attach to end) stays open.
	if l := logs("noinput"); !strings.Contains(l, "cat=0") {
		t.Errorf("noinput's stdin is not at EOF: %q", l)
	}
	for _, c := range []string{"reader", "once"} {
		var l string
		if !waitFor(30*time.Second, func() bool { l = logs(c); return strings.Contains(l, "cat=") }) {
			t.Fatalf("%s: no probe result in %q", c, l)
		}
		if !strings.Contains(l, "cat=143") {
			t.Errorf("%s: stdin was not kept open: %q", c, l)
		}
	}
	// The tty container has a terminal on stdin, the default 80x24, and
	// everything it writes (stderr too) is the log's stdout.
	var l string
	if !waitFor(30*time.Second, func() bool { l = logs("term"); return strings.Contains(l, "tick 2") }) {
		t.Fatalf("term's output not in the log: %q", l)
	}
	for _, want := range []string{"/dev/pts/0", "STDIN-IS-TTY", "SIZE=24 80", "to-stderr"} {
		if !strings.Contains(l, want) {
			t.Errorf("term's log lacks %q:\n%s", want, l)
		}
	}
	files, _ := filepath.Glob(filepath.Join(e.data, "*", "logs", "term", "0.log"))
	if len(files) != 1 {
		t.Fatalf("term's log file: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	if strings.Contains(string(raw), " stderr ") || !strings.Contains(string(raw), " stdout F to-stderr") {
		t.Errorf("a tty's output must be logged as stdout:\n%s", raw)
	}
	// A shell on a tty does not see EOF either: it waits for input.
	if r := e.mustPod("exec", "tty", "-c", "shell", "--", "sh", "-c", "test -t 0 < /proc/1/fd/0 && echo TTY"); !strings.Contains(r.Stdout, "TTY") {
		t.Errorf("shell's stdin is not a tty: %q", r.Stdout)
	}

	// kill -9 of the supervisor: the pty master and stdin's write end are
	// in the fd holder, so no SIGHUP, no EOF; the recovered supervisor
	// takes the master back and the log goes on.
	rec := readRecord(t, filepath.Join(e.Root, "pods", "tty"))
	termPid, readerPid := rec.Runs["term"].Pid, rec.Runs["reader"].Pid
	if termPid == 0 || readerPid == 0 || rec.SupervisorPid == 0 {
		t.Fatalf("record: %+v", rec)
	}
	if err := syscall.Kill(rec.SupervisorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return e.status("tty").Phase == manifest.PodUnknown }) {
		t.Fatal("pod not Unknown after its supervisor was killed")
	}
	last := lastTick(logs("term"))
	e.mustPod("recover", "tty")
	if !waitFor(30*time.Second, func() bool { return lastTick(logs("term")) > last+5 }) {
		t.Fatalf("term's log stopped after recovery at tick %d", last)
	}
	if !running(termPid) || !running(readerPid) {
		t.Errorf("a container died with its supervisor: term %v, reader %v", running(termPid), running(readerPid))
	}
	if l := logs("reader"); strings.Contains(l, "EOF-REACHED") {
		t.Errorf("reader's stdin reached EOF across the supervisor restart: %q", l)
	}
	s = e.status("tty")
	for _, c := range []string{"term", "reader", "once", "shell"} {
		if cs := ctrStatus(s, c); cs.State.Running == nil || cs.RestartCount != 0 {
			t.Errorf("%s after recovery: %+v", c, cs.State)
		}
	}

	// pod exec -it still puts the command on our terminal, at its size.
	if out := podExecTTY(t, e, "tty", "reader", "sh", "-c", "test -t 0 && echo EXEC-TTY; echo SIZE=$(stty size)"); !strings.Contains(out, "EXEC-TTY") || !strings.Contains(out, "SIZE=30 100") {
		t.Errorf("pod exec -it: %q", out)
	}

	e.mustPod("rm", "-f", "tty")
	e.pods = nil
	for _, pid := range []int{termPid, readerPid} {
		if running(pid) {
			t.Errorf("container pid %d left after pod rm", pid)
		}
	}
	if ents, _ := os.ReadDir(e.data); len(ents) != 0 {
		t.Errorf("data dir left: %v", ents)
	}
}

var tickRE = regexp.MustCompile(`tick (\d+)`)

// lastTick is the highest "tick N" in a log.
func lastTick(log string) int {
	n := 0
	for _, m := range tickRE.FindAllStringSubmatch(log, -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return n
}

// startOnPty starts cmd in a new session whose controlling terminal is a
// fresh pty of 30x100; it returns the master (closed when the test ends)
// and coreReadAll's wait for everything that reached it.
func startOnPty(t *testing.T, cmd *exec.Cmd) (*os.File, func() string) {
	t.Helper()
	master, name, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	slave, err := console.OpenSlave(name)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close() // ours only: the output ends (EIO) once cmd's copies close too
	if err := console.SetWinsize(master, 30, 100); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return master, coreReadAll(t, master)
}

// podExecTTY runs `pod exec -it POD -c CTR -- ARGS` with a pty of 30x100
// as podrun's terminal and returns what reached it.
func podExecTTY(t *testing.T, e *svEnv, podName, ctr string, args ...string) string {
	t.Helper()
	cmd := e.Cmd(append([]string{"pod", "--store", e.store, "--data-dir", e.data, "exec", "-it", podName, "-c", ctr, "--"}, args...)...)
	cmd.Env = append(os.Environ(), e.env...)
	_, wait := startOnPty(t, cmd)
	var ee *exec.ExitError
	switch err := waitTimeout(cmd, 30*time.Second); {
	case errors.Is(err, errTimedOut):
		t.Fatal("pod exec -it did not exit")
	case errors.As(err, &ee):
		t.Errorf("pod exec -it: exit %d", ee.ExitCode())
	case err != nil:
		t.Fatal(err)
	}
	return wait()
}

// pod attach (kubectl attach): -i sends stdin; stdin: true stays open
// after an attach ends, stdinOnce closes it (the process reads EOF); -it
// on a tty container gives it our terminal's size and input.
func TestPodAttach(t *testing.T) {
	e := newSvEnv(t)
	e.run("att", podYAML("att", "Never", "2", `  containers:
  - name: keep
    image: busybox:test
    stdin: true
    command: ["sh", "-c", "while read l; do [ \"$l\" = quit ] && exit 0; echo got:$l; done; echo EOF-SEEN; exit 5"]
  - name: once
    image: busybox:test
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got:$l; done; echo EOF-SEEN; exit 4"]
  - name: term
    image: busybox:test
    stdin: true
    tty: true
    command: ["sh"]
  - name: noinput
    image: busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
`))
	e.waitStatus("att", "all running", func(s manifest.PodStatus) bool {
		return ctrStatus(s, "keep").State.Running != nil && ctrStatus(s, "once").State.Running != nil &&
			ctrStatus(s, "term").State.Running != nil && ctrStatus(s, "noinput").State.Running != nil
	})
	attach := func(stdin string, args ...string) Result {
		cmd := e.Cmd(append([]string{"pod", "--store", e.store, "--data-dir", e.data, "attach"}, args...)...)
		cmd.Env = append(os.Environ(), e.env...)
		cmd.Stdin = strings.NewReader(stdin)
		return e.RunCmd(cmd)
	}

	// stdinOnce: the first attach's input, then EOF.
	if r := attach("x\ny\n", "-i", "-c", "once", "att"); r.Code != 0 || r.Stdout != "got:x\ngot:y\nEOF-SEEN\n" {
		t.Errorf("attach -i once: exit %d, %q, %s", r.Code, r.Stdout, r.Stderr)
	}
	s := e.waitStatus("att", "once exited", func(s manifest.PodStatus) bool { return ctrStatus(s, "once").State.Terminated != nil })
	if tm := ctrStatus(s, "once").State.Terminated; tm.ExitCode != 4 {
		t.Errorf("once: %+v", tm)
	}
	if r := attach("", "-i", "-c", "once", "att"); r.Code == 0 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("attach to an exited container: exit %d, %s", r.Code, r.Stderr)
	}
	if r := attach("z\n", "-i", "-c", "noinput", "att"); r.Code == 0 || !strings.Contains(r.Stderr, "stdin is not enabled") {
		t.Errorf("attach -i to a stdin: false container: exit %d, %s", r.Code, r.Stderr)
	}

	// stdin without once: a first attach is left (killed once its input
	// arrived) and the container's stdin stays open for the next one.
	cmd := e.Cmd("pod", "--store", e.store, "--data-dir", e.data, "attach", "-i", "-c", "keep", "att")
	cmd.Env = append(os.Environ(), e.env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("a\n"))
	in.Close()
	got := make([]byte, len("got:a\n"))
	if _, err := io.ReadFull(out, got); err != nil || string(got) != "got:a\n" {
		t.Errorf("first attach to keep: %q, %v", got, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if r := attach("b\nquit\n", "-i", "-c", "keep", "att"); r.Code != 0 || r.Stdout != "got:b\n" {
		t.Errorf("second attach to keep: exit %d, %q, %s", r.Code, r.Stdout, r.Stderr)
	}
	s = e.waitStatus("att", "keep exited", func(s manifest.PodStatus) bool { return ctrStatus(s, "keep").State.Terminated != nil })
	if tm := ctrStatus(s, "keep").State.Terminated; tm.ExitCode != 0 {
		t.Errorf("keep read EOF instead of quit: %+v", tm)
	}

	// -it: our terminal (30x100) to the tty container's shell.
	tcmd := e.Cmd("pod", "--store", e.store, "--data-dir", e.data, "attach", "-it", "-c", "term", "att")
	tcmd.Env = append(os.Environ(), e.env...)
	master, wait := startOnPty(t, tcmd)
	if _, err := master.Write([]byte("echo SIZE=$(stty size); exit 3\r")); err != nil {
		t.Fatal(err)
	}
	if err := waitTimeout(tcmd, 30*time.Second); errors.Is(err, errTimedOut) {
		t.Fatal("pod attach -it did not end with the shell")
	} else if err != nil {
		t.Errorf("pod attach -it: %v", err)
	}
	if o := wait(); !strings.Contains(o, "SIZE=30 100") {
		t.Errorf("pod attach -it: %q", o)
	}
	s = e.waitStatus("att", "term exited", func(s manifest.PodStatus) bool { return ctrStatus(s, "term").State.Terminated != nil })
	if tm := ctrStatus(s, "term").State.Terminated; tm.ExitCode != 3 {
		t.Errorf("term: %+v", tm)
	}
}
