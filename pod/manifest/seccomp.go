package manifest

import (
	"path"
	"strings"
)

// seccomp validates a seccompProfile as the apiserver's
// validateSeccompProfileField: a known type, and a localhostProfile (a
// relative path without "..") exactly with Localhost.
func (v *validator) seccomp(fp string, p *SeccompProfile) {
	if p == nil {
		return
	}
	switch p.Type {
	case SeccompProfileRuntimeDefault, SeccompProfileUnconfined:
		if p.LocalhostProfile != nil {
			v.add(fp+".localhostProfile", "can only be set for type Localhost")
		}
	case SeccompProfileLocalhost:
		lp := p.LocalhostProfile
		switch {
		case lp == nil || *lp == "":
			v.add(fp+".localhostProfile", "required for type Localhost")
		case path.IsAbs(*lp) || hasDotDot(*lp) || strings.ContainsRune(*lp, 0):
			v.add(fp+".localhostProfile", "%q must be a relative path without '..'", *lp)
		}
	default:
		v.add(fp+".type", "%q must be RuntimeDefault, Unconfined or Localhost", p.Type)
	}
}

// EffectiveSeccomp is the container's seccompProfile, else the pod's,
// else nil (Unconfined, kubelet's default).
func (p *Pod) EffectiveSeccomp(c *Container) *SeccompProfile {
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		return c.SecurityContext.SeccompProfile
	}
	if p.Spec.SecurityContext != nil {
		return p.Spec.SecurityContext.SeccompProfile
	}
	return nil
}
