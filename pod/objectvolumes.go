package pod

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/pod/manifest"
)

// The ConfigMaps and Secrets given with a pod are kept, for its whole
// life, in <DataDir>/<uid>/objects/objects.json on a root-only tmpfs:
// container restarts (and a recovered supervisor) resolve env references
// from it, and secrets never reach a disk. Destroy unmounts it.
const (
	objectsDir  = "objects"
	objectsFile = "objects.json"
)

func (sb *Sandbox) objectsPath() string { return filepath.Join(sb.DataDir, objectsDir, objectsFile) }

// saveObjects puts o on the pod's objects tmpfs (nothing when empty).
func (sb *Sandbox) saveObjects(o *manifest.Objects) error {
	if o == nil || len(o.ConfigMaps)+len(o.Secrets) == 0 {
		return nil
	}
	dir := filepath.Join(sb.DataDir, objectsDir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("mounting the objects tmpfs: %w", err)
	}
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(sb.objectsPath(), data, 0o600)
}

// objects are the pod's ConfigMaps and Secrets (none if it was given none).
func (sb *Sandbox) objects() (*manifest.Objects, error) {
	data, err := os.ReadFile(sb.objectsPath())
	if errors.Is(err, os.ErrNotExist) {
		return &manifest.Objects{}, nil
	}
	if err != nil {
		return nil, err
	}
	o := &manifest.Objects{}
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("pod %s: reading %s: %w", sb.Name, objectsFile, err)
	}
	return o, nil
}

// objectVolume reports whether v is written from the pod's objects or its
// metadata (configMap, secret, downwardAPI, projected), and whether on a
// tmpfs: kubelet backs all but configMap with a memory emptyDir.
func objectVolume(v *manifest.Volume) (ok, tmpfs bool) {
	switch {
	case v.ConfigMap != nil:
		return true, false
	case v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
		return true, true
	}
	return false, false
}

// makeObjectVolume writes a configMap, secret, downwardAPI or projected
// volume. A payload it cannot make (a missing ConfigMap, Secret or key
// that is not optional) leaves the volume out: the containers mounting
// it wait with CreateContainerConfigError (volumeMounts asks again), and
// the pod is still made, as kubelet accepts it.
func (m *Manager) makeObjectVolume(sb *Sandbox, v *manifest.Volume, o *manifest.Objects) error {
	payload, err := volumePayload(sb, v, o)
	if err != nil {
		return nil // reported by volumeMounts
	}
	dir := sb.volumeDir(v.Name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		return err
	}
	if _, tmpfs := objectVolume(v); tmpfs {
		// No mode: tmpfs's 1777, the drwxrwxrwt kubelet's are.
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("mounting tmpfs: %w", err)
		}
	} else if err := os.Chmod(dir, 0o777); err != nil { // the emptyDir's mode
		return err
	}
	if err := writeAtomic(dir, payload, m.now()); err != nil {
		return err
	}
	if sc := sb.Pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		// kubelet: these volumes are read-only (GetAttributes), so the
		// group gets read, not write; their plugins pass no change
		// policy, so OnRootMismatch does not apply to them.
		if err := setVolumeOwnership(dir, *sc.FSGroup, manifest.FSGroupChangeAlways, true); err != nil {
			return fmt.Errorf("fsGroup: %w", err)
		}
	}
	return nil
}

// volumePayload is the files of an object volume, as kubelet's
// configmap/secret/downwardapi/projected plugins make them.
func volumePayload(sb *Sandbox, v *manifest.Volume, o *manifest.Objects) (map[string]fileProjection, error) {
	out, err := makePayload(sb, v, o)
	if err != nil {
		return nil, err
	}
	return out, validatePayload(out)
}

func makePayload(sb *Sandbox, v *manifest.Volume, o *manifest.Objects) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		return out, configMapPayload(out, o, s.Name, s.Items, mode(s.DefaultMode), s.Optional)
	case v.Secret != nil:
		s := v.Secret
		return out, secretPayload(out, o, s.SecretName, s.Items, mode(s.DefaultMode), s.Optional)
	case v.DownwardAPI != nil:
		return out, downwardPayload(out, sb, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		def := mode(v.Projected.DefaultMode)
		for i, src := range v.Projected.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = configMapPayload(out, o, src.ConfigMap.Name, src.ConfigMap.Items, def, src.ConfigMap.Optional)
			case src.Secret != nil:
				err = secretPayload(out, o, src.Secret.Name, src.Secret.Items, def, src.Secret.Optional)
			case src.DownwardAPI != nil:
				err = downwardPayload(out, sb, src.DownwardAPI.Items, def)
			default: // refused by Validate
				err = fmt.Errorf("sources[%d]: no supported source", i)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errors.New("not an object volume")
}

// mode is a defaultMode, the apiserver's default when unset (a pod that
// was not defaulted).
func mode(m *int32) int32 {
	if m == nil {
		return manifest.DefaultVolumeMode
	}
	return *m
}

// keyPayload adds data (all keys without items, else the items' keys to
// their paths) to out, as kubelet's MakePayload; what names the object in
// the message of a missing key.
func keyPayload(out map[string]fileProjection, data map[string][]byte, items []manifest.KeyToPath, def int32, optional bool, what string) error {
	if len(items) == 0 {
		for k, d := range data {
			out[k] = fileProjection{Data: d, Mode: def}
		}
		return nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s references non-existent %s key: %s", what, what, it.Key)
		}
		m := def
		if it.Mode != nil {
			m = *it.Mode
		}
		out[it.Path] = fileProjection{Data: d, Mode: m}
	}
	return nil
}

func configMapPayload(out map[string]fileProjection, o *manifest.Objects, name string, items []manifest.KeyToPath, def int32, optional *bool) error {
	cm, err := o.ConfigMap(name, optional)
	if cm == nil {
		return err // nil: optional and missing, an empty volume
	}
	data := maps.Clone(cm.BinaryData)
	if data == nil {
		data = map[string][]byte{}
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return keyPayload(out, data, items, def, optional != nil && *optional, "configmap")
}

func secretPayload(out map[string]fileProjection, o *manifest.Objects, name string, items []manifest.KeyToPath, def int32, optional *bool) error {
	s, err := o.Secret(name, optional)
	if s == nil {
		return err
	}
	return keyPayload(out, s.Data, items, def, optional != nil && *optional, "secret")
}

// downwardPayload adds the downward API files: metadata fields (whole
// labels and annotations as kubelet's FormatMap: sorted key="value"
// lines) and container resources.
func downwardPayload(out map[string]fileProjection, sb *Sandbox, items []manifest.DownwardAPIVolumeFile, def int32) error {
	p := sb.Pod
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.labels":
			val = formatMap(p.Metadata.Labels)
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.annotations":
			val = formatMap(p.Metadata.Annotations)
		case it.FieldRef != nil:
			val, err = p.FieldRef(it.FieldRef.FieldPath, sb.FieldValues())
		case it.ResourceFieldRef != nil:
			val, err = p.ResourceFieldValue(&manifest.Container{}, it.ResourceFieldRef, nodeAllocatable(sb.DataDir))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", it.Path, err)
		}
		m := def
		if it.Mode != nil {
			m = *it.Mode
		}
		out[it.Path] = fileProjection{Data: []byte(val), Mode: m}
	}
	return nil
}

// formatMap is kubelet's fieldpath.FormatMap.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}
