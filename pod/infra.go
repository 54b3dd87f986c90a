package pod

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/pod/pause"
	"github.com/podrun/podrun/runtime"
)

func contextBackground() context.Context { return context.Background() }

// rt is the runtime for the pod's containers: always the cgroupfs driver,
// since their cgroups nest under the pod cgroup by path.
//
// Their inits re-execute the podrun binary on disk (Pause) when it is the
// very file this process runs: the supervisor runs from a sealed view of
// podrun whose /proc/self/exe names no host path, so sealing that again
// falls back to a memfd copy of the whole binary per container (5-6 ms
// each, make bench-pod), where the file on disk gets exeseal's overlay
// view without a copy. A binary replaced on disk since keeps the copy of
// ours: its init might not speak our protocol.
func (m *Manager) rt() *runtime.Runtime {
	r := *m.Runtime
	r.NewCgroup = cgroups.New
	if m.Pause != "" && (r.Self == "" || r.Self == "/proc/self/exe") && sameBinary(m.Pause, "/proc/self/exe") {
		r.Self = m.Pause
	}
	return &r
}

// sameBinary reports whether a and b are the same regular file: inode,
// size and modification time (a sealed overlay view reports its lower
// file's inode, not its device).
func sameBinary(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Mode&unix.S_IFMT == unix.S_IFREG && sa.Ino == sb.Ino && sa.Size == sb.Size && sa.Mtim == sb.Mtim
}

func (m *Manager) pauseBinary() (string, error) {
	if m.Pause != "" {
		return m.Pause, nil
	}
	return os.Executable()
}

// infraSpec is the pause container: an empty read-only root holding only
// the podrun binary (bind-mounted at /pause, run in pause mode), new net,
// ipc, uts namespaces (and pid when the pod shares one), the pod's
// hostname and sysctls, no capabilities, no_new_privs.
func infraSpec(sb *Sandbox, pauseBin string) *specs.Spec {
	ps := &sb.Pod.Spec
	s := runtime.DefaultSpec()
	s.Root = &specs.Root{Path: "rootfs", Readonly: true}
	s.Process = &specs.Process{
		Args: []string{"/pause"}, Env: []string{pause.Env}, Cwd: "/",
		// uid 0 with no capabilities: as 65535 (the pause image's user) it
		// could not reopen the runtime's exec fifo under a --root that
		// only root may traverse (a mktemp -d); it holds nothing anyway.
		User:            specs.User{UID: 0, GID: 0},
		Capabilities:    &specs.LinuxCapabilities{},
		NoNewPrivileges: true,
	}
	s.Mounts = []specs.Mount{
		{Destination: "/pause", Type: "bind", Source: pauseBin, Options: []string{"bind", "ro", "nosuid", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "mode=755", "size=64k"}},
		// The runtime's init needs /proc to finish the start.
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	nss := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !ps.HostNetwork {
		nss = append(nss, specs.LinuxNamespace{Type: specs.NetworkNamespace}, specs.LinuxNamespace{Type: specs.UTSNamespace})
		s.Hostname = sb.Pod.KernelHostname()
	} else {
		s.Hostname = ""
	}
	if !ps.HostIPC {
		nss = append(nss, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	if !ps.HostPID {
		nss = append(nss, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	s.Linux.Namespaces = nss
	s.Linux.CgroupsPath = sb.CgroupParent + "/" + sb.InfraID
	s.Linux.MaskedPaths = nil
	s.Linux.ReadonlyPaths = nil
	if sc := ps.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		s.Linux.Sysctl = map[string]string{}
		for _, c := range sc.Sysctls {
			s.Linux.Sysctl[c.Name] = c.Value
		}
	}
	s.Annotations = podAnnotations(sb, InfraName, 0)
	return s
}

func podAnnotations(sb *Sandbox, ctr string, attempt int) map[string]string {
	return map[string]string{
		AnnotationPodName: sb.Name, AnnotationPodUID: sb.UID,
		AnnotationContainer: ctr, AnnotationAttempt: fmt.Sprint(attempt),
	}
}

// podHostname is the pod's hostname (kubelet's truncation rules).
func podHostname(sb *Sandbox) string {
	h, _ := sb.Pod.Hostname()
	return h
}

// writeBundle writes config.json and an empty rootfs/ into dir.
func writeBundle(dir string, s *specs.Spec) error {
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(filepath.Join(dir, "config.json"), data, 0o600)
}

// keepInfra records the infra init this process created (its child).
func (m *Manager) keepInfra(pod string, p *runtime.Process) {
	m.infraMu.Lock()
	defer m.infraMu.Unlock()
	if m.infra == nil {
		m.infra = map[string]*runtime.Process{}
	}
	m.infra[pod] = p
}

// takeInfra returns and forgets the infra init of pod this process
// created; nil when another process did (a loaded record).
func (m *Manager) takeInfra(pod string) *runtime.Process {
	m.infraMu.Lock()
	defer m.infraMu.Unlock()
	p := m.infra[pod]
	delete(m.infra, pod)
	return p
}

// startInfra creates and starts the pause container and records its pid
// and namespace paths.
func (m *Manager) startInfra(sb *Sandbox) error {
	bin, err := m.pauseBinary()
	if err != nil {
		return fmt.Errorf("pause binary: %w", err)
	}
	dir := filepath.Join(sb.StateDir, "infra")
	s := infraSpec(sb, bin)
	if err := addPauseLibs(s, filepath.Join(dir, "rootfs"), bin); err != nil {
		return fmt.Errorf("pause binary: %w", err)
	}
	if err := writeBundle(dir, s); err != nil {
		return err
	}
	// The bind-mount target exists in the host dir: the root is read-only.
	if err := os.WriteFile(filepath.Join(dir, "rootfs", "pause"), nil, 0o755); err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r := m.rt()
	child, err := r.Create(sb.InfraID, runtime.CreateOpts{Bundle: dir, Stdio: [3]*os.File{devnull, devnull, devnull}})
	if err != nil {
		return fmt.Errorf("infra container: %w", err)
	}
	m.keepInfra(sb.Name, child)
	sb.InfraPid = child.Pid()
	if err := r.Start(sb.InfraID); err != nil {
		return fmt.Errorf("infra container: %w", err)
	}
	ps := &sb.Pod.Spec
	nsPath := func(n string) string { return fmt.Sprintf("/proc/%d/ns/%s", sb.InfraPid, n) }
	if !ps.HostNetwork {
		// Its init set lo up, as in every new network namespace.
		sb.NetNS, sb.UTSNS = nsPath("net"), nsPath("uts")
	}
	if !ps.HostIPC {
		sb.IPCNS = nsPath("ipc")
	}
	if !ps.HostPID && shareProcessNamespace(sb) {
		sb.PIDNS = nsPath("pid")
	}
	return sb.Save()
}

func shareProcessNamespace(sb *Sandbox) bool {
	s := sb.Pod.Spec.ShareProcessNamespace
	return s != nil && *s
}

// InfraRunning reports whether the infra container is the live process
// recorded (same pid, start time checked by the runtime).
func (m *Manager) InfraRunning(sb *Sandbox) bool {
	st, err := m.Runtime.State(sb.InfraID)
	return err == nil && st.Status == runtime.Running && st.Pid == sb.InfraPid
}
