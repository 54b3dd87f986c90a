package manifest

import (
	"fmt"
	"strings"
)

// Validation of the ConfigMap, Secret, downward API and projected volume
// sources and of the env references to ConfigMaps and Secrets, as the
// apiserver's validateConfigMapVolumeSource, validateSecretVolumeSource,
// validateDownwardAPIVolumeSource, validateProjectedVolumeSource,
// validateEnvVarValueFrom and validateEnvFrom.

// objectVolume checks vol's ConfigMap, Secret, DownwardAPI and Projected
// sources and returns how many are set.
func (v *validator) objectVolume(fp string, vol *Volume) int {
	n := 0
	if s := vol.ConfigMap; s != nil {
		n++
		v.objectRefName(fp+".configMap.name", s.Name)
		v.mode(fp+".configMap.defaultMode", s.DefaultMode)
		v.items(fp+".configMap.items", s.Items, nil)
	}
	if s := vol.Secret; s != nil {
		n++
		v.objectRefName(fp+".secret.secretName", s.SecretName)
		v.mode(fp+".secret.defaultMode", s.DefaultMode)
		v.items(fp+".secret.items", s.Items, nil)
	}
	if s := vol.DownwardAPI; s != nil {
		n++
		v.mode(fp+".downwardAPI.defaultMode", s.DefaultMode)
		v.downwardItems(fp+".downwardAPI.items", s.Items, nil)
	}
	if s := vol.Projected; s != nil {
		n++
		pp := fp + ".projected"
		v.mode(pp+".defaultMode", s.DefaultMode)
		paths := map[string]bool{}
		for i, src := range s.Sources {
			sp := fmt.Sprintf("%s.sources[%d]", pp, i)
			k := 0
			if c := src.ConfigMap; c != nil {
				k++
				v.objectRefName(sp+".configMap.name", c.Name)
				v.items(sp+".configMap.items", c.Items, paths)
			}
			if c := src.Secret; c != nil {
				k++
				v.objectRefName(sp+".secret.name", c.Name)
				v.items(sp+".secret.items", c.Items, paths)
			}
			if c := src.DownwardAPI; c != nil {
				k++
				v.downwardItems(sp+".downwardAPI.items", c.Items, paths)
			}
			// serviceAccountToken and clusterTrustBundle are raw and
			// refused by Validate's generic pass, naming the field.
			if present(src.ServiceAccountToken) || present(src.ClusterTrustBundle) || present(src.PodCertificate) {
				k++
			}
			if k != 1 {
				v.add(sp, "exactly one of configMap, secret, downwardAPI is required")
			}
		}
	}
	return n
}

func (v *validator) objectRefName(fp, name string) {
	if name == "" {
		v.add(fp, "required")
	} else if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		v.add(fp, "%q must be a DNS-1123 subdomain", name)
	}
}

func (v *validator) mode(fp string, m *int32) {
	if m != nil && (*m < 0 || *m > 0o777) {
		v.add(fp, "%d must be a file mode 0..0777 (0..511)", *m)
	}
}

// filePath is the apiserver's validateLocalNonReservedPath: relative, no
// "..", not starting with "..". paths (when not nil) collects the paths of
// one projected volume, which must not repeat.
func (v *validator) filePath(fp, p string, paths map[string]bool) {
	switch {
	case p == "":
		v.add(fp, "required")
	case strings.HasPrefix(p, "/"):
		v.add(fp, "%q must be a relative path", p)
	case hasDotDot(p):
		v.add(fp, "%q must not contain '..'", p)
	case strings.HasPrefix(p, ".."):
		v.add(fp, "%q must not start with '..'", p)
	case len(p) > 4096:
		v.add(fp, "longer than 4096 bytes")
	}
	if paths != nil {
		if paths[p] {
			v.add(fp, "conflicting duplicate path %q", p)
		}
		paths[p] = true
	}
}

func (v *validator) items(fp string, items []KeyToPath, paths map[string]bool) {
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", fp, i)
		if !isConfigMapKey(it.Key) {
			v.add(ip+".key", "%q is not a valid key", it.Key)
		}
		v.filePath(ip+".path", it.Path, paths)
		v.mode(ip+".mode", it.Mode)
	}
}

// volumeFieldPath reports whether a downward API volume may expose path:
// metadata only (kubelet's validVolumeDownwardAPIFieldPathExpressions).
func volumeFieldPath(path string) bool {
	switch path {
	case "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations":
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

func (v *validator) downwardItems(fp string, items []DownwardAPIVolumeFile, paths map[string]bool) {
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", fp, i)
		v.filePath(ip+".path", it.Path, paths)
		v.mode(ip+".mode", it.Mode)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			v.add(ip, "fieldRef and resourceFieldRef may not both be given")
		case it.FieldRef != nil:
			if a := it.FieldRef.APIVersion; a != "" && a != "v1" {
				v.add(ip+".fieldRef.apiVersion", "must be v1")
			}
			if !volumeFieldPath(it.FieldRef.FieldPath) {
				v.add(ip+".fieldRef.fieldPath", "%q is not supported in a volume (metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, metadata.labels['k'], metadata.annotations['k'])", it.FieldRef.FieldPath)
			}
		case it.ResourceFieldRef != nil:
			if it.ResourceFieldRef.ContainerName == "" {
				v.add(ip+".resourceFieldRef.containerName", "required in a volume")
			}
			v.resourceField(ip+".resourceFieldRef", it.ResourceFieldRef)
		default:
			v.add(ip, "fieldRef or resourceFieldRef is required")
		}
	}
}

// keyRefs checks an env valueFrom that is neither a fieldRef nor a
// resourceFieldRef.
func (v *validator) keyRefs(fp string, s *EnvVarSource) {
	switch {
	case s.ConfigMapKeyRef != nil && s.SecretKeyRef != nil:
		v.add(fp, "may not have more than one source")
	case s.ConfigMapKeyRef != nil:
		v.objectRefName(fp+".configMapKeyRef.name", s.ConfigMapKeyRef.Name)
		if !isConfigMapKey(s.ConfigMapKeyRef.Key) {
			v.add(fp+".configMapKeyRef.key", "%q is not a valid key", s.ConfigMapKeyRef.Key)
		}
	case s.SecretKeyRef != nil:
		v.objectRefName(fp+".secretKeyRef.name", s.SecretKeyRef.Name)
		if !isConfigMapKey(s.SecretKeyRef.Key) {
			v.add(fp+".secretKeyRef.key", "%q is not a valid key", s.SecretKeyRef.Key)
		}
	default:
		v.add(fp, "a source is required")
	}
}

// EnvVarName is the apiserver's relaxed environment variable name rule
// (RelaxedEnvironmentVariableValidation, on by default since 1.32):
// printable ASCII but '='. kubelet skips envFrom keys that break it.
func EnvVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 || s[i] == '=' {
			return false
		}
	}
	return true
}

func (v *validator) envFrom(fp string, list []EnvFromSource) {
	for i, e := range list {
		ep := fmt.Sprintf("%s.envFrom[%d]", fp, i)
		if e.Prefix != "" && !EnvVarName(e.Prefix) {
			v.add(ep+".prefix", "%q is not a valid environment variable name", e.Prefix)
		}
		switch {
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			v.add(ep, "may not have more than one source")
		case e.ConfigMapRef != nil:
			v.objectRefName(ep+".configMapRef.name", e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			v.objectRefName(ep+".secretRef.name", e.SecretRef.Name)
		default:
			v.add(ep, "configMapRef or secretRef is required")
		}
	}
}
