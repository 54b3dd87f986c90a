// Command pause stands in for the pause image's /pause (registry.k8s.io/
// pause, which containerd runs as every pod's sandbox container): it
// sleeps until SIGINT or SIGTERM and, as the pod's pid 1 when the pod
// shares one pid namespace, reaps the orphans that get reparented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
