// As podrun's (cmd/podrun/main.go): GOMAXPROCS must not be sized from
// cgroup files, which the re-executed init would otherwise hold open.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command podrun-pod is the part of podrun's command line that the start
// of a container has no use for: `pod` (with the per-pod supervisor),
// `image`, `bundle` and `completion`, and everything they link (YAML, CNI,
// the registry client, the decompressors). Users run these commands as
// `podrun pod ...`: podrun executes podrun-pod with the same arguments.
// podrun-pod also has the runc commands (package cmd/internal/runccli),
// for the completions, and is the init of the containers it creates (the
// pods'), with the pause constructor for their infra containers.
package main

import (
	"io"
	"os"
	goruntime "runtime"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/namespaces"
	_ "github.com/podrun/podrun/namespaces/nsenter" // joins a user namespace before the Go runtime starts
	_ "github.com/podrun/podrun/pod/pause"          // a pod's infra process, before the Go runtime starts
)

func init() {
	// As podrun's: the init keeps main on the main thread.
	if namespaces.IsInit(os.Args) {
		goruntime.LockOSThread()
	}
}

func main() {
	if namespaces.IsInit(os.Args) {
		namespaces.Init() // never returns
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runccli.Run(args, stdout, stderr, companion, kubectlLine)
}

// companion are the real commands podrun lists as stand-ins.
func companion(e *runccli.Env) runccli.Companion {
	return runccli.Companion{Image: imageCommand(), Bundle: bundleCommand(), Pod: podCommand(e), Completion: completionCommand()}
}

// newApp is the whole command line, for the tests and the completions.
func newApp(e *runccli.Env, stdout, stderr io.Writer) *cli.App {
	return runccli.NewApp(e, stdout, stderr, companion(e))
}
