// The Go runtime must not size GOMAXPROCS from cgroup CPU limits: it would
// open the caller's cgroup files before main and keep them open, so the
// re-executed init would hold fds to host cgroupfs files while the
// container is created, and every start would pay for the reads.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command podrun is a runc-compatible OCI container runtime. This package is
// only the command line: flags in, runtime calls, runc's output formats out
// (package cmd/internal/runccli). It links only what starts and manages
// containers, and is also the containers' init (`podrun init`); the pod,
// image, bundle and completion commands live in podrun-pod
// (cmd/podrun-pod), which podrun executes for them: before the Go runtime
// starts (dispatch.c) when it is next to podrun, else from main.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/internal/sigfwd"
	"github.com/podrun/podrun/internal/sysmon"
	"github.com/podrun/podrun/namespaces"
	_ "github.com/podrun/podrun/namespaces/nsenter" // joins a user namespace before the Go runtime starts
)

func init() {
	// The init and exec children change per-thread state (namespaces,
	// credentials, capabilities) and exec from the main thread; keep main
	// on it from the start.
	if namespaces.IsInit(os.Args) {
		goruntime.LockOSThread()
	}
}

func main() {
	if namespaces.IsInit(os.Args) {
		namespaces.Init() // never returns
	}
	// A CLI lives a few milliseconds: the runtime's monitor thread need
	// not wake every 20 us of them (package sysmon).
	sysmon.Relax()
	sigfwd.Started(blockedSignals())
	if runccli.CompanionLine(os.Args) {
		// dispatch.c found no podrun-pod next to us (or could not exec
		// it): $PATH, or the error.
		err := execCompanion()
		fmt.Fprintln(os.Stderr, "podrun: "+err.Error())
		os.Exit(1)
	}
	stubs := func(*runccli.Env) runccli.Companion { return runccli.Stubs(execCompanion) }
	os.Exit(runccli.Run(os.Args, os.Stdout, os.Stderr, stubs, nil))
}

// execCompanion replaces this process with podrun-pod, same arguments
// (argv[0] too, so its help and errors name the command the user typed),
// environment and stdio: signals and the exit status are podrun-pod's as
// if podrun had run the command. It returns only on failure.
func execCompanion() error {
	path, err := companionPath()
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", path, syscall.Exec(path, os.Args, os.Environ()))
}

// companionPath is podrun-pod next to this binary (installs put both in
// one directory; a symlink to podrun finds the one beside its target), or
// else the first on $PATH.
func companionPath() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), runccli.CompanionName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(runccli.CompanionName)
	if err != nil {
		return "", fmt.Errorf("%s holds the pod, image, bundle and completion commands; it is neither next to podrun nor on $PATH (make install installs both)", runccli.CompanionName)
	}
	return p, nil
}
