package pod

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/podrun/podrun/internal/atomicfile"
)

// The files every container of the pod gets at /etc/hosts, /etc/hostname
// and /etc/resolv.conf, kept in the pod's state dir.
func (sb *Sandbox) hostsPath() string    { return filepath.Join(sb.StateDir, "hosts") }
func (sb *Sandbox) hostnamePath() string { return filepath.Join(sb.StateDir, "hostname") }
func (sb *Sandbox) resolvPath() string   { return filepath.Join(sb.StateDir, "resolv.conf") }

// hostsFile is kubelet's managed /etc/hosts: the loopback and IPv6 lines,
// then the pod's address with its FQDN (hostname.subdomain.namespace.svc.
// cluster.local when it has a subdomain) and its hostname. A pod without an
// IP (loopback-only network) maps its hostname to 127.0.1.1, as Debian does,
// so the name resolves inside the pod.
func hostsFile(sb *Sandbox) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (podrun).\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	h := podHostname(sb)
	names := h
	if sd := sb.Pod.Spec.Subdomain; sd != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.cluster.local\t%s", h, sd, sb.Namespace, h)
	}
	ip := sb.IP
	if ip == "" {
		ip = "127.0.1.1"
	}
	fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	return b.Bytes()
}

// hostResolvConf is the host's resolver configuration (kubelet's
// dnsPolicy Default; there is no cluster DNS on one host). When the host
// uses systemd-resolved's stub (127.0.0.53, unreachable from a pod's
// network namespace), its upstream file is used, as kubelet does.
func hostResolvConf() []byte {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err == nil && bytes.Contains(data, []byte("127.0.0.53")) {
		if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			return up
		}
	}
	return data
}

// writeHostsFiles writes the pod's hosts, hostname and resolv.conf. With
// hostNetwork the pod sees the host's /etc/hosts and hostname.
func writeHostsFiles(sb *Sandbox) error {
	hosts := hostsFile(sb)
	hostname := podHostname(sb)
	if sb.Pod.Spec.HostNetwork {
		h, err := os.ReadFile("/etc/hosts")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		hosts = h
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
		{sb.resolvPath(), hostResolvConf()},
	} {
		if err := atomicfile.WriteSync(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
