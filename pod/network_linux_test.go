package pod

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cniNetwork writes a conflist (bridge with a private name and subnet,
// host-local IPAM with its own data dir, portmap) into the manager's conf
// dir, and removes the bridge when the test ends.
func cniNetwork(t *testing.T, m *Manager) (name, bridge, gateway, ipamDir string) {
	t.Helper()
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s missing (scripts/install-deps.sh installs containernetworking-plugins)", p)
		}
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables missing (scripts/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	m.CNIConfDir = filepath.Join(dir, "net.d")
	m.CNICacheDir = filepath.Join(dir, "cache")
	ipamDir = filepath.Join(dir, "ipam")
	n := rand.IntN(200) + 20
	name = fmt.Sprintf("podrun-test-%d", n)
	bridge = fmt.Sprintf("prtest%d", n)
	gateway = fmt.Sprintf("10.251.%d.1", n)
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0", "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.251.%d.0/24"}]], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}`, name, bridge, n, ipamDir)
	if err := os.MkdirAll(m.CNIConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.CNIConfDir, "10-test.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	return name, bridge, gateway, ipamDir
}

func TestPodCNI(t *testing.T) {
	m := newManager(t)
	network, bridge, gateway, ipamDir := cniNetwork(t, m)
	hostPort := 20000 + rand.IntN(20000)
	sb, err := m.Create(parsePod(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: cni}
spec:
  containers:
  - name: web
    image: busybox:test
    command: [sh, -c, 'mkdir /www; echo "pod $(hostname)" > /www/index.html; exec httpd -f -p 80 -h /www']
    ports: [{containerPort: 80, hostPort: %d}]
`, hostPort)), CreateOptions{Network: network})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			m.Destroy(sb)
		}
	})
	if ip := net.ParseIP(sb.IP); ip == nil || !strings.HasPrefix(sb.IP, strings.TrimSuffix(gateway, "1")) {
		t.Fatalf("pod IP %q not in the network's subnet", sb.IP)
	}
	hosts, _ := os.ReadFile(sb.hostsPath())
	if !strings.Contains(string(hosts), sb.IP+"\tcni\n") {
		t.Errorf("/etc/hosts lacks the pod IP:\n%s", hosts)
	}
	start(t, m, sb, "web")

	// The hostPort, from the host side, through portmap's DNAT.
	url := fmt.Sprintf("http://%s:%d/", gateway, hostPort)
	var body string
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 100; i++ {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "pod cni\n" {
		t.Fatalf("GET %s: %q", url, body)
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) == 0 {
		t.Errorf("no veth on bridge %s", bridge)
	}
	rules, _ := exec.Command("iptables-save", "-t", "nat").Output()
	if !strings.Contains(string(rules), sb.UID) {
		t.Errorf("no portmap rule for the pod in iptables-save")
	}

	destroyed = true
	if err := m.Destroy(sb); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	assertPodGone(t, m, sb)
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) != 0 {
		t.Errorf("veths left on %s: %s", bridge, out)
	}
	rules, _ = exec.Command("iptables-save").Output()
	if strings.Contains(string(rules), sb.UID) {
		t.Errorf("iptables rules left for the pod:\n%s", rules)
	}
	if leases, _ := filepath.Glob(filepath.Join(ipamDir, network, "10.*")); len(leases) > 0 {
		t.Errorf("IPAM leases left: %v", leases)
	}
	if cached, _ := filepath.Glob(filepath.Join(m.CNICacheDir, "results", "*")); len(cached) > 0 {
		t.Errorf("CNI cache left: %v", cached)
	}
}

// After kill -9 of the pause (the namespace, and the veth, gone with it),
// Destroy still runs CNI DEL from the record: IPAM lease and iptables
// rules are released.
func TestPodCNIDestroyAfterKill(t *testing.T) {
	m := newManager(t)
	network, bridge, _, ipamDir := cniNetwork(t, m)
	sb, err := m.Create(parsePod(t, `
apiVersion: v1
kind: Pod
metadata: {name: cnikill}
spec:
  containers:
  - name: a
    image: busybox:test
    ports: [{containerPort: 80, hostPort: 20001}]
`), CreateOptions{Network: network})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { m.Destroy(sb) }) // if the test fails early; Destroy is idempotent
	syscallKill(sb.InfraPid)
	m.takeInfra(sb.Name).Wait()
	loaded, err := m.Get(sb.Name)
	if err != nil {
		t.Fatal(err)
	}
	// The conflist is gone too: DEL uses the recorded one.
	os.RemoveAll(m.CNIConfDir)
	if err := m.Destroy(loaded); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	assertPodGone(t, m, loaded)
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) != 0 {
		t.Errorf("veths left on %s: %s", bridge, out)
	}
	if rules, _ := exec.Command("iptables-save").Output(); strings.Contains(string(rules), sb.UID) {
		t.Errorf("iptables rules left for the pod")
	}
	if leases, _ := filepath.Glob(filepath.Join(ipamDir, network, "10.*")); len(leases) > 0 {
		t.Errorf("IPAM leases left: %v", leases)
	}
}
