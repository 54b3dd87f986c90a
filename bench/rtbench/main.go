// Command rtbench measures OCI runtimes side by side: podrun, runc and crun
// (any subset) run the same bundle in the same mount namespace, alternating
// runtime order round by round, and the medians are printed as a table with
// ratios against runc. `make bench` (scripts/bench.sh) drives it.
//
// Everything is timed from this process: the wall time of each runtime
// command from fork to wait, and its rusage from wait4 (ru_maxrss and
// ru_utime+ru_stime cover the runtime and every process it reaped, the
// re-executed init included: the same numbers /usr/bin/time -v prints).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	var (
		runtimes = flag.String("runtimes", "podrun=bin/podrun,runc=runc,crun=crun", "name=binary,... (the first named runc is the baseline)")
		bundle   = flag.String("bundle", "", "bundle from testdata/mkbundle.sh (its rootfs and config.json)")
		rounds   = flag.Int("rounds", 30, "rounds of the single-container scenarios")
		bulk     = flag.Int("bulk-rounds", 3, "rounds of the 50-sequential and 20-concurrent scenarios")
		only     = flag.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ","))
		out      = flag.String("out", "", "also write the table to this file")
		note     = flag.String("note", "", "a line added under the table (e.g. the cgroup setup)")
		work     = flag.String("work", "", "scratch dir (default: a new dir under /run)")
	)
	flag.Parse()
	if *bundle == "" {
		fatalf("-bundle is required")
	}
	rts, err := parseRuntimes(*runtimes)
	if err != nil {
		fatalf("%v", err)
	}
	dir := *work
	if dir == "" {
		if dir, err = os.MkdirTemp("/run", "rtbench-"); err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(dir)
	}
	b, err := newBundles(*bundle, dir)
	if err != nil {
		fatalf("bundle: %v", err)
	}
	for _, rt := range rts {
		rt.root = filepath.Join(dir, "root-"+rt.name)
		if err := os.MkdirAll(rt.root, 0o700); err != nil {
			fatalf("%v", err)
		}
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	ctx := &bench{rts: rts, b: b, dir: dir, rounds: *rounds, bulk: *bulk, res: map[string]map[string][]float64{}}
	for _, sc := range scenarios {
		if len(want) > 0 && !want[sc.name] {
			continue
		}
		fmt.Fprintf(os.Stderr, "rtbench: %s\n", sc.name)
		if err := sc.fn(ctx); err != nil {
			ctx.cleanup()
			fatalf("%s: %v", sc.name, err)
		}
		ctx.cleanup()
	}
	table := ctx.table(*note)
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rtbench: "+format+"\n", args...)
	os.Exit(1)
}

// rt is one runtime under test, with its own state root.
type rt struct {
	name, bin, root string
	// leavesRun: `run` leaves a stopped container behind that needs a
	// delete (found out in the first round).
	leavesRun *bool
}

func parseRuntimes(s string) ([]*rt, error) {
	var out []*rt
	for _, f := range strings.Split(s, ",") {
		name, bin, ok := strings.Cut(f, "=")
		if !ok || name == "" || bin == "" {
			return nil, fmt.Errorf("-runtimes: %q is not name=binary", f)
		}
		path, err := exec.LookPath(bin)
		if err != nil {
			return nil, fmt.Errorf("-runtimes: %s: %w", name, err)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		out = append(out, &rt{name: name, bin: path})
	}
	return out, nil
}

func (r *rt) argv(args ...string) []string {
	return append([]string{r.bin, "--root", r.root}, args...)
}

// bundles are two bundles sharing the rootfs: /bin/true and sleep.
type bundles struct{ trueB, sleepB string }

func newBundles(src, dir string) (*bundles, error) {
	data, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		return nil, err
	}
	rootfs, err := filepath.Abs(filepath.Join(src, "rootfs"))
	if err != nil {
		return nil, err
	}
	mk := func(name string, args ...string) (string, error) {
		var spec map[string]any
		if err := json.Unmarshal(data, &spec); err != nil {
			return "", err
		}
		// crun 1.8.1 refuses ociVersion 1.3.0 ("unknown version
		// specified"); every runtime here reads 1.0.2 configs.
		spec["ociVersion"] = "1.0.2"
		proc, _ := spec["process"].(map[string]any)
		root, _ := spec["root"].(map[string]any)
		if proc == nil || root == nil {
			return "", errors.New("config.json has no process or root")
		}
		proc["args"] = args
		proc["terminal"] = false
		root["path"] = rootfs
		b, err := json.MarshalIndent(spec, "", "  ")
		if err != nil {
			return "", err
		}
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		return d, os.WriteFile(filepath.Join(d, "config.json"), b, 0o644)
	}
	var b bundles
	if b.trueB, err = mk("bundle-true", "/bin/true"); err != nil {
		return nil, err
	}
	if b.sleepB, err = mk("bundle-sleep", "sleep", "100000"); err != nil {
		return nil, err
	}
	return &b, nil
}

// sample is one measured command.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + sys, children reaped by it included
	maxRSS int64         // KiB
}

// runCmd runs argv with stdin and stdout on /dev/null and stderr in a
// file (a pipe would keep Wait waiting on a detached container).
func runCmd(argv []string) (sample, error) {
	errf, err := os.CreateTemp("", "rtbench-stderr-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = errf
	t0 := time.Now()
	err = cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		msg, _ := os.ReadFile(errf.Name())
		return sample{}, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(msg))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss,
	}, nil
}

// quiet runs argv, ignoring its outcome (clean-up).
func quiet(argv []string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	_ = cmd.Run()
}

type bench struct {
	rts          []*rt
	b            *bundles
	dir          string
	rounds, bulk int
	// res[metric][runtime] are the samples (ms, or MiB).
	res   map[string]map[string][]float64
	order []string
	seq   int
	// live are ids to delete -f at clean-up, per runtime.
	live map[*rt][]string
}

func (c *bench) add(metric string, r *rt, v float64) {
	m := c.res[metric]
	if m == nil {
		m = map[string][]float64{}
		c.res[metric] = m
		c.order = append(c.order, metric)
	}
	m[r.name] = append(m[r.name], v)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// id returns a fresh container id.
func (c *bench) id(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), c.seq)
}

// each calls fn for every runtime, rotating the order each round so that no
// runtime always runs right after another.
func (c *bench) each(rounds int, fn func(round int, r *rt) error) error {
	for round := 0; round < rounds; round++ {
		n := len(c.rts)
		for i := 0; i < n; i++ {
			r := c.rts[(i+round)%n]
			if err := fn(round, r); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
		}
	}
	return nil
}

func (c *bench) track(r *rt, id string) {
	if c.live == nil {
		c.live = map[*rt][]string{}
	}
	c.live[r] = append(c.live[r], id)
}

// cleanup deletes every tracked container, in parallel (not timed).
func (c *bench) cleanup() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for r, ids := range c.live {
		for _, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				quiet(r.argv("delete", "-f", id))
				<-sem
			}()
		}
	}
	wg.Wait()
	c.live = nil
}

var scenarios = []struct {
	name string
	fn   func(*bench) error
}{
	{"run", (*bench).run},
	{"run-cold", (*bench).runCold},
	{"lifecycle", (*bench).lifecycle},
	{"exec", (*bench).exec},
	{"delete-force", (*bench).deleteForce},
	{"seq50", (*bench).seq50},
	{"conc20", (*bench).conc20},
}

func scenarioNames() []string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return n
}

// run: `run` of /bin/true in the foreground, plus `delete` when the
// runtime leaves the stopped container behind (runc and crun do not).
// Its rusage gives the peak RSS and the CPU time.
func (c *bench) run() error {
	return c.each(c.rounds, func(_ int, r *rt) error {
		id := c.id("run")
		s, err := runCmd(r.argv("run", "--bundle", c.b.trueB, id))
		if err != nil {
			return err
		}
		if r.leavesRun == nil {
			left := exec.Command(r.bin, "--root", r.root, "state", id).Run() == nil
			r.leavesRun = &left
		}
		total := s.wall
		if *r.leavesRun {
			d, err := runCmd(r.argv("delete", id))
			if err != nil {
				return err
			}
			total += d.wall
		}
		c.add("run /bin/true (incl. delete), ms", r, ms(total))
		c.add("peak RSS of `run`, MiB", r, float64(s.maxRSS)/1024)
		c.add("CPU user+sys of `run`, ms", r, ms(s.cpu))
		return nil
	})
}

// runCold: `run` of /bin/true after 100 ms without a cgroup migration on
// the host (from this benchmark), as a probe or job started now and then
// sees it. On cgroup v1 the first cgroup.procs write after a quiet spell
// waits an RCU grace period; back-to-back runs share one.
func (c *bench) runCold() error {
	rounds := c.rounds / 2
	if rounds < 5 {
		rounds = 5
	}
	return c.each(rounds, func(_ int, r *rt) error {
		time.Sleep(100 * time.Millisecond)
		id := c.id("cold")
		c.track(r, id)
		s, err := runCmd(r.argv("run", "--bundle", c.b.trueB, id))
		if err != nil {
			return err
		}
		c.add("run /bin/true after 100 ms idle, ms", r, ms(s.wall))
		return nil
	})
}

// lifecycle: create, start, wait for the init to exit, delete.
func (c *bench) lifecycle() error {
	return c.each(c.rounds, func(_ int, r *rt) error {
		id := c.id("lc")
		pidFile := filepath.Join(c.dir, id+".pid")
		defer os.Remove(pidFile)
		c.track(r, id)
		cr, err := runCmd(r.argv("create", "--bundle", c.b.trueB, "--pid-file", pidFile, id))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		// The init is not our child: wait through a pidfd, which polls
		// readable when the process exits.
		pfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return fmt.Errorf("pidfd_open: %w", err)
		}
		defer unix.Close(pfd)
		st, err := runCmd(r.argv("start", id))
		if err != nil {
			return err
		}
		t0 := time.Now()
		for {
			fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, 10000); err == unix.EINTR {
				continue
			} else if err != nil {
				return err
			}
			if fds[0].Revents == 0 {
				return errors.New("init did not exit within 10s")
			}
			break
		}
		w := time.Since(t0)
		del, err := runCmd(r.argv("delete", id))
		if err != nil {
			return err
		}
		c.add("create+start+wait+delete, ms", r, ms(cr.wall+st.wall+w+del.wall))
		c.add("  create, ms", r, ms(cr.wall))
		c.add("  start, ms", r, ms(st.wall))
		c.add("  delete (stopped), ms", r, ms(del.wall))
		return nil
	})
}

// exec: `exec` of /bin/true in a running container.
func (c *bench) exec() error {
	ids := map[*rt]string{}
	for _, r := range c.rts {
		id := c.id("exec")
		c.track(r, id)
		if _, err := runCmd(r.argv("run", "-d", "--bundle", c.b.sleepB, id)); err != nil {
			return err
		}
		ids[r] = id
	}
	return c.each(c.rounds, func(_ int, r *rt) error {
		s, err := runCmd(r.argv("exec", ids[r], "/bin/true"))
		if err != nil {
			return err
		}
		c.add("exec /bin/true, ms", r, ms(s.wall))
		c.add("peak RSS of `exec`, MiB", r, float64(s.maxRSS)/1024)
		c.add("CPU user+sys of `exec`, ms", r, ms(s.cpu))
		return nil
	})
}

// deleteForce: `delete -f` of a running container (`run -d` untimed).
func (c *bench) deleteForce() error {
	return c.each(c.rounds, func(_ int, r *rt) error {
		id := c.id("df")
		c.track(r, id)
		if _, err := runCmd(r.argv("run", "-d", "--bundle", c.b.sleepB, id)); err != nil {
			return err
		}
		s, err := runCmd(r.argv("delete", "-f", id))
		if err != nil {
			return err
		}
		c.add("delete -f of a running container, ms", r, ms(s.wall))
		return nil
	})
}

// seq50: 50 `run -d` one after another.
func (c *bench) seq50() error {
	return c.each(c.bulk, func(_ int, r *rt) error {
		t0 := time.Now()
		for i := 0; i < 50; i++ {
			id := c.id("seq")
			c.track(r, id)
			if _, err := runCmd(r.argv("run", "-d", "--bundle", c.b.sleepB, id)); err != nil {
				return err
			}
		}
		c.add("50 sequential `run -d`, ms", r, ms(time.Since(t0)))
		c.cleanup()
		return nil
	})
}

// conc20: 20 `run -d` at once.
func (c *bench) conc20() error {
	return c.each(c.bulk, func(_ int, r *rt) error {
		ids := make([]string, 20)
		for i := range ids {
			ids[i] = c.id("conc")
			c.track(r, ids[i])
		}
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		t0 := time.Now()
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = runCmd(r.argv("run", "-d", "--bundle", c.b.sleepB, id))
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		if err := errors.Join(errs...); err != nil {
			return err
		}
		c.add("20 concurrent `run -d`, ms", r, ms(d))
		c.cleanup()
		return nil
	})
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// table renders the medians and their ratios against runc (and podrun's
// against crun, the targets).
func (c *bench) table(note string) string {
	var w strings.Builder
	host, _ := os.Hostname()
	var un unix.Utsname
	_ = unix.Uname(&un)
	fmt.Fprintf(&w, "rtbench %s on %s: kernel %s, %d CPUs (%s), %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		host, unix.ByteSliceToString(un.Release[:]), runtime.NumCPU(), cpuModel(), cgroupMode())
	for _, r := range c.rts {
		fmt.Fprintf(&w, "  %s: %s\n", r.name, version(r.bin))
	}
	fmt.Fprintf(&w, "  rounds: %d (50-sequential and 20-concurrent: %d); medians; ratios in the same run\n", c.rounds, c.bulk)
	if note != "" {
		fmt.Fprintf(&w, "  %s\n", note)
	}
	w.WriteString("\n")
	names := make([]string, len(c.rts))
	for i, r := range c.rts {
		names[i] = r.name
	}
	has := func(n string) bool { return slices.Contains(names, n) }
	hdr := "| measure |"
	sep := "|---|"
	for _, n := range names {
		hdr += " " + n + " |"
		sep += "---:|"
	}
	if has("runc") {
		for _, n := range names {
			if n != "runc" {
				hdr += " " + n + "/runc |"
				sep += "---:|"
			}
		}
	}
	if has("podrun") && has("crun") {
		hdr += " podrun/crun |"
		sep += "---:|"
	}
	w.WriteString(hdr + "\n" + sep + "\n")
	for _, m := range c.order {
		row := "| " + m + " |"
		med := map[string]float64{}
		for _, n := range names {
			med[n] = median(c.res[m][n])
			row += fmt.Sprintf(" %.1f |", med[n])
		}
		ratio := func(a, b string) string {
			if med[b] == 0 {
				return " - |"
			}
			return fmt.Sprintf(" %.2fx |", med[a]/med[b])
		}
		if has("runc") {
			for _, n := range names {
				if n != "runc" {
					row += ratio(n, "runc")
				}
			}
		}
		if has("podrun") && has("crun") {
			row += ratio("podrun", "crun")
		}
		w.WriteString(row + "\n")
	}
	return w.String()
}

func version(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return bin
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func cgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v2"
	}
	if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v1 hybrid"
	}
	return "cgroup v1 (unified hierarchy unmounted in this mount namespace)"
}
