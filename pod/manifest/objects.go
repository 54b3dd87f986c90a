package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/podrun/podrun/internal/userfile"
)

// ConfigMap is v1.ConfigMap.
type ConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	// BinaryData is base64 in the manifest (checked by Parse).
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
	// Immutable means nothing on one host (objects never change here).
	Immutable *bool `json:"immutable,omitempty"`
}

// Secret is v1.Secret; StringData is merged into Data by ParseStream, as
// the apiserver does on write (StringData wins).
type Secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
	Immutable  *bool             `json:"immutable,omitempty"`
}

// PersistentVolumeClaim is v1.PersistentVolumeClaim, parsed and kept for
// persistentVolumeClaim volumes (which podrun does not implement yet).
type PersistentVolumeClaim struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       PVCSpec    `json:"spec"`
	// Status is the cluster's; dropped as a Pod's is.
	Status map[string]any `json:"status,omitempty"`
}

// PVCSpec is v1.PersistentVolumeClaimSpec.
type PVCSpec struct {
	AccessModes               []string             `json:"accessModes,omitempty"`
	Resources                 ResourceRequirements `json:"resources,omitempty"`
	StorageClassName          *string              `json:"storageClassName,omitempty"`
	VolumeMode                *string              `json:"volumeMode,omitempty"`
	VolumeName                string               `json:"volumeName,omitempty"`
	VolumeAttributesClassName *string              `json:"volumeAttributesClassName,omitempty"`
	Selector                  map[string]any       `json:"selector,omitempty"`
	DataSource                map[string]any       `json:"dataSource,omitempty"`
	DataSourceRef             map[string]any       `json:"dataSourceRef,omitempty"`
}

// KeyToPath maps one key of a ConfigMap or Secret to a file of a volume.
type KeyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
	Mode *int32 `json:"mode,omitempty"`
}

// ConfigMapVolumeSource is v1.ConfigMapVolumeSource.
type ConfigMapVolumeSource struct {
	Name        string      `json:"name,omitempty"`
	Items       []KeyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
	Optional    *bool       `json:"optional,omitempty"`
}

// SecretVolumeSource is v1.SecretVolumeSource.
type SecretVolumeSource struct {
	SecretName  string      `json:"secretName,omitempty"`
	Items       []KeyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
	Optional    *bool       `json:"optional,omitempty"`
}

// DownwardAPIVolumeFile is v1.DownwardAPIVolumeFile.
type DownwardAPIVolumeFile struct {
	Path             string                 `json:"path"`
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	Mode             *int32                 `json:"mode,omitempty"`
}

// DownwardAPIVolumeSource is v1.DownwardAPIVolumeSource.
type DownwardAPIVolumeSource struct {
	Items       []DownwardAPIVolumeFile `json:"items,omitempty"`
	DefaultMode *int32                  `json:"defaultMode,omitempty"`
}

// ProjectedVolumeSource is v1.ProjectedVolumeSource.
type ProjectedVolumeSource struct {
	Sources     []VolumeProjection `json:"sources"`
	DefaultMode *int32             `json:"defaultMode,omitempty"`
}

// VolumeProjection is one source of a projected volume. A service account
// token or a cluster trust bundle needs an API server: refused.
type VolumeProjection struct {
	ConfigMap   *ConfigMapProjection   `json:"configMap,omitempty"`
	Secret      *SecretProjection      `json:"secret,omitempty"`
	DownwardAPI *DownwardAPIProjection `json:"downwardAPI,omitempty"`

	ServiceAccountToken json.RawMessage `json:"serviceAccountToken,omitempty" podrun:"unsupported"`
	ClusterTrustBundle  json.RawMessage `json:"clusterTrustBundle,omitempty" podrun:"unsupported"`
	PodCertificate      json.RawMessage `json:"podCertificate,omitempty" podrun:"unsupported"`
}

// ConfigMapProjection is v1.ConfigMapProjection.
type ConfigMapProjection struct {
	Name     string      `json:"name,omitempty"`
	Items    []KeyToPath `json:"items,omitempty"`
	Optional *bool       `json:"optional,omitempty"`
}

// SecretProjection is v1.SecretProjection.
type SecretProjection struct {
	Name     string      `json:"name,omitempty"`
	Items    []KeyToPath `json:"items,omitempty"`
	Optional *bool       `json:"optional,omitempty"`
}

// DownwardAPIProjection is v1.DownwardAPIProjection.
type DownwardAPIProjection struct {
	Items []DownwardAPIVolumeFile `json:"items,omitempty"`
}

// ConfigMapKeySelector is v1.ConfigMapKeySelector.
type ConfigMapKeySelector struct {
	Name     string `json:"name,omitempty"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// SecretKeySelector is v1.SecretKeySelector.
type SecretKeySelector struct {
	Name     string `json:"name,omitempty"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// EnvFromSource is v1.EnvFromSource.
type EnvFromSource struct {
	Prefix       string              `json:"prefix,omitempty"`
	ConfigMapRef *ConfigMapEnvSource `json:"configMapRef,omitempty"`
	SecretRef    *SecretEnvSource    `json:"secretRef,omitempty"`
}

// ConfigMapEnvSource is v1.ConfigMapEnvSource.
type ConfigMapEnvSource struct {
	Name     string `json:"name,omitempty"`
	Optional *bool  `json:"optional,omitempty"`
}

// SecretEnvSource is v1.SecretEnvSource.
type SecretEnvSource struct {
	Name     string `json:"name,omitempty"`
	Optional *bool  `json:"optional,omitempty"`
}

// DefaultVolumeMode is the apiserver's defaultMode of configMap, secret,
// downwardAPI and projected volumes (0644).
const DefaultVolumeMode int32 = 0o644

// defaults sets the defaultMode of an object volume, as the apiserver.
func (v *Volume) defaults() {
	var m **int32
	switch {
	case v.ConfigMap != nil:
		m = &v.ConfigMap.DefaultMode
	case v.Secret != nil:
		m = &v.Secret.DefaultMode
	case v.DownwardAPI != nil:
		m = &v.DownwardAPI.DefaultMode
	case v.Projected != nil:
		m = &v.Projected.DefaultMode
	default:
		return
	}
	if *m == nil {
		d := DefaultVolumeMode
		*m = &d
	}
}

// Objects are the ConfigMaps and Secrets a pod may reference (from its
// YAML stream and from --configmap/--secret), by name.
type Objects struct {
	ConfigMaps map[string]*ConfigMap `json:"configMaps,omitempty"`
	Secrets    map[string]*Secret    `json:"secrets,omitempty"`
}

// Stream is what ParseStream found: the Pod and the objects beside it.
type Stream struct {
	Pod     *Pod
	Objects Objects
	// PersistentVolumeClaims are kept for a later PVC implementation.
	PersistentVolumeClaims []*PersistentVolumeClaim
}

// maxObjectData is the apiserver's limit on a ConfigMap's or a Secret's
// data (MaxSecretSize, and the same for ConfigMaps).
const maxObjectData = 1 << 20

// ParseStream reads a YAML stream (documents separated by "---") or one
// JSON object holding exactly one Pod and any number of ConfigMaps,
// Secrets and PersistentVolumeClaims, each decoded as strictly as Parse
// decodes a Pod; the objects are validated (names, keys, sizes). The Pod is
// neither defaulted nor validated: call Default then Validate.
func ParseStream(data []byte) (*Stream, error) {
	if len(data) > maxManifest {
		return nil, &FieldError{Msg: "manifest " + userfile.ErrTooLarge.Error()}
	}
	docs := [][]byte{data}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		docs = splitYAML(data)
	}
	st := &Stream{}
	for i, doc := range docs {
		kind, err := peekKind(doc)
		if err != nil {
			return nil, docError(i, len(docs), err)
		}
		switch kind {
		case "Pod":
			if st.Pod != nil {
				return nil, docError(i, len(docs), &FieldError{Path: "kind", Msg: "a second Pod: want exactly one"})
			}
			if st.Pod, err = Parse(doc); err != nil {
				return nil, docError(i, len(docs), err)
			}
		case "ConfigMap", "Secret":
			if err := st.Objects.add(doc); err != nil {
				return nil, docError(i, len(docs), err)
			}
		case "PersistentVolumeClaim":
			pvc := &PersistentVolumeClaim{}
			if err := parseObject(doc, kind, pvc); err != nil {
				return nil, docError(i, len(docs), err)
			}
			pvc.Status = nil
			v := &validator{}
			v.objectMeta(&pvc.Metadata)
			if err := v.errs.err(); err != nil {
				return nil, docError(i, len(docs), err)
			}
			st.PersistentVolumeClaims = append(st.PersistentVolumeClaims, pvc)
		default:
			return nil, docError(i, len(docs), &FieldError{Path: "kind", Msg: fmt.Sprintf("%q is not one of Pod, ConfigMap, Secret, PersistentVolumeClaim", kind)})
		}
	}
	if st.Pod == nil {
		return nil, &FieldError{Msg: "no Pod in the manifest: want exactly one"}
	}
	return st, nil
}

// AddObject parses one ConfigMap or Secret document (YAML or JSON), as
// --configmap and --secret give them, into o; want is the kind expected.
func (o *Objects) AddObject(data []byte, want string) error {
	if len(data) > maxManifest {
		return &FieldError{Msg: fmt.Sprintf("larger than %d bytes", maxManifest)}
	}
	docs := [][]byte{data}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		docs = splitYAML(data)
	}
	if len(docs) != 1 {
		return &FieldError{Msg: fmt.Sprintf("%d documents: want one %s", len(docs), want)}
	}
	kind, err := peekKind(docs[0])
	if err != nil {
		return err
	}
	if kind != want {
		return &FieldError{Path: "kind", Msg: fmt.Sprintf("must be %s, not %q", want, kind)}
	}
	return o.add(docs[0])
}

// add parses a ConfigMap or Secret document into o.
func (o *Objects) add(doc []byte) error {
	kind, err := peekKind(doc)
	if err != nil {
		return err
	}
	v := &validator{}
	switch kind {
	case "ConfigMap":
		cm := &ConfigMap{}
		if err := parseObject(doc, kind, cm); err != nil {
			return err
		}
		v.objectMeta(&cm.Metadata)
		v.objectData(cm.Data, cm.BinaryData)
		if o.ConfigMaps[cm.Metadata.Name] != nil {
			v.add("metadata.name", "ConfigMap %q given twice", cm.Metadata.Name)
		}
		if err := v.errs.err(); err != nil {
			return err
		}
		if o.ConfigMaps == nil {
			o.ConfigMaps = map[string]*ConfigMap{}
		}
		o.ConfigMaps[cm.Metadata.Name] = cm
	case "Secret":
		s := &Secret{}
		if err := parseObject(doc, kind, s); err != nil {
			return err
		}
		if len(s.StringData) > 0 && s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, val := range s.StringData {
			s.Data[k] = []byte(val)
		}
		s.StringData = nil
		if s.Type == "" {
			s.Type = "Opaque"
		}
		v.objectMeta(&s.Metadata)
		v.objectData(nil, s.Data)
		v.secretType(s)
		if o.Secrets[s.Metadata.Name] != nil {
			v.add("metadata.name", "Secret %q given twice", s.Metadata.Name)
		}
		if err := v.errs.err(); err != nil {
			return err
		}
		if o.Secrets == nil {
			o.Secrets = map[string]*Secret{}
		}
		o.Secrets[s.Metadata.Name] = s
	default:
		return &FieldError{Path: "kind", Msg: fmt.Sprintf("must be ConfigMap or Secret, not %q", kind)}
	}
	return nil
}

// CheckNamespace refuses objects of another namespace than the pod's:
// references never cross namespaces.
func (o *Objects) CheckNamespace(ns string) error {
	for _, n := range slices.Sorted(maps.Keys(o.ConfigMaps)) {
		if m := o.ConfigMaps[n].Metadata.Namespace; m != "" && m != ns {
			return &FieldError{Path: "ConfigMap " + n + ".metadata.namespace", Msg: fmt.Sprintf("%q is not the pod's namespace %q", m, ns)}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(o.Secrets)) {
		if m := o.Secrets[n].Metadata.Namespace; m != "" && m != ns {
			return &FieldError{Path: "Secret " + n + ".metadata.namespace", Msg: fmt.Sprintf("%q is not the pod's namespace %q", m, ns)}
		}
	}
	return nil
}

func docError(i, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("document %d: %w", i+1, err)
}

// peekKind returns the kind of one document.
func peekKind(doc []byte) (string, error) {
	obj, err := decodeDocument(doc)
	if err != nil {
		return "", err
	}
	k, _ := obj["kind"].(string)
	return k, nil
}

// parseObject decodes one document strictly into out (a pointer to a
// struct with APIVersion and Kind), checking apiVersion v1 and kind.
func parseObject(doc []byte, kind string, out any) error {
	obj, err := decodeDocument(doc)
	if err != nil {
		return err
	}
	if v, _ := obj["apiVersion"].(string); v != "v1" {
		return &FieldError{"apiVersion", fmt.Sprintf("must be v1, not %q", v)}
	}
	if k, _ := obj["kind"].(string); k != kind {
		return &FieldError{"kind", fmt.Sprintf("must be %s, not %q", kind, k)}
	}
	return strictUnmarshal(obj, reflect.TypeOf(out).Elem(), out)
}

// isConfigMapKey is the apiserver's IsConfigMapKey: a file name usable as
// a volume entry ([-._a-zA-Z0-9]+, at most 253, not "." or ".." nor
// starting with "..").
func isConfigMapKey(k string) bool {
	if k == "" || len(k) > 253 || k == "." || strings.HasPrefix(k, "..") {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (v *validator) objectMeta(m *ObjectMeta) {
	if m.Name == "" {
		v.add("metadata.name", "required")
	} else if len(m.Name) > 253 || !dns1123Subdomain.MatchString(m.Name) {
		v.add("metadata.name", "%q must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')", m.Name)
	}
	if m.Namespace != "" {
		v.label("metadata.namespace", m.Namespace)
	}
}

// objectData checks the keys (valid, not in both maps) and the size.
func (v *validator) objectData(data map[string]string, bin map[string][]byte) {
	size := 0
	for _, k := range slices.Sorted(maps.Keys(data)) {
		size += len(k) + len(data[k])
		if !isConfigMapKey(k) {
			v.add("data."+k, "%q is not a valid key (letters, digits, '-', '_', '.'; not '..')", k)
		}
	}
	name := "binaryData"
	if data == nil {
		name = "data" // a Secret's
	}
	for _, k := range slices.Sorted(maps.Keys(bin)) {
		size += len(k) + len(bin[k])
		if !isConfigMapKey(k) {
			v.add(name+"."+k, "%q is not a valid key (letters, digits, '-', '_', '.'; not '..')", k)
		}
		if _, dup := data[k]; dup {
			v.add(name+"."+k, "duplicate of data.%s", k)
		}
	}
	if size > maxObjectData {
		v.add(name, "%d bytes of data: at most %d", size, maxObjectData)
	}
}

// secretType checks the keys the apiserver requires of the built-in types.
func (v *validator) secretType(s *Secret) {
	need := map[string][]string{
		"kubernetes.io/tls":              {"tls.crt", "tls.key"},
		"kubernetes.io/basic-auth":       {},
		"kubernetes.io/ssh-auth":         {"ssh-privatekey"},
		"kubernetes.io/dockerconfigjson": {".dockerconfigjson"},
		"kubernetes.io/dockercfg":        {".dockercfg"},
	}[s.Type]
	for _, k := range need {
		if _, ok := s.Data[k]; !ok {
			v.add("data["+k+"]", "required for type %s", s.Type)
		}
	}
}

// ConfigMap returns the ConfigMap name; a missing one is an error worded
// as kubelet's (`configmap "name" not found`) unless optional, which
// gives nil.
func (o *Objects) ConfigMap(name string, optional *bool) (*ConfigMap, error) {
	if o != nil && o.ConfigMaps[name] != nil {
		return o.ConfigMaps[name], nil
	}
	if optional != nil && *optional {
		return nil, nil
	}
	return nil, fmt.Errorf("configmap %q not found", name)
}

// Secret is ConfigMap for Secrets.
func (o *Objects) Secret(name string, optional *bool) (*Secret, error) {
	if o != nil && o.Secrets[name] != nil {
		return o.Secrets[name], nil
	}
	if optional != nil && *optional {
		return nil, nil
	}
	return nil, fmt.Errorf("secret %q not found", name)
}

// keyRef resolves a configMapKeyRef or secretKeyRef as kubelet does: ok is
// false for an optional reference that is missing (the variable is left
// out).
func (o *Objects) keyRef(s *EnvVarSource, ns string) (string, bool, error) {
	if r := s.ConfigMapKeyRef; r != nil {
		cm, err := o.ConfigMap(r.Name, r.Optional)
		if cm == nil || err != nil {
			return "", false, err
		}
		if val, ok := cm.Data[r.Key]; ok {
			return val, true, nil
		}
		if r.Optional != nil && *r.Optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, ns, r.Name)
	}
	r := s.SecretKeyRef
	sec, err := o.Secret(r.Name, r.Optional)
	if sec == nil || err != nil {
		return "", false, err
	}
	if val, ok := sec.Data[r.Key]; ok {
		return string(val), true, nil
	}
	if r.Optional != nil && *r.Optional {
		return "", false, nil
	}
	return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, ns, r.Name)
}

// envFromData is the data an envFrom source adds: a ConfigMap's data (not
// its binaryData), a Secret's data.
func (o *Objects) envFromData(ef EnvFromSource) (map[string]string, error) {
	if r := ef.ConfigMapRef; r != nil {
		cm, err := o.ConfigMap(r.Name, r.Optional)
		if cm == nil {
			return nil, err
		}
		return cm.Data, nil
	}
	if r := ef.SecretRef; r != nil {
		s, err := o.Secret(r.Name, r.Optional)
		if s == nil {
			return nil, err
		}
		out := make(map[string]string, len(s.Data))
		for k, val := range s.Data {
			out[k] = string(val)
		}
		return out, nil
	}
	return nil, nil
}
