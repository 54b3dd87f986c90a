// Package runccli is podrun's command line as runc users know it: the
// global flags, the runc commands (create, start, run, exec, kill, delete,
// state, list, ps, events, pause, resume, update, spec, features), their
// flags, argument orders, texts and exit codes. Both binaries build their
// app here: podrun (the lean runtime) with stand-ins for the commands that
// live in podrun-pod, podrun-pod with the real ones, so `podrun --help`
// and the completions list every command the same way.
package runccli

import (
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/internal/logs"
	"github.com/podrun/podrun/runtime"
)

// Set at build time with -ldflags "-X github.com/podrun/podrun/cmd/internal/runccli.Version=...".
var (
	Version = "0.1.0-dev"
	Commit  = ""
)

// ExitError carries an exit status that is not a failure of podrun itself
// (the container's status for `run` and `exec`), or, with Err, a failure
// that exits with a code of its own (`exec`: 255, as runc).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Env is what every command gets: the runtime and the logger, built once
// from the global flags.
type Env struct {
	RT        *runtime.Runtime
	Log       *logs.Logger
	logToFile bool
}

// Companion are the commands podrun-pod holds, in the places podrun's help
// lists them: image, bundle and pod after features, completion last.
type Companion struct {
	Image, Bundle, Pod, Completion *cli.Command
}

// Prepare may answer a command line itself (done, with its exit status) or
// rewrite it before the app parses it (podrun-pod: completions and the
// kubectl-style flag order).
type Prepare func(app *cli.App, args []string, stdout, stderr io.Writer) (_ []string, status int, done bool)

// Run runs the command line args (os.Args form) and returns the exit
// status.
func Run(args []string, stdout, stderr io.Writer, companion func(*Env) Companion, prepare Prepare) int {
	var e Env
	app := NewApp(&e, stdout, stderr, companion(&e))
	if prepare != nil {
		var status int
		var done bool
		if args, status, done = prepare(app, args, stdout, stderr); done {
			return status
		}
	}
	err := app.Run(reorderRuncArgs(app, args))
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err == nil {
			return ee.Code
		}
		code = ee.Code
	}
	msg := errorText(err)
	if e.Log != nil && e.logToFile {
		e.Log.Errorf("%s", msg)
	}
	fmt.Fprintln(stderr, "podrun: "+msg)
	return code
}

// NewApp is podrun's command line; the commands work on e, which the
// global flags fill in before any command runs.
func NewApp(e *Env, stdout, stderr io.Writer, c Companion) *cli.App {
	app := &cli.App{
		Name:                 "podrun",
		Usage:                "OCI container runtime with pods",
		Version:              Version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		// urfave/cli v1 (runc's) takes `-e A=1,2` as one value; v2 would
		// split it at the comma.
		DisableSliceFlagSeparator: true,
		Flags:                     globalFlags(),
		Before: func(ctx *cli.Context) error {
			return setup(ctx, e, stderr)
		},
		Commands: []*cli.Command{
			createCommand(e), startCommand(e), runCommand(e), stateCommand(e),
			killCommand(e), deleteCommand(e), listCommand(e), execCommand(e),
			psCommand(e), specCommand(), featuresCommand(),
			c.Image, c.Bundle, c.Pod,
			pauseCommand(e), resumeCommand(e), updateCommand(e), eventsCommand(e),
			c.Completion,
		},
		CommandNotFound: func(ctx *cli.Context, name string) {
			fmt.Fprintf(stderr, "podrun: unknown command %q\n", name)
			os.Exit(1)
		},
	}
	cli.VersionPrinter = func(ctx *cli.Context) {
		fmt.Fprintf(ctx.App.Writer, "podrun version %s\n", Version)
		if Commit != "" {
			fmt.Fprintf(ctx.App.Writer, "commit: %s\n", Commit)
		}
		fmt.Fprintf(ctx.App.Writer, "spec: %s\ngo: %s\n", specVersion(), goruntime.Version())
	}
	return app
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: "/run/podrun", Usage: "root directory for storage of container state"},
		&cli.StringFlag{Name: "log", Usage: "set the log file to write podrun logs to (default is stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
		&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\""},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
		&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility; checkpoint/restore is not supported"},
	}
}
