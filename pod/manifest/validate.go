package manifest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
)

// The expressions compile on first use, not in init(): this package is
// linked into every podrun start.
var (
	dns1123Label     = lazyRE(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = lazyRE(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	ianaSvcName      = lazyRE(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	sysctlName       = lazyRE(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)
	qualifiedName    = lazyRE(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValue       = lazyRE(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	uuidRE           = lazyRE(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// ValidUID reports whether uid is a UUID in the canonical lowercase form the
// API server (and Default) assigns: it becomes a directory, a cgroup and a
// CNI container ID, which must not hold anything else.
func ValidUID(uid string) bool { return uuidRE.MatchString(uid) }

type lazyRegexp func() *regexp.Regexp

func lazyRE(expr string) lazyRegexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func (l lazyRegexp) MatchString(s string) bool { return l().MatchString(s) }

type validator struct{ errs ErrorList }

func (v *validator) add(path, format string, a ...any) {
	v.errs = append(v.errs, &FieldError{path, fmt.Sprintf(format, a...)})
}

func (v *validator) label(path, s string) {
	if len(s) > 63 || !dns1123Label.MatchString(s) {
		v.add(path, "%q must be a DNS-1123 label (lowercase letters, digits and '-', at most 63)", s)
	}
}

// Validate checks the pod before anything is created and returns every
// problem as an ErrorList of field-path errors (errors.Is(err, ErrInvalid)).
// It accepts a pod with or without Default applied (a zero timing means "the
// default", as in Kubernetes). Fields that would change behaviour but that
// podrun does not implement are errors naming the field.
func (p *Pod) Validate() error {
	v := &validator{}
	if p.APIVersion != "v1" {
		v.add("apiVersion", "must be v1, not %q", p.APIVersion)
	}
	if p.Kind != "Pod" {
		v.add("kind", "must be Pod, not %q", p.Kind)
	}
	v.meta(&p.Metadata)
	v.spec(&p.Spec)
	v.fqdn(p)
	var unsup []string
	tagged(reflect.ValueOf(p).Elem(), "", "unsupported", &unsup)
	for _, f := range unsup {
		v.add(f, "not supported by podrun")
	}
	return v.errs.err()
}

func (v *validator) meta(m *ObjectMeta) {
	switch {
	case m.Name == "" && m.GenerateName == "":
		v.add("metadata.name", "required")
	case m.Name != "":
		if len(m.Name) > 253 || !dns1123Subdomain.MatchString(m.Name) {
			v.add("metadata.name", "%q must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')", m.Name)
		}
	default:
		if len(m.GenerateName) > 253-5 || !dns1123Subdomain.MatchString(m.GenerateName+"x") {
			v.add("metadata.generateName", "%q must be a DNS-1123 subdomain prefix", m.GenerateName)
		}
	}
	if m.Namespace != "" {
		v.label("metadata.namespace", m.Namespace)
	}
	if m.UID != "" && !ValidUID(m.UID) {
		v.add("metadata.uid", "%q is not a UUID (8-4-4-4-12 lowercase hex digits)", m.UID)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
		val := m.Labels[k]
		v.key("metadata.labels", k)
		if len(val) > 63 || !labelValue.MatchString(val) {
			v.add("metadata.labels."+k, "%q is not a valid label value", val)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Annotations)) {
		v.key("metadata.annotations", k)
	}
}

// key checks a label or annotation key: [prefix/]name.
func (v *validator) key(field, k string) {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		name, prefix = prefix, ""
	}
	if (ok && (len(prefix) > 253 || !dns1123Subdomain.MatchString(prefix))) ||
		len(name) > 63 || !qualifiedName.MatchString(name) {
		v.add(field, "%q is not a valid key", k)
	}
}

func (v *validator) spec(s *PodSpec) {
	v.dns(s)
	switch s.RestartPolicy {
	case "", RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever:
	default:
		v.add("spec.restartPolicy", "%q must be Always, OnFailure or Never", s.RestartPolicy)
	}
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		v.add("spec.terminationGracePeriodSeconds", "must not be negative")
	}
	if s.Hostname != "" {
		v.label("spec.hostname", s.Hostname)
	}
	if s.Subdomain != "" {
		v.label("spec.subdomain", s.Subdomain)
	}
	if d := s.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		v.add("spec.activeDeadlineSeconds", "%d must be greater than 0", *d)
	}
	if s.NodeName != "" && (len(s.NodeName) > 253 || !dns1123Subdomain.MatchString(s.NodeName)) {
		v.add("spec.nodeName", "%q must be a DNS-1123 subdomain", s.NodeName)
	}
	if s.ShareProcessNamespace != nil && *s.ShareProcessNamespace && s.HostPID {
		v.add("spec.shareProcessNamespace", "cannot be true together with hostPID")
	}
	if s.HostUsers != nil && !*s.HostUsers {
		v.add("spec.hostUsers", "false (a user namespace per pod) is not supported by podrun")
	}
	v.podSecurity(s)

	vols := map[string]*Volume{}
	for i := range s.Volumes {
		vol := &s.Volumes[i]
		fp := fmt.Sprintf("spec.volumes[%d]", i)
		v.label(fp+".name", vol.Name)
		if _, dup := vols[vol.Name]; dup {
			v.add(fp+".name", "duplicate volume %q", vol.Name)
		}
		vols[vol.Name] = vol
		v.volume(fp, vol)
	}

	if len(s.Containers) == 0 {
		v.add("spec.containers", "at least one container is required")
	}
	names := map[string]bool{}
	hostPorts := map[string]string{}
	for i := range s.InitContainers {
		v.container(fmt.Sprintf("spec.initContainers[%d]", i), &s.InitContainers[i], true, s, vols, names, hostPorts)
	}
	for i := range s.Containers {
		v.container(fmt.Sprintf("spec.containers[%d]", i), &s.Containers[i], false, s, vols, names, hostPorts)
	}
}

// namespacedSysctl reports whether a sysctl belongs to a namespace the pod
// owns (ipc or net); kubelet's "safe or namespaced" rule.
func namespacedSysctl(name string) (ns string, ok bool) {
	n := strings.ReplaceAll(name, "/", ".")
	switch {
	case strings.HasPrefix(n, "net."):
		return "net", true
	case strings.HasPrefix(n, "kernel.shm"), strings.HasPrefix(n, "kernel.msg"),
		n == "kernel.sem", strings.HasPrefix(n, "fs.mqueue."):
		return "ipc", true
	}
	return "", false
}

func (v *validator) podSecurity(s *PodSpec) {
	sc := s.SecurityContext
	if sc == nil {
		return
	}
	v.ids("spec.securityContext", sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot)
	v.seccomp("spec.securityContext.seccompProfile", sc.SeccompProfile)
	if g := sc.FSGroup; g != nil && (*g < 0 || *g > 1<<31-1) {
		v.add("spec.securityContext.fsGroup", "must be 0..2147483647")
	}
	switch sc.FSGroupChangePolicy {
	case "", FSGroupChangeAlways, FSGroupChangeOnRootMismatch:
	default:
		v.add("spec.securityContext.fsGroupChangePolicy", "%q must be Always or OnRootMismatch", sc.FSGroupChangePolicy)
	}
	switch sc.SupplementalGroupsPolicy {
	case "", SupplementalGroupsMerge, SupplementalGroupsStrict:
	default:
		v.add("spec.securityContext.supplementalGroupsPolicy", "%q must be Merge or Strict", sc.SupplementalGroupsPolicy)
	}
	for i, g := range sc.SupplementalGroups {
		if g < 0 || g > 1<<31-1 {
			v.add(fmt.Sprintf("spec.securityContext.supplementalGroups[%d]", i), "must be 0..2147483647")
		}
	}
	seen := map[string]bool{}
	for i, sy := range sc.Sysctls {
		fp := fmt.Sprintf("spec.securityContext.sysctls[%d]", i)
		if len(sy.Name) > 253 || !sysctlName.MatchString(sy.Name) {
			v.add(fp+".name", "%q is not a sysctl name", sy.Name)
			continue
		}
		if seen[sy.Name] {
			v.add(fp+".name", "duplicate sysctl %q", sy.Name)
		}
		seen[sy.Name] = true
		ns, ok := namespacedSysctl(sy.Name)
		switch {
		case !ok:
			v.add(fp+".name", "%q is not a namespaced sysctl (only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", sy.Name)
		case ns == "net" && s.HostNetwork:
			v.add(fp+".name", "%q cannot be set with hostNetwork", sy.Name)
		case ns == "ipc" && s.HostIPC:
			v.add(fp+".name", "%q cannot be set with hostIPC", sy.Name)
		}
	}
}

func (v *validator) ids(fp string, user, group *int64, nonRoot *bool) {
	if user != nil && (*user < 0 || *user > 1<<31-1) {
		v.add(fp+".runAsUser", "must be 0..2147483647")
	}
	if group != nil && (*group < 0 || *group > 1<<31-1) {
		v.add(fp+".runAsGroup", "must be 0..2147483647")
	}
	if nonRoot != nil && *nonRoot && user != nil && *user == 0 {
		v.add(fp+".runAsNonRoot", "true contradicts runAsUser 0")
	}
}

func (v *validator) volume(fp string, vol *Volume) {
	n := 0
	if vol.EmptyDir != nil {
		n++
		switch vol.EmptyDir.Medium {
		case StorageMediumDefault, StorageMediumMemory:
		default:
			v.add(fp+".emptyDir.medium", "%q must be \"\" or Memory", vol.EmptyDir.Medium)
		}
		if q := vol.EmptyDir.SizeLimit; q != "" {
			if _, err := ParseBytes(q); err != nil {
				v.add(fp+".emptyDir.sizeLimit", "%v", err)
			}
		}
	}
	if h := vol.HostPath; h != nil {
		n++
		switch {
		case !path.IsAbs(h.Path):
			v.add(fp+".hostPath.path", "%q must be an absolute path", h.Path)
		case hasDotDot(h.Path):
			v.add(fp+".hostPath.path", "%q must not contain '..'", h.Path)
		}
		if h.Type != nil {
			switch *h.Type {
			case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate,
				HostPathFile, HostPathSocket, HostPathCharDev, HostPathBlockDev:
			default:
				v.add(fp+".hostPath.type", "%q is not a hostPath type", *h.Type)
			}
		}
	}
	if c := vol.PersistentVolumeClaim; c != nil {
		n++
		if len(c.ClaimName) > 253 || !dns1123Subdomain.MatchString(c.ClaimName) {
			v.add(fp+".persistentVolumeClaim.claimName", "%q must be a DNS-1123 subdomain", c.ClaimName)
		}
	}
	n += v.objectVolume(fp, vol)
	var others []string
	tagged(reflect.ValueOf(vol).Elem(), "", "unsupported", &others)
	for _, o := range others { // reported by Validate's generic pass
		if !strings.Contains(o, ".") { // a source, not a field inside one
			n++
		}
	}
	if n == 0 {
		v.add(fp, "a volume source is required (emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI, projected)")
	} else if n > 1 {
		v.add(fp, "exactly one volume source may be given")
	}
}

func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

var knownCaps = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{"ALL": true}
	for _, c := range capability.ListKnown() {
		m[strings.ToUpper(c.String())] = true
	}
	return m
})

// CapabilityName returns the capability in "CAP_NET_ADMIN" form for a
// manifest name ("NET_ADMIN", "CAP_NET_ADMIN", "net_admin"), or "ALL".
func CapabilityName(s string) (string, bool) {
	u := strings.TrimPrefix(strings.ToUpper(s), "CAP_")
	if !knownCaps()[u] {
		return "", false
	}
	if u == "ALL" {
		return u, true
	}
	return "CAP_" + u, true
}

func (v *validator) container(fp string, c *Container, isInit bool, s *PodSpec, vols map[string]*Volume, names map[string]bool, hostPorts map[string]string) {
	v.label(fp+".name", c.Name)
	if names[c.Name] {
		v.add(fp+".name", "duplicate container name %q", c.Name)
	}
	names[c.Name] = true
	if strings.TrimSpace(c.Image) == "" {
		v.add(fp+".image", "required")
	}
	switch c.ImagePullPolicy {
	case "", PullAlways, PullIfNotPresent, PullNever:
	default:
		v.add(fp+".imagePullPolicy", "%q must be Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	switch c.TerminationMessagePolicy {
	case "", TerminationMessageReadFile, TerminationMessageFallbackToLogsOnError:
	default:
		v.add(fp+".terminationMessagePolicy", "%q must be File or FallbackToLogsOnError", c.TerminationMessagePolicy)
	}
	if t := c.TerminationMessagePath; t != "" && (!path.IsAbs(t) || path.Clean(t) != t || t == "/" || len(t) > 4096) {
		v.add(fp+".terminationMessagePath", "%q must be a clean absolute file path", t)
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		v.add(fp+".workingDir", "%q must be an absolute path", c.WorkingDir)
	}
	if c.StdinOnce && !c.Stdin {
		v.add(fp+".stdinOnce", "requires stdin")
	}

	for i, e := range c.Env {
		ep := fmt.Sprintf("%s.env[%d]", fp, i)
		if !validEnvName(e.Name) {
			v.add(ep+".name", "%q is not a valid environment variable name (printable ASCII other than '=')", e.Name)
		}
		if e.ValueFrom != nil {
			if e.Value != "" {
				v.add(ep+".valueFrom", "may not be given together with value")
			}
			if f := e.ValueFrom.FieldRef; f != nil {
				if f.APIVersion != "" && f.APIVersion != "v1" {
					v.add(ep+".valueFrom.fieldRef.apiVersion", "must be v1")
				}
				if !SupportedFieldPath(f.FieldPath) {
					v.add(ep+".valueFrom.fieldRef.fieldPath", "%q is not supported (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName, status.podIP(s), status.hostIP(s))", f.FieldPath)
				}
			} else if f := e.ValueFrom.ResourceFieldRef; f != nil {
				v.resourceField(ep+".valueFrom.resourceFieldRef", f)
			} else {
				v.keyRefs(ep+".valueFrom", e.ValueFrom)
			}
		}
	}
	v.envFrom(fp, c.EnvFrom)

	portNames := map[string]bool{}
	for i, pt := range c.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", fp, i)
		if pt.ContainerPort < 1 || pt.ContainerPort > 65535 {
			v.add(pp+".containerPort", "must be 1..65535")
		}
		if pt.HostPort < 0 || pt.HostPort > 65535 {
			v.add(pp+".hostPort", "must be 0..65535")
		}
		if s.HostNetwork && pt.HostPort != 0 && pt.HostPort != pt.ContainerPort {
			v.add(pp+".hostPort", "must equal containerPort with hostNetwork")
		}
		proto := pt.Protocol
		switch proto {
		case "":
			proto = ProtocolTCP
		case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		default:
			v.add(pp+".protocol", "%q must be TCP, UDP or SCTP", pt.Protocol)
		}
		if pt.HostIP != "" && net.ParseIP(pt.HostIP) == nil {
			v.add(pp+".hostIP", "%q is not an IP address", pt.HostIP)
		}
		if pt.Name != "" {
			if !validPortName(pt.Name) {
				v.add(pp+".name", "%q must be an IANA service name (at most 15 lowercase letters, digits and '-', with a letter)", pt.Name)
			}
			if portNames[pt.Name] {
				v.add(pp+".name", "duplicate port name %q", pt.Name)
			}
			portNames[pt.Name] = true
		}
		if pt.HostPort != 0 {
			key := fmt.Sprintf("%d/%s/%s", pt.HostPort, proto, pt.HostIP)
			if prev, dup := hostPorts[key]; dup {
				v.add(pp+".hostPort", "%d/%s already used by %s", pt.HostPort, proto, prev)
			}
			hostPorts[key] = pp
		}
	}

	v.resources(fp+".resources", &c.Resources)

	mountPaths := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mp := fmt.Sprintf("%s.volumeMounts[%d]", fp, i)
		if _, ok := vols[m.Name]; !ok {
			v.add(mp+".name", "volume %q is not declared in spec.volumes", m.Name)
		}
		switch {
		case !path.IsAbs(m.MountPath):
			v.add(mp+".mountPath", "%q must be an absolute path", m.MountPath)
		case hasDotDot(m.MountPath):
			v.add(mp+".mountPath", "%q must not contain '..'", m.MountPath)
		}
		clean := path.Clean(m.MountPath)
		if mountPaths[clean] {
			v.add(mp+".mountPath", "%q is mounted twice", m.MountPath)
		}
		mountPaths[clean] = true
		if m.SubPath != "" {
			if path.IsAbs(m.SubPath) {
				v.add(mp+".subPath", "%q must be a relative path", m.SubPath)
			} else if hasDotDot(m.SubPath) {
				v.add(mp+".subPath", "%q must not contain '..'", m.SubPath)
			}
		}
	}

	if sc := c.SecurityContext; sc != nil {
		sp := fp + ".securityContext"
		user := sc.RunAsUser
		if user == nil && s.SecurityContext != nil {
			user = s.SecurityContext.RunAsUser
		}
		v.ids(sp, sc.RunAsUser, sc.RunAsGroup, nil)
		v.seccomp(sp+".seccompProfile", sc.SeccompProfile)
		if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && user != nil && *user == 0 {
			v.add(sp+".runAsNonRoot", "true contradicts runAsUser 0")
		}
		priv := sc.Privileged != nil && *sc.Privileged
		noEsc := sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
		if priv && noEsc {
			v.add(sp+".allowPrivilegeEscalation", "cannot be false when privileged is true")
		}
		if cp := sc.Capabilities; cp != nil {
			for i, n := range cp.Add {
				name, ok := CapabilityName(n)
				if !ok {
					v.add(fmt.Sprintf("%s.capabilities.add[%d]", sp, i), "unknown capability %q", n)
				} else if noEsc && name == "CAP_SYS_ADMIN" {
					v.add(fmt.Sprintf("%s.capabilities.add[%d]", sp, i), "CAP_SYS_ADMIN cannot be added when allowPrivilegeEscalation is false")
				}
			}
			for i, n := range cp.Drop {
				if _, ok := CapabilityName(n); !ok {
					v.add(fmt.Sprintf("%s.capabilities.drop[%d]", sp, i), "unknown capability %q", n)
				}
			}
		}
	}

	switch {
	case c.RestartPolicy == "":
	case !isInit:
		v.add(fp+".restartPolicy", "may not be set for non-init containers")
	case c.RestartPolicy != ContainerRestartPolicyAlways:
		v.add(fp+".restartPolicy", "%q is not supported (only Always, for a sidecar)", c.RestartPolicy)
	}
	// Probes and hooks need a container that keeps running: app
	// containers and sidecars, not init containers that run to completion.
	regularInit := isInit && !c.Sidecar()
	probes := []struct {
		name string
		p    *Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	for _, pr := range probes {
		if pr.p == nil {
			continue
		}
		if regularInit {
			v.add(fp+"."+pr.name, "may not be set for init containers without restartPolicy=Always")
			continue
		}
		v.probe(fp+"."+pr.name, pr.p, pr.name != "readinessProbe", c)
	}
	if l := c.Lifecycle; l != nil {
		if regularInit {
			v.add(fp+".lifecycle", "may not be set for init containers without restartPolicy=Always")
		} else {
			grace := int64(DefaultTerminationGracePeriodSeconds)
			if s.TerminationGracePeriodSeconds != nil {
				grace = *s.TerminationGracePeriodSeconds
			}
			v.lifecycleHandler(fp+".lifecycle.postStart", l.PostStart, c, grace)
			v.lifecycleHandler(fp+".lifecycle.preStop", l.PreStop, c, grace)
		}
	}
}

// validEnvName is Kubernetes' relaxed rule: printable ASCII other than '='
// (a control character or a newline would corrupt the environment block
// and what is logged of it).
func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < ' ' || c > '~' || c == '=' {
			return false
		}
	}
	return true
}

func validPortName(n string) bool {
	return len(n) <= 15 && ianaSvcName.MatchString(n) && !strings.Contains(n, "--") &&
		strings.ContainsAny(n, "abcdefghijklmnopqrstuvwxyz")
}

func (v *validator) resources(fp string, r *ResourceRequirements) {
	check := func(kind string, m map[string]string) map[string]int64 {
		out := map[string]int64{}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			q := m[k]
			kp := fp + "." + kind + "." + k
			var (
				n   int64
				err error
			)
			switch k {
			case ResourceCPU:
				n, err = ParseCPU(q)
			case ResourceMemory, ResourceEphemeralStorage:
				n, err = ParseBytes(q)
			default:
				v.add(kp, "resource %q is not supported by podrun (cpu, memory, ephemeral-storage)", k)
				continue
			}
			if err != nil {
				v.add(kp, "%v", err)
				continue
			}
			out[k] = n
		}
		return out
	}
	lim := check("limits", r.Limits)
	req := check("requests", r.Requests)
	for _, k := range slices.Sorted(maps.Keys(req)) {
		rq := req[k]
		if l, ok := lim[k]; ok && rq > l {
			v.add(fp+".requests."+k, "must be less than or equal to the %s limit", k)
		}
	}
	if l, ok := lim[ResourceMemory]; ok && l > 0 && l < 1<<20 {
		v.add(fp+".limits.memory", "%d bytes is too small to run a container (at least 1Mi)", l)
	}
}

// portRef checks a probe or hook port: a number 1..65535 or the name of one
// of the container's ports.
func (v *validator) portRef(fp string, p IntOrString, c *Container) {
	if !p.IsString {
		if p.IntVal < 1 || p.IntVal > 65535 {
			v.add(fp, "must be 1..65535")
		}
		return
	}
	if !validPortName(p.StrVal) {
		v.add(fp, "%q must be a port number or an IANA service name", p.StrVal)
		return
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return
		}
	}
	v.add(fp, "%q is not the name of one of the container's ports", p.StrVal)
}

func (v *validator) httpGet(fp string, h *HTTPGetAction, c *Container) {
	v.portRef(fp+".port", h.Port, c)
	switch h.Scheme {
	case "", URISchemeHTTP, URISchemeHTTPS:
	default:
		v.add(fp+".scheme", "%q must be HTTP or HTTPS", h.Scheme)
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.add(fp+".path", "%q must start with '/'", h.Path)
	}
	if strings.ContainsAny(h.Path, " \r\n\x00") {
		v.add(fp+".path", "must not contain spaces or control characters")
	}
	if h.Host != "" && strings.ContainsAny(h.Host, "/ @") {
		v.add(fp+".host", "%q is not a host name or address", h.Host)
	}
	for i, hd := range h.HTTPHeaders {
		if !validHeaderName(hd.Name) {
			v.add(fmt.Sprintf("%s.httpHeaders[%d].name", fp, i), "%q is not a valid HTTP header name", hd.Name)
		}
		if strings.ContainsAny(hd.Value, "\r\n\x00") {
			v.add(fmt.Sprintf("%s.httpHeaders[%d].value", fp, i), "must not contain line breaks")
		}
	}
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if r > 127 || !strings.ContainsRune("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r) {
			return false
		}
	}
	return http.CanonicalHeaderKey(n) != ""
}

func (v *validator) probe(fp string, p *Probe, mustSucceedOnce bool, c *Container) {
	n := 0
	if p.Exec != nil {
		n++
		if len(p.Exec.Command) == 0 {
			v.add(fp+".exec.command", "required")
		}
	}
	if p.HTTPGet != nil {
		n++
		v.httpGet(fp+".httpGet", p.HTTPGet, c)
	}
	if p.TCPSocket != nil {
		n++
		v.portRef(fp+".tcpSocket.port", p.TCPSocket.Port, c)
	}
	if p.GRPC != nil {
		n++
		if p.GRPC.Port < 1 || p.GRPC.Port > 65535 {
			v.add(fp+".grpc.port", "must be 1..65535")
		}
	}
	if n != 1 {
		v.add(fp, "exactly one handler (exec, httpGet, tcpSocket, grpc) is required")
	}
	for _, f := range []struct {
		name string
		val  int32
	}{{"initialDelaySeconds", p.InitialDelaySeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds}, {"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold}} {
		if f.val < 0 {
			v.add(fp+"."+f.name, "must not be negative")
		}
	}
	if mustSucceedOnce && p.SuccessThreshold > 1 {
		v.add(fp+".successThreshold", "must be 1")
	}
	if g := p.TerminationGracePeriodSeconds; g != nil {
		if !mustSucceedOnce {
			v.add(fp+".terminationGracePeriodSeconds", "only allowed for liveness and startup probes")
		} else if *g <= 0 {
			v.add(fp+".terminationGracePeriodSeconds", "must be positive")
		}
	}
}

func (v *validator) lifecycleHandler(fp string, h *LifecycleHandler, c *Container, grace int64) {
	if h == nil {
		return
	}
	n := 0
	if h.Exec != nil {
		n++
		if len(h.Exec.Command) == 0 {
			v.add(fp+".exec.command", "required")
		}
	}
	if h.HTTPGet != nil {
		n++
		v.httpGet(fp+".httpGet", h.HTTPGet, c)
	}
	if h.TCPSocket != nil {
		n++
		v.add(fp+".tcpSocket", "not supported as a lifecycle handler (as in Kubernetes)")
	}
	if h.Sleep != nil {
		n++
		if h.Sleep.Seconds <= 0 || h.Sleep.Seconds > grace {
			v.add(fp+".sleep.seconds", "must be 1..terminationGracePeriodSeconds (%d)", grace)
		}
	}
	if n != 1 {
		v.add(fp, "exactly one handler (exec, httpGet, sleep) is required")
	}
}
