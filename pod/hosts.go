package pod

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/pod/manifest"
)

// The files every container of the pod gets at /etc/hosts, /etc/hostname
// and /etc/resolv.conf, kept in the pod's state dir.
func (sb *Sandbox) hostsPath() string    { return filepath.Join(sb.StateDir, "hosts") }
func (sb *Sandbox) hostnamePath() string { return filepath.Join(sb.StateDir, "hostname") }
func (sb *Sandbox) resolvPath() string   { return filepath.Join(sb.StateDir, "resolv.conf") }

// hostsFile is kubelet's managed /etc/hosts (managedHostsFileContent):
// the loopback and IPv6 lines, then the pod's address with its FQDN
// (hostname.subdomain.namespace.svc.cluster.local when it has a
// subdomain) and its hostname, then the hostAliases. A pod without an IP
// (loopback-only network) maps its hostname to 127.0.1.1, as Debian
// does, so the name resolves inside the pod.
func hostsFile(sb *Sandbox) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	h, d := sb.Pod.Hostname()
	names := h
	if d != "" {
		names = fmt.Sprintf("%s.%s\t%s", h, d, h)
	}
	ip := sb.IP
	if ip == "" {
		ip = "127.0.1.1"
	}
	fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	b.Write(hostAliasEntries(sb))
	return b.Bytes()
}

// hostAliasEntries is kubelet's hostsEntriesFromHostAliases: a line per
// alias, its hostnames tab-separated.
func hostAliasEntries(sb *Sandbox) []byte {
	if len(sb.Pod.Spec.HostAliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range sb.Pod.Spec.HostAliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}

// hostResolvConf is the host's resolver configuration (kubelet's
// dnsPolicy Default). When the host uses systemd-resolved's stub
// (127.0.0.53, unreachable from a pod's network namespace), its upstream
// file is used, as kubelet does.
func hostResolvConf() []byte {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err == nil && bytes.Contains(data, []byte("127.0.0.53")) {
		if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			return up
		}
	}
	return data
}

// resolvConf is the pod's /etc/resolv.conf. There is no cluster DNS on
// one host, so ClusterFirst (and ClusterFirstWithHostNet) fall back to
// Default, the host's resolver, as a kubelet without --cluster-dns does;
// None starts empty. dnsConfig is then merged in (kubelet's
// appendDNSConfig: nameservers and searches appended without
// duplicates, options replaced by name), and the file written in
// containerd's form.
func resolvConf(sb *Sandbox) []byte {
	var servers, searches, options []string
	if sb.Pod.Spec.DNSPolicy != manifest.DNSNone {
		servers, searches, options = parseResolvConf(hostResolvConf())
	}
	if c := sb.Pod.Spec.DNSConfig; c != nil {
		servers = appendUnique(servers, c.Nameservers...)
		searches = appendUnique(searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = mergeOption(options, opt)
		}
	}
	// kubelet's limits (dns.go): 3 nameservers, 32 search domains.
	servers = servers[:min(len(servers), manifest.MaxDNSNameservers)]
	searches = searches[:min(len(searches), manifest.MaxDNSSearchPaths)]
	var b bytes.Buffer
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

// parseResolvConf reads the nameserver, search (or domain) and options
// lines of a resolv.conf, as kubelet's parseResolvConf.
func parseResolvConf(data []byte) (servers, searches, options []string) {
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				servers = append(servers, f[1])
			}
		case "domain", "search":
			// The last of them wins, as in the resolver.
			searches = append([]string(nil), f[1:]...)
		case "options":
			for _, o := range f[1:] {
				options = mergeOption(options, o)
			}
		}
	}
	return servers, searches, options
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// mergeOption adds a resolver option ("name" or "name:value"), replacing
// one of the same name.
func mergeOption(opts []string, o string) []string {
	name, _, _ := strings.Cut(o, ":")
	for i, e := range opts {
		if n, _, _ := strings.Cut(e, ":"); n == name {
			opts[i] = o
			return opts
		}
	}
	return append(opts, o)
}

// writeHostsFiles writes the pod's hosts, hostname and resolv.conf. With
// hostNetwork the pod sees the host's /etc/hosts and hostname.
func writeHostsFiles(sb *Sandbox) error {
	hosts := hostsFile(sb)
	hostname := sb.Pod.KernelHostname()
	if sb.Pod.Spec.HostNetwork {
		// kubelet's nodeHostsFileContent: the node's file and the aliases.
		h, err := os.ReadFile("/etc/hosts")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		hosts = append(h, hostAliasEntries(sb)...)
		if hostname, err = os.Hostname(); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{sb.hostsPath(), hosts},
		{sb.hostnamePath(), []byte(strings.TrimSpace(hostname) + "\n")},
		{sb.resolvPath(), resolvConf(sb)},
	} {
		if err := atomicfile.WriteSync(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
