package pod

import (
	"bufio"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/pod/manifest"
)

// nodeName is the name a kubelet gives its node by default: the host
// name in lower case (nodeutil.GetHostname).
func nodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(h))
}

// hostIPs returns the node's addresses, primary first, as a kubelet with
// no --node-ip finds them (utilnet.ChooseHostInterface): the global
// unicast addresses of the interface holding the IPv4 default route with
// the lowest metric, IPv4 first; without a default route, those of the
// first interface that is up and not loopback. Nil when the host has none.
func hostIPs() []string {
	if ifc := defaultRouteInterface("/proc/net/route"); ifc != "" {
		if i, err := net.InterfaceByName(ifc); err == nil {
			if ips := globalIPs(i); len(ips) > 0 {
				return ips
			}
		}
	}
	ifs, _ := net.Interfaces()
	for i := range ifs {
		if ifs[i].Flags&net.FlagUp != 0 && ifs[i].Flags&net.FlagLoopback == 0 {
			if ips := globalIPs(&ifs[i]); len(ips) > 0 {
				return ips
			}
		}
	}
	return nil
}

// globalIPs lists an interface's global unicast addresses, IPv4 first.
func globalIPs(i *net.Interface) []string {
	addrs, err := i.Addrs()
	if err != nil {
		return nil
	}
	var v4, v6 []string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			v4 = append(v4, n.IP.String())
		} else {
			v6 = append(v6, n.IP.String())
		}
	}
	return append(v4, v6...)
}

// defaultRouteInterface reads a /proc/net/route table and returns the
// interface of the default route (destination and mask 0) with the
// lowest metric, or "".
func defaultRouteInterface(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestMetric := "", int64(-1)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[1] != "00000000" || fs[7] != "00000000" {
			continue
		}
		flags, err := strconv.ParseUint(fs[3], 16, 32)
		if err != nil || flags&0x1 == 0 { // RTF_UP
			continue
		}
		metric, err := strconv.ParseInt(fs[6], 10, 64)
		if err != nil {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = fs[0], metric
		}
	}
	return best
}

// nodeAllocatable is the node's capacity as kubelet's allocatable with no
// reservations: online CPUs, MemTotal, and the size of the filesystem of
// the pods' data dir (kubelet's root dir) for ephemeral storage.
func nodeAllocatable(dataDir string) manifest.NodeAllocatable {
	n := manifest.NodeAllocatable{CPUMillis: int64(goruntime.NumCPU()) * 1000}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					n.Memory = kb * 1024
				}
			}
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(dataDir, &st) == nil {
		n.EphemeralStorage = int64(st.Blocks) * st.Bsize
	}
	return n
}
