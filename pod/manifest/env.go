package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FieldValues are the facts the downward API needs that only exist once the
// pod runs on this host.
type FieldValues struct {
	NodeName string
	HostIP   string
	PodIP    string
	PodIPs   []string
	HostIPs  []string
	// Node gives the node's allocatable resources (resourceFieldRef); it
	// reads the host, so it is asked only when a reference needs it.
	Node func() NodeAllocatable
	// Objects are the ConfigMaps and Secrets given with the pod
	// (configMapKeyRef, secretKeyRef, envFrom); nil is none.
	Objects *Objects
}

// SupportedFieldPath reports whether podrun can resolve an env fieldRef path
// on one host.
func SupportedFieldPath(path string) bool {
	switch path {
	case "metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.serviceAccountName",
		"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return true
	}
	if k, ok := subscript(path, "metadata.labels"); ok {
		return k != ""
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return k != ""
	}
	return false
}

// subscript splits `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// FieldRef resolves a downward-API field path for the pod, as kubelet's
// podFieldSelectorRuntimeValue does (podIPs and hostIPs joined by ",").
func (p *Pod) FieldRef(path string, v FieldValues) (string, error) {
	switch path {
	case "metadata.name":
		return p.Metadata.Name, nil
	case "metadata.namespace":
		return p.Metadata.Namespace, nil
	case "metadata.uid":
		return p.Metadata.UID, nil
	case "spec.nodeName":
		if p.Spec.NodeName != "" {
			return p.Spec.NodeName, nil
		}
		return v.NodeName, nil
	case "spec.serviceAccountName":
		return "", nil
	case "status.podIP":
		return v.PodIP, nil
	case "status.podIPs":
		if len(v.PodIPs) == 0 && v.PodIP != "" {
			return v.PodIP, nil
		}
		return strings.Join(v.PodIPs, ","), nil
	case "status.hostIP":
		return v.HostIP, nil
	case "status.hostIPs":
		if len(v.HostIPs) == 0 && v.HostIP != "" {
			return v.HostIP, nil
		}
		return strings.Join(v.HostIPs, ","), nil
	}
	if k, ok := subscript(path, "metadata.labels"); ok {
		return p.Metadata.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return p.Metadata.Annotations[k], nil
	}
	return "", fmt.Errorf("%w: unsupported fieldRef %q", ErrInvalid, path)
}

// Environment returns the container's environment as the container sees
// it ("NAME=value"): the image's config Env (imageEnv) overridden by the
// manifest's entries (ContainerEnv), as containerd's CRI merges them.
func (p *Pod) Environment(c *Container, imageEnv []string, v FieldValues) ([]string, error) {
	env, err := p.ContainerEnv(c, v)
	if err != nil {
		return nil, err
	}
	return MergeEnv(imageEnv, env), nil
}

// ContainerEnv returns the manifest's environment of c in order
// ("NAME=value"), with fieldRefs resolved and $(VAR) references expanded
// against the entries defined before them. The image's Env takes no part:
// kubelet (kubelet_pods.go makeEnvironmentVariables) expands from the
// container's own entries only, so $(PATH) stays literal unless the
// manifest sets PATH. Command and args expand against this list too.
func (p *Pod) ContainerEnv(c *Container, v FieldValues) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, val string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = val
	}
	// envFrom first, env overrides (kubelet's makeEnvironmentVariables).
	// kubelet skips keys that are not valid variable names, with an
	// event; under the relaxed rule (the default since 1.32) every valid
	// key with a valid prefix is one (kubernetes#130099), so none is.
	for _, ef := range c.EnvFrom {
		data, err := v.Objects.envFromData(ef)
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			set(ef.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		var val string
		switch {
		case e.ValueFrom != nil && (e.ValueFrom.ConfigMapKeyRef != nil || e.ValueFrom.SecretKeyRef != nil):
			s, ok, err := v.Objects.keyRef(e.ValueFrom, p.Metadata.Namespace)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // optional and missing: not set at all
			}
			val = s
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			s, err := p.FieldRef(e.ValueFrom.FieldRef.FieldPath, v)
			if err != nil {
				return nil, err
			}
			val = s
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			var node NodeAllocatable
			if v.Node != nil {
				node = v.Node()
			}
			s, err := p.ResourceFieldValue(c, e.ValueFrom.ResourceFieldRef, node)
			if err != nil {
				return nil, err
			}
			val = s
		default:
			val = Expand(e.Value, func(name string) (string, bool) {
				s, ok := vals[name]
				return s, ok
			})
		}
		set(e.Name, val)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// MergeEnv returns base with each "NAME=value" of over replacing base's
// entry of that name in place, or appended in over's order.
func MergeEnv(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	at := map[string]int{}
	for _, kv := range append(slices.Clone(base), over...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
			continue
		}
		at[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Expand replaces $(VAR) with lookup(VAR) as kubelet's expansion does: "$$"
// is a literal "$", and a reference that cannot be resolved is left as
// written.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if val, ok := lookup(name); ok && name != "" {
				b.WriteString(val)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// ExpandCommand expands $(VAR) in command and args against env ("K=V").
func ExpandCommand(argv []string, env []string) []string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = Expand(a, func(n string) (string, bool) { v, ok := m[n]; return v, ok })
	}
	return out
}
