// The Go runtime must not size GOMAXPROCS from cgroup CPU limits: it would
// open the caller's cgroup files before main and keep them open, so the
// re-executed init would hold fds to host cgroupfs files while the
// container is created, and every start would pay for the reads.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command podrun is a runc-compatible OCI container runtime. This package is
// only the command line: flags in, runtime calls, runc's output formats out.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/internal/logs"
	"github.com/podrun/podrun/namespaces"
	_ "github.com/podrun/podrun/namespaces/nsenter" // joins a user namespace before the Go runtime starts
	_ "github.com/podrun/podrun/pod/pause"          // a pod's infra process, before the Go runtime starts
	"github.com/podrun/podrun/runtime"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = ""
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
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// exitError carries an exit status that is not a failure of podrun itself
// (the container's status for `run` and `exec`), or, with err, a failure
// that exits with a code of its own (`exec`: 255, as runc).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// env is what every command gets: the runtime and the logger, built once
// from the global flags.
type env struct {
	rt        *runtime.Runtime
	log       *logs.Logger
	logToFile bool
}

func run(args []string, stdout, stderr io.Writer) int {
	var e env
	app := newApp(&e, stdout, stderr)
	args, status, done := kubectlLine(app, args, stdout, stderr) // kubectl.go
	if done {
		return status
	}
	err := app.Run(reorderRuncArgs(app, args))
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err == nil {
			return ee.code
		}
		code = ee.code
	}
	msg := errorText(err)
	if e.log != nil && e.logToFile {
		e.log.Errorf("%s", msg)
	}
	fmt.Fprintln(stderr, "podrun: "+msg)
	return code
}

// newApp is podrun's command line; the commands work on e, which the global
// flags fill in before any command runs.
func newApp(e *env, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "podrun",
		Usage:                "OCI container runtime with pods",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		// urfave/cli v1 (runc's) takes `-e A=1,2` as one value; v2 would
		// split it at the comma.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/podrun", Usage: "root directory for storage of container state"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write podrun logs to (default is stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility; checkpoint/restore is not supported"},
		},
		Before: func(ctx *cli.Context) error {
			return setup(ctx, e, stderr)
		},
		Commands: []*cli.Command{
			createCommand(e), startCommand(e), runCommand(e), stateCommand(e),
			killCommand(e), deleteCommand(e), listCommand(e), execCommand(e),
			psCommand(e), specCommand(), featuresCommand(),
			imageCommand(), bundleCommand(), podCommand(e),
			pauseCommand(e), resumeCommand(e), updateCommand(e), eventsCommand(e),
		},
		CommandNotFound: func(ctx *cli.Context, name string) {
			fmt.Fprintf(stderr, "podrun: unknown command %q\n", name)
			os.Exit(1)
		},
	}
	cli.VersionPrinter = func(ctx *cli.Context) {
		fmt.Fprintf(ctx.App.Writer, "podrun version %s\n", version)
		if commit != "" {
			fmt.Fprintf(ctx.App.Writer, "commit: %s\n", commit)
		}
		fmt.Fprintf(ctx.App.Writer, "spec: %s\ngo: %s\n", specVersion(), goruntime.Version())
	}
	return app
}
