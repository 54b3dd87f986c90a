package runccli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/signals"
	"github.com/podrun/podrun/runtime"
)

// createFlags are shared by create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the root of the bundle directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive the pty master"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the init's host pid to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.UintFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
	}
}

func createOpts(ctx *cli.Context) runtime.CreateOpts {
	return runtime.CreateOpts{
		Bundle: ctx.String("bundle"), PidFile: ctx.String("pid-file"),
		ConsoleSocket: ctx.String("console-socket"), NoPivot: ctx.Bool("no-pivot"),
		NoNewKeyring: ctx.Bool("no-new-keyring"), PreserveFds: int(ctx.Uint("preserve-fds")),
	}
}

func createCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "create", Usage: "create a container", ArgsUsage: "<container-id>",
		Flags: createFlags(),
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "create", 1); err != nil {
				return err
			}
			_, err := e.RT.Create(ctx.Args().First(), createOpts(ctx))
			return err
		},
	}
}

func startCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "start", Usage: "start the user process of a created container", ArgsUsage: "<container-id>",
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "start", 1); err != nil {
				return err
			}
			return e.RT.Start(ctx.Args().First())
		},
	}
}

func runCommand(e *Env) *cli.Command {
	flags := append(createFlags(),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
	)
	return &cli.Command{
		Name: "run", Usage: "create and run a container", ArgsUsage: "<container-id>",
		Flags: flags,
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "run", 1); err != nil {
				return err
			}
			return runContainer(ctx, e, ctx.Args().First())
		},
	}
}

// runContainer is create + start, then (unless detached) wait, forwarding
// signals, delete, and exit with the container's status.
func runContainer(ctx *cli.Context, e *Env, id string) error {
	o := createOpts(ctx)
	detach := ctx.Bool("detach")
	var tty *ForegroundTTY
	if !detach && o.ConsoleSocket == "" {
		// A terminal with no console socket uses our own terminal.
		var err error
		if tty, err = newForegroundTTY(o.Bundle); err != nil {
			return err
		}
		if tty != nil {
			defer tty.Close()
			o.ConsoleSocket = tty.SocketPath()
		}
	}
	if !detach && !ctx.Bool("no-subreaper") {
		// Orphans of the container (without a pid namespace) reparent to
		// us, so we reap them instead of leaving zombies.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	// Catch signals before the container exists so none is lost.
	sigc := make(chan os.Signal, 128)
	caught := func() {}
	if !detach {
		caught = catchSignals(sigc)
	}
	child, err := e.RT.Create(id, o)
	if err != nil {
		return err
	}
	if err := e.RT.Start(id); err != nil {
		_ = e.RT.Delete(id, true)
		return err
	}
	if detach {
		return nil
	}
	if tty != nil {
		if err := tty.Attach(); err != nil {
			e.Log.Warnf("console: %v", err)
		}
	}
	status := waitForwardingAfter(child, sigc, caught)
	if tty != nil {
		tty.Close()
	}
	if !ctx.Bool("keep") {
		if err := e.RT.Delete(id, true); err != nil {
			e.Log.Warnf("deleting container: %v", err)
		}
	}
	if status != 0 {
		return &ExitError{Code: status}
	}
	return nil
}

// waitForwarding forwards the signals we receive to p until it exits, and
// returns its exit status (128+signal when killed). It reaps with wait4(-1)
// so that orphans reparented to us (we are a subreaper) do not linger.
func waitForwarding(p *runtime.Process, sigc chan os.Signal) int {
	return waitForwardingAfter(p, sigc, func() {})
}

// waitForwardingAfter is waitForwarding once caught returned (the wait of
// catchSignals).
func waitForwardingAfter(p *runtime.Process, sigc chan os.Signal, caught func()) int {
	caught()
	for {
		// Reap first: the child may have exited before we got here.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid == p.Pid() {
				return exitStatus(ws)
			}
		}
		sig := (<-sigc).(unix.Signal)
		switch sig {
		case unix.SIGCHLD:
		case unix.SIGURG:
			// Go's runtime uses SIGURG for preemption; not ours to forward.
		case unix.SIGWINCH:
			// The console proxy resizes the pty itself.
		default:
			_ = p.Signal(sig)
		}
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func stateCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "state", Usage: "output the state of a container", ArgsUsage: "<container-id>",
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "state", 1); err != nil {
				return err
			}
			st, err := e.RT.State(ctx.Args().First())
			if err != nil {
				return err
			}
			return PrintJSON(ctx, st)
		},
	}
}

// PrintJSON prints v as runc does: indented JSON.
func PrintJSON(ctx *cli.Context, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(ctx.App.Writer, string(b))
	return err
}

func killCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "kill", Usage: "send a signal to the container's init process", ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the signal to all processes in the container"}},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() < 1 || ctx.NArg() > 2 {
				return fmt.Errorf(`"kill" requires 1 or 2 arguments, got %d`, ctx.NArg())
			}
			sigName := "SIGTERM"
			if ctx.NArg() == 2 {
				sigName = ctx.Args().Get(1)
			}
			sig, err := signals.Parse(sigName)
			if err != nil {
				return err
			}
			return e.RT.Kill(ctx.Args().First(), sig, ctx.Bool("all"))
		},
	}
}

func deleteCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "delete", Usage: "delete a container and what it holds", ArgsUsage: "<container-id>",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forcibly delete the container if it is still running (uses SIGKILL)"}},
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "delete", 1); err != nil {
				return err
			}
			return e.RT.Delete(ctx.Args().First(), ctx.Bool("force"))
		},
	}
}

func listCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "list", Aliases: []string{"ls"}, Usage: "list containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(ctx *cli.Context) error {
			sts, err := e.RT.List()
			if err != nil {
				return err
			}
			w := ctx.App.Writer
			if ctx.Bool("quiet") {
				for _, s := range sts {
					fmt.Fprintln(w, s.ID)
				}
				return nil
			}
			switch ctx.String("format") {
			case "json":
				b, err := json.Marshal(sts)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(w, string(b))
				return err
			case "table":
				tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
				fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range sts {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
						s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return tw.Flush()
			default:
				return fmt.Errorf("--format: invalid format %q (want table or json)", ctx.String("format"))
			}
		},
	}
}
