package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/rootonly"
)

// Claims: a persistentVolumeClaim volume is a named host volume,
// <DataDir>/claims/<claimName>/data, made on first use and kept when its
// pods are removed, as podman's kube play maps a claim to a named volume.
// `podrun pod volume rm` removes one no pod uses.

// ErrClaimInUse is RemoveClaim's answer for a claim a pod still uses.
var ErrClaimInUse = errdefs.New(errdefs.ErrFailedPrecondition, "volume is in use")

// ClaimsDir is where the Manager's claims live.
func (m *Manager) ClaimsDir() string { return filepath.Join(m.DataDir, "claims") }

// claimData is the directory a claim's volume mounts.
func claimData(claimsDir, name string) string { return filepath.Join(claimsDir, name, "data") }

// ensureClaim makes a claim's volume if it does not exist yet: 0777 like
// an emptyDir (the containers' users write there), inside root-only
// parents.
func ensureClaim(claimsDir, name string) (string, error) {
	if err := rootonly.Dir(claimsDir); err != nil {
		return "", err
	}
	if err := rootonly.Dir(filepath.Join(claimsDir, name)); err != nil {
		return "", err
	}
	data := claimData(claimsDir, name)
	if err := os.Mkdir(data, 0o777); err != nil {
		if errors.Is(err, os.ErrExist) {
			return data, nil
		}
		return "", err
	}
	return data, os.Chmod(data, 0o777)
}

// EnsureClaim makes the volume of a claim (a PersistentVolumeClaim of the
// manifest stream) if it does not exist.
func (m *Manager) EnsureClaim(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("volume %q: not a volume name", name)
	}
	_, err := ensureClaim(m.ClaimsDir(), name)
	return err
}

// Claim is a named volume and the pods that use it.
type Claim struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Pods []string `json:"pods"`
}

// Claims lists the claims' volumes with the pods using them.
func (m *Manager) Claims() ([]Claim, error) {
	ents, err := os.ReadDir(m.ClaimsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	users := map[string][]string{}
	sbs, err := m.List()
	if err != nil {
		return nil, err
	}
	for _, sb := range sbs {
		for _, v := range sb.Pod.Spec.Volumes {
			if c := v.PersistentVolumeClaim; c != nil && !slices.Contains(users[c.ClaimName], sb.Name) {
				users[c.ClaimName] = append(users[c.ClaimName], sb.Name)
			}
		}
	}
	var out []Claim
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, Claim{Name: e.Name(), Path: claimData(m.ClaimsDir(), e.Name()), Pods: users[e.Name()]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveClaim removes a claim's volume and its data; ErrClaimInUse while
// a pod uses it.
func (m *Manager) RemoveClaim(name string) error {
	if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
		return fmt.Errorf("volume %q: not a volume name", name)
	}
	cs, err := m.Claims()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Name != name {
			continue
		}
		if len(c.Pods) > 0 {
			return fmt.Errorf("%w: volume %s by pod %s", ErrClaimInUse, name, strings.Join(c.Pods, ", "))
		}
		return os.RemoveAll(filepath.Join(m.ClaimsDir(), name))
	}
	return fmt.Errorf("volume %s: %w", name, os.ErrNotExist)
}
