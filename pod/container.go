package pod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/capnames"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// The window size of a tty: true container: the classic 80x24 (no attach
// has told us a real terminal's size).
const (
	DefaultTTYRows = 24
	DefaultTTYCols = 80
)

// defaultCaps is containerd's default capability set for CRI containers
// (the one Kubernetes users get), to which add/drop apply.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// FindContainer returns the manifest container name (init or app) and
// whether it is an init container.
func FindContainer(p *manifest.Pod, name string) (*manifest.Container, bool, string, bool) {
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i], true, fmt.Sprintf("spec.initContainers[%d]", i), true
		}
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], false, fmt.Sprintf("spec.containers[%d]", i), true
		}
	}
	return nil, false, "", false
}

func (sb *Sandbox) bundleDir(id string) string {
	return filepath.Join(sb.StateDir, "containers", id)
}

// ContainerIO connects one run of a container, as containerd's CRI
// connects a task: pipes for a container without tty, a pty whose master
// goes to ConsoleSocket for one with tty: true.
type ContainerIO struct {
	// Stdio of the process; nil entries get /dev/null (a container with
	// stdin: false reads EOF). Not used with tty: true, whose process has
	// the pty slave as stdin, stdout and stderr.
	Stdio [3]*os.File
	// ConsoleSocket is the path of a listening socket (console.Socket)
	// that receives the pty master during the create of a tty: true
	// container; required for one, an error for any other.
	ConsoleSocket string
}

// ErrNoConsoleSocket is a tty: true container created without a console
// socket to hand its pty master to.
var ErrNoConsoleSocket = errors.New("tty: true needs a console socket to receive the pty master")

// CreateContainer is CreateContainerIO with stdio only (no tty).
func (m *Manager) CreateContainer(sb *Sandbox, name string, attempt int, stdio [3]*os.File) (id string, child *runtime.Process, retErr error) {
	return m.CreateContainerIO(sb, name, attempt, ContainerIO{Stdio: stdio})
}

// CreateContainerIO creates (not starts) run number attempt of container
// name: its bundle from the image and the manifest, then runtime.Create
// connected by cio. The caller starts it with runtime.Start(id) and, as
// the init's parent, reaps child.
func (m *Manager) CreateContainerIO(sb *Sandbox, name string, attempt int, cio ContainerIO) (id string, child *runtime.Process, retErr error) {
	c, _, field, ok := FindContainer(sb.Pod, name)
	if !ok {
		return "", nil, fmt.Errorf("pod %s has no container %q", sb.Name, name)
	}
	if c.TTY != (cio.ConsoleSocket != "") {
		if c.TTY {
			return "", nil, fmt.Errorf("%s.tty: %w", field, ErrNoConsoleSocket)
		}
		return "", nil, fmt.Errorf("%s.tty: false, but a console socket was given", field)
	}
	stdio := cio.Stdio
	if !m.InfraRunning(sb) {
		return "", nil, fmt.Errorf("pod %s: %w", sb.Name, ErrNoInfra)
	}
	id = ContainerID(sb.Name, name, attempt)
	// containerSpec stages the subPaths here. The init has bound them into
	// its own mount namespace when Create returns (or failed): the staging
	// mounts can go either way. Destroy's unmountUnder takes what a failed
	// release leaves.
	stage := subPathStageOf(sb, id)
	if err := stage.release(); err != nil { // left by a crash
		return "", nil, fmt.Errorf("%s (%s): removing subPath staging mounts: %w", field, name, err)
	}
	defer func() {
		if err := stage.release(); err != nil && m.Runtime.Log != nil {
			m.Runtime.Log.Warnf("%s (%s): removing subPath staging mounts: %v", field, name, err)
		}
	}()
	img, err := m.containerImage(sb, c, field)
	if err != nil {
		return "", nil, err
	}
	spec, err := m.containerSpec(sb, c, img, field, attempt)
	if err != nil {
		return "", nil, err
	}
	dir := sb.bundleDir(id)
	if err := writeBundle(dir, spec); err != nil {
		return "", nil, err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(dir)
		}
	}()
	for i := range stdio {
		if stdio[i] == nil {
			f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return "", nil, err
			}
			defer f.Close()
			stdio[i] = f
		}
	}
	child, err = m.rt().Create(id, runtime.CreateOpts{
		Bundle: dir, Stdio: stdio, ConsoleSocket: cio.ConsoleSocket,
		Image: &image.Rootfs{Store: m.Images, Image: img.ID, Layers: img.Layers},
	})
	if err != nil {
		return "", nil, fmt.Errorf("%s (%s): %w", field, name, err)
	}
	return id, child, nil
}

// RemoveContainer deletes one container of the pod (killing it if it
// still runs) and its bundle.
func (m *Manager) RemoveContainer(sb *Sandbox, id string) error {
	err := m.Runtime.Delete(id, true)
	if errors.Is(err, runtime.ErrNotExist) {
		err = nil
	}
	if rerr := os.RemoveAll(sb.bundleDir(id)); err == nil {
		err = rerr
	}
	return err
}

// containerImage is the image container c runs: the one resolved when the
// pod was made, else (imagePullPolicy Never) what its name finds now.
func (m *Manager) containerImage(sb *Sandbox, c *manifest.Container, field string) (*image.Image, error) {
	ref := sb.Images[c.Name]
	if ref == "" {
		// Not in the store when the pod was made (imagePullPolicy Never):
		// it may have been imported since.
		ref = c.Image
	}
	img, err := m.Images.Lookup(ref)
	if err != nil {
		if sb.Images[c.Name] == "" && c.ImagePullPolicy == manifest.PullNever {
			return nil, neverPullError{c.Image}
		}
		return nil, fmt.Errorf("%s.image: %w", field, err)
	}
	return img, nil
}

// containerSpec builds the OCI spec of a manifest container running img
// following kubelet's and containerd's CRI rules.
func (m *Manager) containerSpec(sb *Sandbox, c *manifest.Container, img *image.Image, field string, attempt int) (*specs.Spec, error) {
	cfg, err := m.Images.Config(img)
	if err != nil {
		return nil, fmt.Errorf("%s.image: %w", field, err)
	}
	var files image.ImageFiles
	if files.Passwd, err = m.Images.ReadImageFile(img, "/etc/passwd"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if files.Group, err = m.Images.ReadImageFile(img, "/etc/group"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	base := runtime.DefaultSpec()
	base.Process.Terminal = false
	// The args come from commandLine below; SpecFromImage only needs some
	// to accept an image without Entrypoint and Cmd.
	icfg := *cfg
	icfg.Config.Entrypoint, icfg.Config.Cmd = nil, []string{"sh"}
	s, err := image.SpecFromImage(base, &icfg, files)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	p := s.Process

	fv := sb.FieldValues()
	if fv.Objects, err = sb.objects(); err != nil {
		return nil, err
	}
	env, err := sb.Pod.ContainerEnv(c, fv)
	if err != nil {
		return nil, configError{fmt.Errorf("%s.env: %w", field, err)}
	}
	p.Env = manifest.MergeEnv(p.Env, env)
	p.Args = commandLine(cfg.Config.Entrypoint, cfg.Config.Cmd, c.Command, c.Args, env)
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("%s.command: the image %s has no Entrypoint or Cmd: the manifest must give a command", field, c.Image)
	}
	if c.WorkingDir != "" {
		if !path.IsAbs(c.WorkingDir) {
			return nil, fmt.Errorf("%s.workingDir: %q is not absolute", field, c.WorkingDir)
		}
		p.Cwd = path.Clean(c.WorkingDir)
	}
	p.Rlimits = nil // inherit the supervisor's, as containerd's containers do
	// tty: a pty whose master goes to the caller's console socket, sized
	// 80x24 (a new pty is 0x0, which confuses full-screen programs; an
	// attach would resize it to the user's terminal).
	p.Terminal = c.TTY
	p.ConsoleSize = nil
	if c.TTY {
		p.ConsoleSize = &specs.Box{Height: DefaultTTYRows, Width: DefaultTTYCols}
	}

	if err := applySecurity(sb, c, field, s, files); err != nil {
		return nil, err
	}
	if err := m.applySeccomp(sb, c, field, s); err != nil {
		return nil, err
	}

	// Mounts: the image's and runtime defaults, the pod's hosts files,
	// then the volumes (a volume at /etc/hosts replaces ours).
	vms, err := volumeMounts(sb, c, field, subPathStageOf(sb, ContainerID(sb.Name, c.Name, attempt)))
	if err != nil {
		// kubelet: a mount it cannot prepare (a subPath) fails
		// generateContainerConfig, CreateContainerConfigError.
		return nil, configError{err}
	}
	taken := map[string]bool{}
	for _, vm := range vms {
		taken[path.Clean(vm.Destination)] = true
	}
	for _, f := range []struct{ dst, src string }{
		{"/etc/hosts", sb.hostsPath()}, {"/etc/hostname", sb.hostnamePath()}, {"/etc/resolv.conf", sb.resolvPath()},
	} {
		if !taken[f.dst] {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate"}})
		}
	}
	s.Mounts = append(s.Mounts, vms...)
	// The termination message file, last (kubelet's makeMounts).
	if c.TerminationMessagePath != "" {
		src, err := sb.makeTerminationLog(c.Name, attempt)
		if err != nil {
			return nil, fmt.Errorf("%s.terminationMessagePath: %w", field, err)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: c.TerminationMessagePath, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}})
	}

	// Namespaces: the infra's net, ipc, uts (and pid when shared) by path.
	nss := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}}
	join := func(t specs.LinuxNamespaceType, path string) {
		if path != "" {
			nss = append(nss, specs.LinuxNamespace{Type: t, Path: path})
		}
	}
	join(specs.NetworkNamespace, sb.NetNS)
	join(specs.IPCNamespace, sb.IPCNS)
	join(specs.UTSNamespace, sb.UTSNS)
	switch {
	case sb.PIDNS != "":
		join(specs.PIDNamespace, sb.PIDNS)
	case !sb.Pod.Spec.HostPID:
		nss = append(nss, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	s.Linux.Namespaces = nss
	s.Hostname = ""

	l, err := containerLimits(c)
	if err != nil {
		return nil, err
	}
	res := l.resources()
	res.Devices = s.Linux.Resources.Devices
	s.Linux.Resources = res
	id := ContainerID(sb.Name, c.Name, attempt)
	s.Linux.CgroupsPath = sb.CgroupParent + "/" + id

	for k, v := range podAnnotations(sb, c.Name, attempt) {
		s.Annotations[k] = v
	}
	// For who reads the state; the rootfs comes from CreateOpts.Image.
	s.Annotations[image.AnnotationImage] = img.ID
	s.Annotations[image.AnnotationName] = c.Image
	return s, nil
}

// commandLine is Kubernetes' rule: command replaces the image's
// Entrypoint and drops its Cmd; args alone replace Cmd; both are expanded
// with $(VAR) from the manifest's env of the container (not the image's).
func commandLine(entrypoint, cmd, command, args, env []string) []string {
	switch {
	case len(command) > 0:
		return manifest.ExpandCommand(append(slices.Clone(command), args...), env)
	case len(args) > 0:
		return append(slices.Clone(entrypoint), manifest.ExpandCommand(args, env)...)
	}
	return append(slices.Clone(entrypoint), cmd...)
}

// applySecurity applies the pod's and the container's securityContext:
// user and groups, runAsNonRoot, capabilities, privileged, read-only root,
// no_new_privs.
func applySecurity(sb *Sandbox, c *manifest.Container, field string, s *specs.Spec, files image.ImageFiles) error {
	p := s.Process
	psc := sb.Pod.Spec.SecurityContext
	if psc == nil {
		psc = &manifest.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &manifest.SecurityContext{}
	}
	runAsUser, runAsGroup, nonRoot := psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		runAsGroup = sc.RunAsGroup
	}
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if runAsUser != nil {
		// The uid's primary and supplementary groups from the image, as
		// containerd's WithUserID.
		u, err := image.ResolveUser(strconv.FormatInt(*runAsUser, 10), files.Passwd, files.Group)
		if err != nil {
			return fmt.Errorf("%s.securityContext.runAsUser: %w", field, err)
		}
		p.User = u
	}
	if runAsGroup != nil {
		p.User.GID = uint32(*runAsGroup)
	}
	if psc.SupplementalGroupsPolicy == manifest.SupplementalGroupsStrict {
		// Only the primary group and the pod's: none from the image's
		// /etc/group (containerd lists the primary gid too).
		p.User.AdditionalGids = []uint32{p.User.GID}
	}
	// The primary group is listed too, as containerd's WithAdditionalGIDs
	// does (the docs' `id` shows groups=2000,3000,4000 for gid 3000).
	groups := append([]int64{int64(p.User.GID)}, psc.SupplementalGroups...)
	if psc.FSGroup != nil {
		groups = append(groups, *psc.FSGroup) // kubelet's determineEffectiveSecurityContext
	}
	for _, g := range groups {
		if !slices.Contains(p.User.AdditionalGids, uint32(g)) {
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
	}
	if nonRoot != nil && *nonRoot && p.User.UID == 0 {
		return configError{fmt.Errorf("%s.securityContext.runAsNonRoot: container has runAsNonRoot and image will run as root (container: %s)", field, c.Name)}
	}

	privileged := sc.Privileged != nil && *sc.Privileged
	caps := slices.Clone(defaultCaps)
	if privileged {
		caps = allCaps()
	} else if sc.Capabilities != nil {
		var err error
		if caps, err = addDropCaps(caps, sc.Capabilities, field); err != nil {
			return err
		}
	}
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: slices.Clone(caps), Permitted: slices.Clone(caps)}
	p.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		s.Root.Readonly = true
	}
	if privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/sys" || s.Mounts[i].Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(s.Mounts[i].Options), func(o string) bool { return o == "ro" })
			}
		}
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		devs, err := hostDevices()
		if err != nil {
			return fmt.Errorf("%s.securityContext.privileged: host devices: %w", field, err)
		}
		s.Linux.Devices = devs
	}
	return nil
}

// hostDevices lists the host's device nodes under /dev, which a privileged
// container gets, as containerd's CRI does (not the pts, shm and mqueue
// mounts, which the container has its own of).
func hostDevices() ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished or unreadable: skip
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev":
				return filepath.SkipDir
			}
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		typ := ""
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil
		}
		if p == "/dev/console" {
			return nil // the container's console is its own
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path: p, Type: typ, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		return nil
	})
	return out, err
}

// allCaps is "every capability": those podrun knows that are in our own
// bounding set (a container cannot get more; the kernel may know fewer).
func allCaps() []string {
	var bnd uint64
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
				bnd, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
	}
	var out []string
	for _, n := range capnames.Names() {
		if c, ok := capnames.ByName(n); ok && int(c) < 64 && bnd&(1<<uint(c)) != 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// addDropCaps applies Kubernetes' add and drop lists (names without
// CAP_, "ALL" allowed) as containerd does: ALL first, then the names.
func addDropCaps(caps []string, c *manifest.Capabilities, field string) ([]string, error) {
	norm := func(list []string, what string) ([]string, bool, error) {
		var out []string
		all := false
		for i, n := range list {
			u := strings.ToUpper(n)
			if u == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(u, "CAP_") {
				u = "CAP_" + u
			}
			if _, ok := capnames.ByName(u); !ok {
				return nil, false, fmt.Errorf("%s.securityContext.capabilities.%s[%d]: unknown capability %q", field, what, i, n)
			}
			out = append(out, u)
		}
		return out, all, nil
	}
	add, addAll, err := norm(c.Add, "add")
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := norm(c.Drop, "drop")
	if err != nil {
		return nil, err
	}
	if addAll {
		caps = allCaps()
	}
	if dropAll {
		caps = nil
	}
	for _, a := range add {
		if !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	caps = slices.DeleteFunc(caps, func(x string) bool { return slices.Contains(drop, x) })
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}

// ErrContainerConfig marks an error in building a container's
// configuration from the manifest (an env reference that cannot be
// resolved, runAsNonRoot against a root user): kubelet's
// ErrCreateContainerConfig, shown as waiting reason
// CreateContainerConfigError rather than CreateContainerError.
var ErrContainerConfig = errors.New("CreateContainerConfigError")

type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == ErrContainerConfig }

// ErrImageNeverPull marks a container whose image is not in the store
// while its imagePullPolicy is Never: kubelet's waiting reason
// ErrImageNeverPull (images/types.go), retried until the image is there.
var ErrImageNeverPull = errors.New("ErrImageNeverPull")

type neverPullError struct{ image string }

func (e neverPullError) Error() string {
	// kubelet's message (images/image_manager.go EnsureImageExists).
	return fmt.Sprintf("Container image %q is not present with pull policy of Never", e.image)
}
func (e neverPullError) Is(target error) bool { return target == ErrImageNeverPull }

// FieldValues are the downward API's facts about the running pod.
func (sb *Sandbox) FieldValues() manifest.FieldValues {
	v := manifest.FieldValues{NodeName: sb.Pod.Spec.NodeName, PodIP: sb.IP, HostIPs: sb.HostIPs,
		Node: func() manifest.NodeAllocatable { return nodeAllocatable(sb.DataDir) }}
	if sb.IP != "" {
		v.PodIPs = []string{sb.IP}
	}
	if len(sb.HostIPs) > 0 {
		v.HostIP = sb.HostIPs[0]
	}
	return v
}
