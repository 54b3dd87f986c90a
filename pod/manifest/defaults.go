package manifest

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// Defaults kubelet and the apiserver apply (pkg/apis/core/v1/defaults.go).
const (
	DefaultNamespace                     = "default"
	DefaultTerminationGracePeriodSeconds = 30
	DefaultProbeTimeoutSeconds           = 1
	DefaultProbePeriodSeconds            = 10
	DefaultProbeSuccessThreshold         = 1
	DefaultProbeFailureThreshold         = 3
)

// Default fills in what the apiserver and kubelet would: namespace
// "default", a generated uid (and name from generateName), creation time,
// restartPolicy Always, terminationGracePeriodSeconds 30, imagePullPolicy
// (Always for an untagged or :latest image, else IfNotPresent), port
// protocol TCP, probe timings 1s/10s/1/3, httpGet path "/" and scheme HTTP,
// fieldRef apiVersion v1, defaultMode 0644 of configMap, secret,
// downwardAPI and projected volumes. It keeps anything already set, so it
// is idempotent.
func (p *Pod) Default() {
	m := &p.Metadata
	if m.Namespace == "" {
		m.Namespace = DefaultNamespace
	}
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + randomSuffix(5)
	}
	if m.UID == "" {
		m.UID = NewUID()
	}
	if m.CreationTimestamp == nil {
		m.CreationTimestamp = NewTime(time.Now().Truncate(time.Second))
	}
	s := &p.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = DNSClusterFirst
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &g
	}
	for i := range s.Volumes {
		s.Volumes[i].defaults()
	}
	for i := range s.InitContainers {
		s.InitContainers[i].defaults()
	}
	for i := range s.Containers {
		s.Containers[i].defaults()
	}
}

func (c *Container) defaults() {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = TerminationMessageReadFile
	}
	if c.ImagePullPolicy == "" {
		if tag := imageTag(c.Image); tag == "" || tag == "latest" {
			c.ImagePullPolicy = PullAlways
		} else {
			c.ImagePullPolicy = PullIfNotPresent
		}
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = ProtocolTCP
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.APIVersion == "" {
			e.ValueFrom.FieldRef.APIVersion = "v1"
		}
	}
	for _, pr := range []*Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if pr == nil {
			continue
		}
		if pr.TimeoutSeconds == 0 {
			pr.TimeoutSeconds = DefaultProbeTimeoutSeconds
		}
		if pr.PeriodSeconds == 0 {
			pr.PeriodSeconds = DefaultProbePeriodSeconds
		}
		if pr.SuccessThreshold == 0 {
			pr.SuccessThreshold = DefaultProbeSuccessThreshold
		}
		if pr.FailureThreshold == 0 {
			pr.FailureThreshold = DefaultProbeFailureThreshold
		}
		pr.HTTPGet.defaults()
	}
	if l := c.Lifecycle; l != nil {
		for _, h := range []*LifecycleHandler{l.PostStart, l.PreStop} {
			if h != nil {
				h.HTTPGet.defaults()
			}
		}
	}
}

func (h *HTTPGetAction) defaults() {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = URISchemeHTTP
	}
}

// imageTag returns the tag of an image reference ("" when untagged; a
// digest reference counts as tagged, it never changes).
func imageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return "@digest"
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}

// NewUID returns a random (version 4) UUID, as the apiserver assigns.
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// randomSuffix mirrors the apiserver's generateName alphabet (no vowels, no
// look-alikes).
func randomSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
