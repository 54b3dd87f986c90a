package pod

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/pod/manifest"
)

// DefaultCgroupRoot is the cgroup every pod's cgroup nests in (like
// kubelet's kubepods) unless Manager.CgroupRoot says otherwise; it is
// removed with the last pod.
const DefaultCgroupRoot = "podrun-pods"

// cgroupRoot is m.CgroupRoot checked: a relative path below the cgroup
// hierarchies' roots.
func (m *Manager) cgroupRoot() (string, error) {
	r := m.CgroupRoot
	if r == "" {
		return DefaultCgroupRoot, nil
	}
	if c := path.Clean(r); c != r || path.IsAbs(r) || r == "." || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("--cgroup-root %q: want a clean relative cgroup path such as %s", r, DefaultCgroupRoot)
	}
	return r, nil
}

// cpuPeriod is the CFS period kubelet uses (100 ms).
const cpuPeriod = 100000

// limits are one container's resources in the units the cgroup takes.
type limits struct {
	cpuRequest, cpuLimit int64 // millicores, 0 = unset
	memRequest, memLimit int64 // bytes, 0 = unset
}

func containerLimits(c *manifest.Container) (limits, error) {
	var l limits
	get := func(m map[string]string, key string, parse func(string) (int64, error), dst *int64) error {
		v, ok := m[key]
		if !ok {
			return nil
		}
		n, err := parse(v)
		if err != nil {
			return fmt.Errorf("container %s: resources %s: %w", c.Name, key, err)
		}
		*dst = n
		return nil
	}
	r := c.Resources
	for _, e := range []error{
		get(r.Requests, "cpu", manifest.ParseCPU, &l.cpuRequest),
		get(r.Limits, "cpu", manifest.ParseCPU, &l.cpuLimit),
		get(r.Requests, "memory", manifest.ParseBytes, &l.memRequest),
		get(r.Limits, "memory", manifest.ParseBytes, &l.memLimit),
	} {
		if e != nil {
			return l, e
		}
	}
	// A limit without a request requests the limit (apiserver default).
	if l.cpuRequest == 0 {
		l.cpuRequest = l.cpuLimit
	}
	if l.memRequest == 0 {
		l.memRequest = l.memLimit
	}
	return l, nil
}

// shares is kubelet's MilliCPUToShares: 1024 per core, at least 2.
func shares(milli int64) uint64 {
	s := milli * 1024 / 1000
	if s < 2 {
		s = 2
	}
	return uint64(s)
}

// resources turns limits into linux.resources.
func (l limits) resources() *specs.LinuxResources {
	r := &specs.LinuxResources{CPU: &specs.LinuxCPU{}}
	sh := shares(l.cpuRequest)
	r.CPU.Shares = &sh
	if l.cpuLimit > 0 {
		q, p := l.cpuLimit*cpuPeriod/1000, uint64(cpuPeriod)
		if q < 1000 {
			q = 1000 // the kernel's minimum quota (1 ms)
		}
		r.CPU.Quota, r.CPU.Period = &q, &p
	}
	if l.memLimit > 0 {
		m := l.memLimit
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	return r
}

// podLimits are the pod cgroup's: kubelet's pod-level values
// (component-helpers' PodRequests/PodLimits). The app containers and the
// sidecars run together, so theirs add up; a regular init container runs
// beside the sidecars started before it, so the pod needs at least that
// sum; the larger wins. A limit only when every container has one.
func podLimits(p *manifest.Pod) (limits, error) {
	var all, side, init limits
	allCPU, allMem := true, true
	add := func(dst *limits, l limits) {
		dst.cpuRequest += l.cpuRequest
		dst.memRequest += l.memRequest
		dst.cpuLimit += l.cpuLimit
		dst.memLimit += l.memLimit
	}
	peak := func(l limits) {
		init.cpuRequest = max(init.cpuRequest, l.cpuRequest)
		init.memRequest = max(init.memRequest, l.memRequest)
		init.cpuLimit = max(init.cpuLimit, l.cpuLimit)
		init.memLimit = max(init.memLimit, l.memLimit)
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		l, err := containerLimits(c)
		if err != nil {
			return all, err
		}
		allCPU, allMem = allCPU && l.cpuLimit > 0, allMem && l.memLimit > 0
		if c.Sidecar() {
			add(&all, l)
			add(&side, l)
			peak(side)
		} else {
			add(&l, side)
			peak(l)
		}
	}
	for i := range p.Spec.Containers {
		l, err := containerLimits(&p.Spec.Containers[i])
		if err != nil {
			return all, err
		}
		allCPU, allMem = allCPU && l.cpuLimit > 0, allMem && l.memLimit > 0
		add(&all, l)
	}
	sum := limits{
		cpuRequest: max(all.cpuRequest, init.cpuRequest), memRequest: max(all.memRequest, init.memRequest),
		cpuLimit: max(all.cpuLimit, init.cpuLimit), memLimit: max(all.memLimit, init.memLimit),
	}
	if !allCPU {
		sum.cpuLimit = 0
	}
	if !allMem {
		sum.memLimit = 0
	}
	return sum, nil
}

// makePodCgroup creates the pod-level cgroup with the pod's limits; the
// containers' cgroups nest in it.
func (m *Manager) makePodCgroup(sb *Sandbox) error {
	l, err := podLimits(sb.Pod)
	if err != nil {
		return err
	}
	cg, err := cgroups.New(sb.CgroupParent, sb.Name)
	if err != nil {
		return err
	}
	// Recorded before the directory exists, so Destroy finds it.
	sb.CgroupPaths = cg.Paths()
	if err := sb.Save(); err != nil {
		return err
	}
	if err := cg.Create(); err != nil {
		// Another pod's Destroy may have removed the then-empty shared
		// parent between our mkdir of it and of the pod's directory.
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := cg.Create(); err != nil {
			return err
		}
	}
	return cg.Set(l.resources())
}

// destroyPodCgroup removes the pod cgroup and what is left below it.
func destroyPodCgroup(sb *Sandbox) error {
	if len(sb.CgroupPaths) == 0 {
		return nil
	}
	cg, err := cgroups.Load(sb.CgroupPaths)
	if err != nil {
		return err
	}
	// Whatever still runs in it (a process that outlived its container's
	// state) would keep the cgroup busy.
	if pids, err := cg.Procs(); err == nil {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	if err := cg.Destroy(); err != nil {
		return err
	}
	// The shared parent (the cgroup root, /podrun-pods by default) goes
	// with the last pod: rmdir fails while another pod's cgroup is in it,
	// which is fine.
	root := path.Dir(sb.CgroupParent)
	for _, p := range sb.CgroupPaths {
		if parent := filepath.Dir(p); root != "/" && strings.HasSuffix(parent, root) {
			_ = unix.Rmdir(parent)
		}
	}
	return nil
}
