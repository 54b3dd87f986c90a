package manifest

import (
	"fmt"
	"net"
	"strings"
)

// Kubernetes' limits on a pod's DNS config (apis/core/validation).
const (
	MaxDNSNameservers    = 3
	MaxDNSSearchPaths    = 32
	MaxDNSSearchListChar = 2048
)

// dns validates hostAliases, dnsPolicy and dnsConfig as the apiserver's
// validatePodDNSConfig and validateHostAliases do.
func (v *validator) dns(s *PodSpec) {
	for i, a := range s.HostAliases {
		fp := fmt.Sprintf("spec.hostAliases[%d]", i)
		if net.ParseIP(a.IP) == nil {
			v.add(fp+".ip", "%q must be a valid IP address", a.IP)
		}
		for j, h := range a.Hostnames {
			if len(h) > 253 || !dns1123Subdomain.MatchString(h) {
				v.add(fmt.Sprintf("%s.hostnames[%d]", fp, j), "%q must be a DNS-1123 subdomain", h)
			}
		}
	}
	switch s.DNSPolicy {
	case "", DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault, DNSNone:
	default:
		v.add("spec.dnsPolicy", "%q must be ClusterFirst, ClusterFirstWithHostNet, Default or None", s.DNSPolicy)
	}
	c := s.DNSConfig
	if s.DNSPolicy == DNSNone && (c == nil || len(c.Nameservers) == 0) {
		v.add("spec.dnsConfig.nameservers", "must provide at least one DNS nameserver when dnsPolicy is None")
	}
	if c == nil {
		return
	}
	if len(c.Nameservers) > MaxDNSNameservers {
		v.add("spec.dnsConfig.nameservers", "must not have more than %d nameservers", MaxDNSNameservers)
	}
	for i, ns := range c.Nameservers {
		if net.ParseIP(ns) == nil {
			v.add(fmt.Sprintf("spec.dnsConfig.nameservers[%d]", i), "%q must be a valid IP address", ns)
		}
	}
	if len(c.Searches) > MaxDNSSearchPaths {
		v.add("spec.dnsConfig.searches", "must not have more than %d search paths", MaxDNSSearchPaths)
	}
	if n := len(strings.Join(c.Searches, " ")); n > MaxDNSSearchListChar {
		v.add("spec.dnsConfig.searches", "must not have more than %d characters (spaces included) in the search list", MaxDNSSearchListChar)
	}
	for i, d := range c.Searches {
		d = strings.TrimSuffix(d, ".")
		if len(d) > 253 || !dns1123Subdomain.MatchString(d) {
			v.add(fmt.Sprintf("spec.dnsConfig.searches[%d]", i), "%q must be a DNS-1123 subdomain", c.Searches[i])
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			v.add(fmt.Sprintf("spec.dnsConfig.options[%d].name", i), "required")
		}
	}
}

// Hostname returns the pod's hostname (spec.hostname, else its name cut
// to 63 characters) and its domain (subdomain.namespace.svc.cluster.local
// with a subdomain, else ""): kubelet's GeneratePodHostNameAndDomain.
func (p *Pod) Hostname() (hostname, domain string) {
	hostname = p.Spec.Hostname
	if hostname == "" {
		hostname = p.Metadata.Name
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if sd := p.Spec.Subdomain; sd != "" {
		ns := p.Metadata.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		domain = fmt.Sprintf("%s.%s.svc.cluster.local", sd, ns)
	}
	return hostname, domain
}

// KernelHostname is the hostname the pod's UTS namespace gets: its
// hostname, or its FQDN with setHostnameAsFQDN (kubelet's
// GetNodenameForKernel).
func (p *Pod) KernelHostname() string {
	h, d := p.Hostname()
	if p.Spec.SetHostnameAsFQDN != nil && *p.Spec.SetHostnameAsFQDN && d != "" {
		return h + "." + d
	}
	return h
}

// maxKernelHostname is the kernel's limit on a hostname (64 with kubelet's
// count).
const maxKernelHostname = 64

// fqdn refuses a setHostnameAsFQDN whose FQDN the kernel cannot take, as
// kubelet does when it makes the sandbox.
func (v *validator) fqdn(p *Pod) {
	if h := p.KernelHostname(); len(h) > maxKernelHostname {
		v.add("spec.setHostnameAsFQDN", "FQDN %s is too long (%d characters is the max, %d characters requested)", h, maxKernelHostname, len(h))
	}
}
