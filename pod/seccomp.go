package pod

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/inroot"
	"github.com/podrun/podrun/pod/manifest"
)

// DefaultSeccompProfileRoot holds the Localhost seccomp profiles (kubelet's
// <root-dir>/seccomp).
const DefaultSeccompProfileRoot = "/var/lib/podrun/seccomp"

// maxSeccompProfile bounds a Localhost profile file.
const maxSeccompProfile = 4 << 20

// applySeccomp sets the container's seccomp filter from its effective
// seccompProfile, as containerd's CRI does: RuntimeDefault is the default
// profile (moby's, which containerd's follows: the syscalls the bounding
// capabilities allow included, so call it after the capabilities are
// set), Localhost an OCI LinuxSeccomp JSON file under the profile root,
// Unconfined (and no profile) none. A privileged container gets none.
func (m *Manager) applySeccomp(sb *Sandbox, c *manifest.Container, field string, s *specs.Spec) error {
	s.Linux.Seccomp = nil
	prof := sb.Pod.EffectiveSeccomp(c)
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	if prof == nil || privileged {
		return nil
	}
	switch prof.Type {
	case manifest.SeccompProfileRuntimeDefault:
		sc, err := mobyseccomp.GetDefaultProfile(s)
		if err != nil {
			return fmt.Errorf("%s.securityContext.seccompProfile: RuntimeDefault: %w", field, err)
		}
		s.Linux.Seccomp = sc
	case manifest.SeccompProfileLocalhost:
		sc, err := m.localhostSeccomp(*prof.LocalhostProfile)
		if err != nil {
			return fmt.Errorf("%s.securityContext.seccompProfile.localhostProfile: %w", field, err)
		}
		s.Linux.Seccomp = sc
	}
	return nil
}

// localhostSeccomp reads a profile beneath the profile root by fd (the
// manifest names it), a regular file of bounded size.
func (m *Manager) localhostSeccomp(name string) (*specs.LinuxSeccomp, error) {
	root := m.SeccompProfileRoot
	if root == "" {
		root = DefaultSeccompProfileRoot
	}
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h, err := inroot.Open(r, name)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", name, root, err)
	}
	defer h.Close()
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s in %s: not a regular file", name, root)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSeccompProfile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSeccompProfile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxSeccompProfile)
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &sc, nil
}
