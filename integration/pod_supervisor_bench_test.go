package integration

// The supervisor's cost: `make bench-supervisor` runs this with
// PODRUN_BENCH_SUPERVISOR=1 and prints the RSS and CPU of a pod's
// supervisor (and its fd holder) with 10 containers probed every second,
// and of the same pod without probes (idle).

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

func TestPodSupervisorBenchmark(t *testing.T) {
	if os.Getenv("PODRUN_BENCH_SUPERVISOR") == "" {
		t.Skip("set PODRUN_BENCH_SUPERVISOR=1 (make bench-supervisor)")
	}
	window := 20 * time.Second
	if v, err := time.ParseDuration(os.Getenv("PODRUN_BENCH_WINDOW")); err == nil {
		window = v
	}
	var env []string
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv("PODRUN_BENCH_" + k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	e := newSvEnv(t, env...)
	for _, probes := range []bool{true, false} {
		name := "bench-idle"
		if probes {
			name = "bench-probes"
		}
		var b strings.Builder
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&b, "  - name: c%d\n    image: busybox:test\n", i)
			port := 8000 + i
			fmt.Fprintf(&b, "    command: [\"sh\", \"-c\", \"mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p %d -h /w\"]\n", port)
			if !probes {
				continue
			}
			var h string
			switch i % 3 {
			case 0:
				h = fmt.Sprintf("httpGet: {path: /, port: %d}", port)
			case 1:
				h = fmt.Sprintf("tcpSocket: {port: %d}", port)
			case 2:
				h = `exec: {command: ["true"]}`
			}
			fmt.Fprintf(&b, "    livenessProbe:\n      %s\n      periodSeconds: 1\n", h)
			fmt.Fprintf(&b, "    readinessProbe:\n      %s\n      periodSeconds: 1\n", h)
		}
		e.run(name, podYAML(name, "Always", "2", "  containers:\n"+b.String()))
		e.waitStatus(name, "Ready", func(s manifest.PodStatus) bool { return condStatus(s, manifest.PodReady) == manifest.ConditionTrue })
		rec := readRecord(t, filepath.Join(e.Root, "pods", name))
		sup := rec.SupervisorPid
		holder := holderPid(t, sup)
		time.Sleep(2 * time.Second) // settle
		c0, t0 := cpuTicks(t, sup), time.Now()
		h0 := cpuTicks(t, holder)
		time.Sleep(window)
		c1, t1 := cpuTicks(t, sup), time.Now()
		h1 := cpuTicks(t, holder)
		secs := t1.Sub(t0).Seconds()
		pct := func(d int64) float64 { return float64(d) / 100 / secs * 100 } // USER_HZ 100
		restarts := 0
		for _, c := range e.status(name).ContainerStatuses {
			restarts += int(c.RestartCount)
		}
		what := "10 containers, no probes (idle)"
		if probes {
			what = "10 containers, liveness+readiness every 1s (4 httpGet, 3 tcpSocket, 3 exec)"
		}
		fmt.Printf("\n%s — window %s, restarts %d\n", what, window, restarts)
		fmt.Printf("  supervisor pid %d: %s\n", sup, memLine(t, sup))
		fmt.Printf("  supervisor CPU: self %.2f%%, exec-probe children %.2f%%\n", pct(c1.self-c0.self), pct(c1.children-c0.children))
		fmt.Printf("  fd holder pid %d: %s, CPU %.2f%%\n", holder, memLine(t, holder), pct(h1.self-h0.self))
		e.mustPod("rm", "-f", name)
	}
}

type ticks struct{ self, children int64 }

func cpuTicks(t *testing.T, pid int) ticks {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	// Fields after ")": state is 0, utime 11, stime 12, cutime 13, cstime 14.
	return ticks{self: n(11) + n(12), children: n(13) + n(14)}
}

func memLine(t *testing.T, pid int) string {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	sm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	get := func(b []byte, k string) string {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, k+":") {
				return strings.Join(strings.Fields(l[len(k)+1:]), " ")
			}
		}
		return "?"
	}
	return fmt.Sprintf("VmRSS %s (RssAnon %s, RssFile %s shared with every podrun), Pss %s, threads %s",
		get(st, "VmRSS"), get(st, "RssAnon"), get(st, "RssFile"), get(sm, "Pss"), get(st, "Threads"))
}

// holderPid finds the fd holder: the supervisor's child running
// "supervise --fd-holder".
func holderPid(t *testing.T, sup int) int {
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if strings.Contains(string(cl), "--fd-holder") && len(st) > 0 {
			f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+2:]))
			if f[1] == strconv.Itoa(sup) {
				return pid
			}
		}
	}
	t.Fatal("no fd holder")
	return 0
}
