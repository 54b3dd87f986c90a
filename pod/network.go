package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// Defaults of the CNI setup (Debian's containernetworking-plugins).
const (
	DefaultCNIConfDir  = "/etc/cni/net.d"
	DefaultCNICacheDir = "/var/lib/cni"
)

// DefaultCNIPluginDirs are searched for plugin binaries.
var DefaultCNIPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// cniTimeout bounds one ADD or DEL of the whole plugin chain.
const cniTimeout = 2 * time.Minute

func (m *Manager) cniPaths() []string {
	if len(m.CNIPluginDirs) > 0 {
		return m.CNIPluginDirs
	}
	return DefaultCNIPluginDirs
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// runtimeConf is what ADD and DEL pass: the pod's UID as container ID (a
// pod name may be reused), eth0, and the hostPort mappings for portmap.
func runtimeConf(sb *Sandbox, netns string) *libcni.RuntimeConf {
	var ports []map[string]any
	for _, c := range sb.Pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			pm := map[string]any{"hostPort": p.HostPort, "containerPort": p.ContainerPort, "protocol": proto}
			if p.HostIP != "" {
				pm["hostIP"] = p.HostIP
			}
			ports = append(ports, pm)
		}
	}
	rt := &libcni.RuntimeConf{
		ContainerID: sb.UID, NetNS: netns, IfName: "eth0",
		Args: [][2]string{
			{"K8S_POD_NAMESPACE", sb.Namespace}, {"K8S_POD_NAME", sb.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", sb.InfraID}, {"K8S_POD_UID", sb.UID},
			{"IgnoreUnknown", "1"},
		},
	}
	if len(ports) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// networkAdd attaches the pod to CNI network name: the conflist is read
// from CNIConfDir and kept in the record (DEL must not depend on the file
// still being there), then ADD; the pod's IP is the first of the result.
func (m *Manager) networkAdd(sb *Sandbox, name string) error {
	if sb.Pod.Spec.HostNetwork {
		return errors.New("--network: a hostNetwork pod uses the host's network")
	}
	list, err := libcni.LoadNetworkConf(orDefault(m.CNIConfDir, DefaultCNIConfDir), name)
	if err != nil {
		return fmt.Errorf("--network %s: %w", name, err)
	}
	sb.Network, sb.NetworkConf = name, list.Bytes
	sb.CNICacheDir, sb.CNIPaths = orDefault(m.CNICacheDir, DefaultCNICacheDir), m.cniPaths()
	// Recorded before ADD: a crash during ADD still leads to a DEL.
	if err := sb.Save(); err != nil {
		return err
	}
	cni := libcni.NewCNIConfigWithCacheDir(sb.CNIPaths, sb.CNICacheDir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
	defer cancel()
	res, err := cni.AddNetworkList(ctx, list, runtimeConf(sb, sb.NetNS))
	if err != nil {
		return fmt.Errorf("--network %s: CNI ADD: %w", name, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("--network %s: CNI result: %w", name, err)
	}
	for _, ip := range r.IPs {
		if sb.IP == "" {
			sb.IP = ip.Address.IP.String()
		}
	}
	if sb.IP == "" {
		return fmt.Errorf("--network %s: CNI ADD gave the pod no IP address", name)
	}
	return sb.Save()
}

// networkDel detaches the pod (CNI DEL). netns may be "" when the infra
// is gone: the plugins then release what they hold on the host (IPAM
// lease, iptables rules); the veth went with the namespace.
func networkDel(sb *Sandbox, netns string) error {
	if sb.Network == "" || len(sb.NetworkConf) == 0 {
		return nil
	}
	list, err := libcni.NetworkConfFromBytes(sb.NetworkConf)
	if err != nil {
		return fmt.Errorf("network %s: %w", sb.Network, err)
	}
	if netns != "" {
		if _, err := os.Stat(netns); err != nil {
			netns = ""
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(sb.CNIPaths, sb.CNICacheDir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), cniTimeout)
	defer cancel()
	if err := cni.DelNetworkList(ctx, list, runtimeConf(sb, netns)); err != nil {
		return fmt.Errorf("network %s: CNI DEL: %w", sb.Network, err)
	}
	return nil
}
