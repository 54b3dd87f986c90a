package runtime

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/namespaces/nsenter"
)

// TestExecCPath: runtime.Exec starts the process through the C helper
// with the process's attributes, as the Go init did: the command is the
// caller's child, sees its own values, and a failed step comes back with
// the init's error text.
func TestExecCPath(t *testing.T) {
	r, id := lightContainer(t)
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	umask, oom := uint32(0o027), 123
	p := &specs.Process{
		Args: []string{"sh", "-c", `umask; id -u; id -g; id -G; ulimit -n; cat /proc/self/oom_score_adj
			grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status; grep '^policy' /proc/self/sched | tr -d ' '
			echo "$HOME $FOO"; pwd; exit 7`},
		Env:  []string{"PATH=/bin", "FOO=a", "FOO=b"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001}, Umask: &umask},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"}},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 77, Soft: 77}},
		OOMScoreAdj:     &oom,
		NoNewPrivileges: true,
		Scheduler:       &specs.Scheduler{Policy: specs.SchedBatch, Nice: 3},
	}
	child, err := r.Exec(id, ExecOpts{Process: p, Stdio: [3]*os.File{devnull, out, out}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := child.Wait()
	if err != nil || st.ExitCode() != 7 {
		t.Fatalf("wait: %v %v, want exit 7", st, err)
	}
	b, _ := os.ReadFile(out.Name())
	want := "0027\n1000\n1000\n1000 1001\n77\n123\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\npolicy:3\n/home/tester b\n/tmp\n"
	if string(b) != want {
		t.Errorf("the process saw:\n%s\nwant:\n%s", b, want)
	}

	for _, c := range []struct {
		p    specs.Process
		want string
	}{
		{specs.Process{Args: []string{"true"}, Cwd: "/nonexistent"},
			`unable to start container process: process.cwd: chdir to "/nonexistent": no such file or directory`},
		{specs.Process{Args: []string{"no-such-command"}, Cwd: "/", Env: []string{"PATH=/bin"}},
			`unable to start container process: exec: "no-such-command": executable file not found in $PATH`},
		{specs.Process{Args: []string{"/etc"}, Cwd: "/"},
			`unable to start container process: exec: "/etc": permission denied`},
	} {
		_, err := r.Exec(id, ExecOpts{Process: &c.p, Stdio: [3]*os.File{devnull, devnull, devnull}})
		if err == nil || err.Error() != c.want {
			t.Errorf("exec %v in %s: %v, want %q", c.p.Args, c.p.Cwd, err, c.want)
		}
	}
}

// TestExecErrorText words the failed steps as the Go init did.
func TestExecErrorText(t *testing.T) {
	p := &specs.Process{Args: []string{"x y"}, Cwd: "/w", User: specs.User{UID: 5, GID: 6},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_NOFILE"}}}
	nss := []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace}}
	for _, c := range []struct {
		e    nsenter.StepError
		want string
	}{
		{nsenter.StepError{Step: nsenter.StepRlimit, Index: 1, Errno: unix.EPERM},
			"unable to start container process: process.rlimits: setting RLIMIT_NOFILE: operation not permitted"},
		{nsenter.StepError{Step: nsenter.StepSetns, Index: 1, Errno: unix.EINVAL},
			"unable to start container process: joining mnt namespace: invalid argument"},
		{nsenter.StepError{Step: nsenter.StepSetuid, Errno: unix.EINVAL},
			"unable to start container process: process.user.uid: setting uid 5: invalid argument"},
		{nsenter.StepError{Step: nsenter.StepCwdOutside},
			`unable to start container process: process.cwd: "/w" is outside the container's root filesystem`},
		{nsenter.StepError{Step: nsenter.StepExecStat, Errno: unix.ENOENT},
			`unable to start container process: exec: "x y": stat x y: no such file or directory`},
		{nsenter.StepError{Step: nsenter.StepExecve, Errno: unix.ENOEXEC},
			`unable to start container process: exec "x y": exec format error`},
		{nsenter.StepError{Step: nsenter.StepOOMScoreAdj, Errno: unix.EACCES},
			"process.oomScoreAdj: write oom_score_adj: permission denied"},
	} {
		err := execError(&c.e, p, nss, os.Getpid())
		if err.Error() != c.want {
			t.Errorf("step %d: %q, want %q", c.e.Step, err, c.want)
		}
	}
}
