// Command podbench times a pod's start and removal: `podrun pod run -d` of
// a pod with an infra and two busybox containers (sleeping) until both
// containers run, then `podrun pod rm -f` of it; with -podman, the same pod
// with podman (`pod create` + two `run -d --pod`, then `pod rm -f -t 0`) in
// the same rounds, alternating order. Medians go to a Markdown table, with
// the CPU and memory of podrun's pod supervisor right after the start.
// `make bench-pod` (scripts/bench-pod.sh) drives it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const podName = "benchpod"

// manifest: terminationGracePeriodSeconds 30, so rm -f killing at once
// (not after a grace period) shows in the time.
const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: ` + podName + `
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: a
    image: %[1]s
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
  - name: b
    image: %[1]s
    imagePullPolicy: Never
    command: ["sleep", "1000000"]
`

type tool struct {
	podrun, podman []string // argv prefixes
	root           string   // podrun --root
	podmanImage    string
}

func main() {
	var (
		podrunBin = flag.String("podrun", "bin/podrun", "podrun binary")
		store     = flag.String("store", "", "podrun image store holding -image")
		img       = flag.String("image", "docker.io/library/busybox:1.36", "image of the containers")
		podman    = flag.String("podman", "", "podman binary (empty: podrun only)")
		podmanArg = flag.String("podman-args", "", "global podman flags (space-separated: --root, --runroot, --runtime...)")
		podmanImg = flag.String("podman-image", "", "the image's name in podman's store (default -image)")
		rounds    = flag.Int("rounds", 20, "rounds")
		work      = flag.String("work", "", "scratch dir (podrun --root, data dir, manifest)")
		out       = flag.String("out", "", "also write the table to this file")
		note      = flag.String("note", "", "a line added under the table")
	)
	flag.Parse()
	if *store == "" || *work == "" {
		fatalf("-store and -work are required")
	}
	t := &tool{root: filepath.Join(*work, "root"), podmanImage: *podmanImg}
	if t.podmanImage == "" {
		t.podmanImage = *img
	}
	t.podrun = []string{*podrunBin, "--root", t.root, "pod", "--store", *store, "--data-dir", filepath.Join(*work, "data")}
	if *podman != "" {
		t.podman = append([]string{*podman}, strings.Fields(*podmanArg)...)
	}
	yaml := filepath.Join(*work, "pod.yaml")
	if err := os.WriteFile(yaml, []byte(fmt.Sprintf(manifest, *img)), 0o644); err != nil {
		fatalf("%v", err)
	}
	res := map[string][]float64{}
	add := func(k string, v float64) { res[k] = append(res[k], v) }
	// Leftovers of an interrupted run would make every round fail.
	t.cleanup()
	for i := 0; i < *rounds; i++ {
		order := []string{"podrun", "podman"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, who := range order {
			switch {
			case who == "podrun":
				run, sup := t.podrunRun(yaml)
				add("podrun run", run)
				for k, v := range sup {
					add(k, v)
				}
				add("podrun rm", t.timed(append(t.podrun, "rm", "-f", podName)...))
				if _, err := os.Stat(filepath.Join(t.root, "pods", podName)); err == nil {
					fatalf("podrun pod rm -f left the pod's state dir")
				}
			case t.podman != nil:
				start := time.Now()
				t.must(append(t.podman, "pod", "create", "--name", podName, "--network", "none")...)
				for _, c := range []string{"a", "b"} {
					t.must(append(t.podman, "run", "-d", "--pod", podName, "--name", podName+"-"+c, t.podmanImage, "sleep", "1000000")...)
				}
				add("podman run", ms(time.Since(start)))
				add("podman rm", t.timed(append(t.podman, "pod", "rm", "-f", "-t", "0", podName)...))
			}
		}
		fmt.Fprintf(os.Stderr, "podbench: round %d/%d\n", i+1, *rounds)
	}
	table := render(res, *rounds, *note)
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
}

// podrunRun times `pod run -d` until both containers run (status.json
// says running and the recorded pids live), and returns the supervisor's
// cost right then.
func (t *tool) podrunRun(yaml string) (float64, map[string]float64) {
	start := time.Now()
	t.must(append(t.podrun, "run", "-d", "-f", yaml)...)
	var rec struct {
		SupervisorPid int `json:"supervisorPid"`
		Status        struct {
			ContainerStatuses []struct {
				State struct {
					Running *struct{} `json:"running"`
				} `json:"state"`
			} `json:"containerStatuses"`
		} `json:"status"`
		Runs map[string]struct {
			Pid int `json:"pid"`
		} `json:"runs"`
	}
	status := filepath.Join(t.root, "pods", podName, "status.json")
	for {
		if data, err := os.ReadFile(status); err == nil && json.Unmarshal(data, &rec) == nil {
			n := 0
			for _, cs := range rec.Status.ContainerStatuses {
				if cs.State.Running != nil {
					n++
				}
			}
			for _, r := range rec.Runs {
				if r.Pid <= 0 || syscall.Kill(r.Pid, 0) != nil {
					n = -1
				}
			}
			if n == 2 && len(rec.Runs) == 2 {
				break
			}
		}
		if time.Since(start) > 30*time.Second {
			fatalf("the pod's containers are not running after 30 s")
		}
		time.Sleep(200 * time.Microsecond)
	}
	d := ms(time.Since(start))
	sup := map[string]float64{}
	if rec.SupervisorPid > 0 {
		if cpu, ok := procCPU(rec.SupervisorPid); ok {
			sup["supervisor CPU at start (ms)"] = cpu
		}
		if rss, ok := procKB(rec.SupervisorPid, "status", "VmRSS:"); ok {
			sup["supervisor VmRSS (KiB)"] = rss
		}
		// Private_Clean is mostly the binary's pages, mapped by this
		// process alone; the dirty part is the supervisor's own memory.
		if pd, ok := procKB(rec.SupervisorPid, "smaps_rollup", "Private_Dirty:"); ok {
			sup["supervisor Private_Dirty (KiB)"] = pd
		}
	}
	return d, sup
}

// procCPU is utime+stime of pid in ms.
func procCPU(pid int) (float64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+2:]))
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) * 1000 / 100, true // USER_HZ is 100 on Linux
}

func procKB(pid int, file, key string) (float64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, err := strconv.ParseFloat(f[0], 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

func (t *tool) cleanup() {
	exec.Command(t.podrun[0], append(t.podrun[1:], "rm", "-f", podName)...).Run()
	if t.podman != nil {
		exec.Command(t.podman[0], append(t.podman[1:], "pod", "rm", "-f", "-t", "0", podName)...).Run()
	}
}

func (t *tool) timed(argv ...string) float64 {
	start := time.Now()
	t.must(argv...)
	return ms(time.Since(start))
}

func (t *tool) must(argv ...string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.cleanup()
		fatalf("%s: %v: %s", strings.Join(argv, " "), err, stderr.String())
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func render(res map[string][]float64, rounds int, note string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| pod (infra + 2 busybox containers), median of %d | podrun | podman | podrun/podman |\n|---|---:|---:|---:|\n", rounds)
	row := func(name, a, p string) {
		va, vp := median(res[a]), median(res[p])
		ratio := "–"
		sp := "–"
		if len(res[p]) > 0 {
			sp = fmt.Sprintf("%.1f ms", vp)
			ratio = fmt.Sprintf("%.2fx", va/vp)
		}
		fmt.Fprintf(&b, "| %s | %.1f ms | %s | %s |\n", name, va, sp, ratio)
	}
	row("run until both containers run", "podrun run", "podman run")
	row("rm -f", "podrun rm", "podman rm")
	for _, k := range []string{"supervisor CPU at start (ms)", "supervisor VmRSS (KiB)", "supervisor Private_Dirty (KiB)"} {
		if len(res[k]) > 0 {
			fmt.Fprintf(&b, "| %s | %.0f | | |\n", k, median(res[k]))
		}
	}
	if note != "" {
		fmt.Fprintf(&b, "\n%s\n", note)
	}
	return b.String()
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "podbench: "+format+"\n", a...)
	os.Exit(1)
}
