// Command rtools runs the OCI runtime-tools validation programs
// (github.com/opencontainers/runtime-tools/validation/*, built by
// scripts/conformance-rtools.sh) against podrun and, as the reference, runc,
// and checks podrun's failures against the committed list of failures every
// runtime has on this kind of host
// (testdata/conformance/rtools-expected-failures.txt).
//
// Each program prints TAP and drives the runtime named by $RUNTIME through
// create/start/state/kill/delete. A program's failures are its `not ok`
// tests (by description: numbers shift when a loop changes), an error it
// reports outside any test ("(diagnostic)"), a non-zero exit ("(exit)") and
// a timeout ("(timeout)"). Every failure of podrun's that the list does not
// hold fails the run; listed failures podrun no longer has are reported so
// the list shrinks. The reference runtime's failures only go in the table.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var (
		binDir    = flag.String("bin", "", "dir of the built validation programs and runtimetest")
		rootfs    = flag.String("rootfs", "", "the module's rootfs-amd64.tar.gz")
		subject   = flag.String("runtime", "", "the runtime under test (podrun's binary)")
		reference = flag.String("reference", "", "the reference runtime (runc's binary); empty: none")
		expected  = flag.String("expected", "", "the expected-failures list")
		out       = flag.String("out", "", "dir for each program's TAP and stderr (default: a temp dir, removed)")
		timeout   = flag.Duration("timeout", 2*time.Minute, "per-program timeout")
		only      = flag.String("only", "", "run only the programs matching this regexp")
		jobs      = flag.Int("jobs", 4, "programs run at once (the cgroup ones always one at a time)")
	)
	flag.Parse()
	if *binDir == "" || *rootfs == "" || *subject == "" || *expected == "" {
		fatalf("-bin, -rootfs, -runtime and -expected are required")
	}
	all, err := readExpected(*expected)
	if err != nil {
		fatalf("%v", err)
	}
	mode := cgroupMode()
	list := all.forHost(mode)
	progs, err := programs(*binDir, *only)
	if err != nil {
		fatalf("%v", err)
	}
	if unknown := all.unknownPrograms(progs, *only == ""); len(unknown) > 0 {
		fatalf("%s: no validation program named %s", *expected, strings.Join(unknown, ", "))
	}
	dir := *out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rtools-"); err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(dir)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		fatalf("%v", err)
	}
	if *binDir, err = filepath.Abs(*binDir); err != nil {
		fatalf("%v", err)
	}
	if *rootfs, err = filepath.Abs(*rootfs); err != nil {
		fatalf("%v", err)
	}
	start := time.Now()
	rts := []runtimeUnderTest{{name: "podrun", binary: *subject}}
	if *reference != "" {
		rts = append(rts, runtimeUnderTest{name: filepath.Base(*reference), binary: *reference})
	}
	var runners []*runner
	for _, rt := range rts {
		rn, err := newRunner(rt, *binDir, *rootfs, filepath.Join(dir, rt.name), *timeout)
		if err != nil {
			fatalf("%s: %v", rt.name, err)
		}
		runners = append(runners, rn)
	}
	removeCgroupLeftovers()
	results, err := runAll(runners, progs, *jobs)
	if err != nil {
		fatalf("%v", err)
	}
	printTable(os.Stdout, rts, results)
	v := list.check(results[0])
	printVerdict(os.Stdout, v, filepath.Join(dir, "podrun"), *out != "")
	fmt.Printf("runtime-tools validation: %d programs, %s, on a %s host\n", len(progs), time.Since(start).Round(time.Second), mode)
	if len(v.unexpected) > 0 {
		os.Exit(1)
	}
}

type runtimeUnderTest struct{ name, binary string }

// programs lists the validation programs in dir (every executable but
// runtimetest), sorted, filtered by the regexp only.
func programs(dir, only string) ([]string, error) {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return nil, fmt.Errorf("-only: %w", err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var progs []string
	for _, e := range ents {
		if e.IsDir() || e.Name() == "runtimetest" || (re != nil && !re.MatchString(e.Name())) {
			continue
		}
		progs = append(progs, e.Name())
	}
	if len(progs) == 0 {
		return nil, fmt.Errorf("no validation programs in %s", dir)
	}
	return progs, nil
}

// runner runs the programs against one runtime from a work dir holding
// runtimetest and the rootfs tarball (the programs find both relative to
// their working directory).
type runner struct {
	rt          runtimeUnderTest
	bin         string // the runtime's absolute path
	binDir, dir string
	work        string
	timeout     time.Duration
}

func newRunner(rt runtimeUnderTest, binDir, rootfs, dir string, timeout time.Duration) (*runner, error) {
	bin, err := exec.LookPath(rt.binary)
	if err != nil {
		return nil, err
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	r := &runner{rt: rt, bin: bin, binDir: binDir, dir: dir, work: filepath.Join(dir, "work"), timeout: timeout}
	if err := os.MkdirAll(r.work, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(binDir, "runtimetest"), filepath.Join(r.work, "runtimetest"), 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(rootfs, filepath.Join(r.work, filepath.Base(rootfs)), 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// run runs one program with a state dir and a TMPDIR of its own: $RUNTIME
// is a wrapper that adds --root, so nothing lands in the runtime's default
// state dir, and the containers the program leaves behind are found and
// deleted after it without touching those of a program running beside it.
func (rn *runner) run(prog string) (result, error) {
	state := filepath.Join(rn.dir, "state", prog)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return result{}, err
	}
	// The bundles go to the system's temp dir, as the programs' own default:
	// the user-namespace programs need every parent of the rootfs
	// searchable by the mapped uid, which a checkout under a home may not be.
	tmp, err := os.MkdirTemp("", "rtools-"+rn.rt.name+"-"+prog+"-")
	if err != nil {
		return result{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return result{}, err
	}
	wrapper := filepath.Join(rn.dir, "state", prog+".runtime")
	script := fmt.Sprintf("#!/bin/sh\nexec %s --root %s \"$@\"\n", shellQuote(rn.bin), shellQuote(state))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return result{}, err
	}
	r := runOne(filepath.Join(rn.binDir, prog), rn.work, tmp, wrapper, rn.timeout)
	r.program = prog
	cleanup(wrapper, tmp)
	if err := os.WriteFile(filepath.Join(rn.dir, prog+".tap"), r.stdout, 0o644); err != nil {
		return r, err
	}
	return r, os.WriteFile(filepath.Join(rn.dir, prog+".stderr"), r.stderr, 0o644)
}

// serial reports whether a program must not run beside another: the
// cgroup programs use the same fixed cgroup paths ("/cgrouptest",
// "testdir/cgrouptest/container") whatever the runtime.
func serial(prog string) bool {
	return strings.Contains(prog, "cgroups") || strings.HasPrefix(prog, "delete_") && strings.Contains(prog, "resources")
}

// runAll runs every program against every runtime, jobs at a time: the
// programs spend most of their time polling a container's state once a
// second. The serial ones run one after another in a lane of their own.
// It returns the results by runtime, then program.
func runAll(runners []*runner, progs []string, jobs int) ([][]result, error) {
	type job struct{ rt, prog int }
	var lane, pool []job
	for i := range runners {
		for j, p := range progs {
			if serial(p) || jobs <= 1 {
				lane = append(lane, job{i, j})
			} else {
				pool = append(pool, job{i, j})
			}
		}
	}
	results := make([][]result, len(runners))
	for i := range results {
		results[i] = make([]result, len(progs))
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	do := func(j job) {
		r, err := runners[j.rt].run(progs[j.prog])
		mu.Lock()
		defer mu.Unlock()
		results[j.rt][j.prog] = r
		if err != nil && firstErr == nil {
			firstErr = err
		}
		fmt.Fprintf(os.Stderr, "%s %s: %s (%s)\n", runners[j.rt].rt.name, r.program, r.summary(), r.elapsed.Round(100*time.Millisecond))
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, j := range lane {
			do(j)
			removeCgroupLeftovers()
		}
	}()
	ch := make(chan job)
	for range max(jobs-1, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				do(j)
			}
		}()
	}
	for _, j := range pool {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return results, firstErr
}

// runOne runs one program in its own process group, killed whole when the
// timeout expires so a hang fails the program instead of the run.
func runOne(prog, work, tmp, runtime string, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "RUNTIME="+runtime, "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	begin := time.Now()
	err := cmd.Run()
	r := parseTAP(stdout.Bytes())
	r.stdout, r.stderr, r.elapsed = stdout.Bytes(), stderr.Bytes(), time.Since(begin)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.timedOut = true
	case errors.As(err, &exitErr):
		r.exitCode = exitErr.ExitCode()
	case err != nil:
		r.exitCode = -1
		r.stderr = append(r.stderr, []byte("\n"+err.Error())...)
	}
	return r
}

// cleanup deletes the containers a program left in the state dir (a
// failed program often stops before its delete), then removes its TMPDIR
// of bundles, first detaching what is mounted there: a container without a
// mount namespace (linux_ns_itype) mounts its /proc, /sys and /dev onto
// the bundle in this process's namespace, and a recursive remove must not
// walk into them.
func cleanup(runtime, tmp string) {
	out, _ := exec.Command(runtime, "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command(runtime, "delete", "-f", id).Run()
	}
	if err := unmountUnder(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "rtools: %v; leaving %s\n", err, tmp)
		return
	}
	_ = os.RemoveAll(tmp)
}

// removeCgroupLeftovers removes the empty cgroups the cgroup programs
// leave (rmdir: one still in use stays).
func removeCgroupLeftovers() {
	mi, err1 := os.ReadFile("/proc/self/mountinfo")
	cg, err2 := os.ReadFile("/proc/self/cgroup")
	if err1 != nil || err2 != nil {
		return
	}
	for _, d := range cgroupLeftovers(string(mi), string(cg)) {
		_ = syscall.Rmdir(d)
	}
}

// cgroupMode is the host's qualifier in the expected list: "cgroup v2" on a
// unified hierarchy, else "cgroup v1" (legacy or hybrid).
func cgroupMode() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "cgroup v2"
	}
	return "cgroup v1"
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	points := mountsUnder(string(b), dir)
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// printTable prints one line per program: each runtime's passed/failed
// test counts and its verdict.
func printTable(w io.Writer, rts []runtimeUnderTest, results [][]result) {
	fmt.Fprintf(w, "%-32s", "program")
	for _, rt := range rts {
		fmt.Fprintf(w, " %-22s", rt.name+" ok/not ok")
	}
	fmt.Fprintln(w)
	passed := make([]int, len(rts))
	for i := range results[0] {
		fmt.Fprintf(w, "%-32s", results[0][i].program)
		for j := range rts {
			r := results[j][i]
			fmt.Fprintf(w, " %-22s", fmt.Sprintf("%d/%d %s", r.ok, len(r.failed), r.summary()))
			if r.passed() {
				passed[j]++
			}
		}
		fmt.Fprintln(w)
	}
	for j, rt := range rts {
		fmt.Fprintf(w, "%s passes %d of %d programs\n", rt.name, passed[j], len(results[j]))
	}
}

func printVerdict(w io.Writer, v verdict, logs string, keep bool) {
	for _, f := range v.unexpected {
		fmt.Fprintf(w, "UNEXPECTED FAILURE %s | %s\n", f.program, f.unit)
		if f.detail != "" {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(strings.TrimSpace(f.detail), "\n", "\n    "))
		}
	}
	for _, e := range v.nowPassing {
		fmt.Fprintf(w, "listed but passed in this run (drop it once it passes for good): %s | %s  (%s)\n", e.program, e.unit, e.reason)
	}
	if len(v.unexpected) > 0 && keep {
		fmt.Fprintf(w, "TAP and stderr of each program: %s/\n", logs)
	}
	fmt.Fprintf(w, "podrun: %d failures, %d expected (listed), %d unexpected; %d listed now pass\n",
		v.total, v.total-len(v.unexpected), len(v.unexpected), len(v.nowPassing))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rtools: "+format+"\n", args...)
	os.Exit(2)
}
