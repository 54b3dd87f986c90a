package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/testutil"
	"github.com/podrun/podrun/pod/manifest"
)

// listenIn listens on addr inside the network namespace at nsPath (same
// thread rule as NetNSDialer: the locked thread is discarded).
func listenIn(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	ch := make(chan any, 1)
	go onThrowawayThread(func() {
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err != nil {
			ch <- err
			return
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			ch <- err
			return
		}
		ch <- l
	})
	switch v := (<-ch).(type) {
	case net.Listener:
		return v
	case error:
		t.Fatal(v)
	}
	return nil
}

func TestNetNSDialer(t *testing.T) {
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	name := fmt.Sprintf("podrun-probe-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	nsPath := "/run/netns/" + name
	var host unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &host); err != nil {
		t.Fatal(err)
	}

	l := listenIn(t, nsPath, "127.0.0.1:0")
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "inside") })}
	go srv.Serve(l)
	defer srv.Close()

	// The host's loopback must not have the port, or the test proves nothing.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Skipf("port %d is open on the host too", port)
	}
	tcp := &manifest.ProbeHandler{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(int32(port))}}
	get := &manifest.ProbeHandler{HTTPGet: &manifest.HTTPGetAction{Path: "/", Port: manifest.FromInt(int32(port))}}
	if r, _ := probe(t, tcp, Target{}); r != Failure {
		t.Fatalf("tcp from the host namespace: %v, want Failure", r)
	}
	in := Target{Dial: NetNSDialer(nsPath)}
	if r, out := probe(t, tcp, in); r != Success {
		t.Errorf("tcp in the pod netns: %v %s", r, out)
	}
	if r, out := probe(t, get, in); r != Success || out != "inside" {
		t.Errorf("http in the pod netns: %v %q", r, out)
	}
	// The dialing threads are discarded once their goroutines exit (just
	// after the dial returns): soon every thread left is on the host.
	inPod := func() (n int) {
		tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
		for _, p := range tasks {
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err == nil && st.Ino != host.Ino {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); inPod() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			out, _ := exec.Command("sh", "-c", "for t in /proc/self/../"+fmt.Sprint(os.Getpid())+"/task/*; do echo $t $(readlink $t/ns/net) $(grep State $t/status); done").CombinedOutput()
			t.Fatalf("%d threads stay in the pod's network namespace\n%s", inPod(), out)
		}
	}
	l.Close()
	if r, _ := probe(t, tcp, in); r != Failure {
		t.Errorf("tcp after close: %v", r)
	}
	if _, err := NetNSDialer("/nonexistent")(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		t.Error("missing netns accepted")
	}
}
