package runccli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/internal/userfile"
	"github.com/podrun/podrun/runtime"
)

func execCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "exec", Usage: "execute new process inside the container",
		ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive the pty master"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the process id to"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.UintFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: func(ctx *cli.Context) error {
			id, err := requireID(ctx, "exec")
			if err != nil {
				return err
			}
			if err := execContainer(ctx, e, id); err != nil {
				var ee *ExitError
				if errors.As(err, &ee) {
					return err
				}
				// runc exits 255 when the process could not be run;
				// shims tell it from the process's own status this way.
				return &ExitError{Code: 255, Err: fmt.Errorf("exec failed: %w", err)}
			}
			return nil
		},
	}
}

// execContainer runs the process of `exec` in container id; an ExitError
// is the process's status.
func execContainer(ctx *cli.Context, e *Env, id string) error {
	p, ov, err := execProcess(ctx)
	if err != nil {
		return err
	}
	terminal := ov != nil && ov.Terminal || p != nil && p.Terminal
	detach := ctx.Bool("detach")
	o := runtime.ExecOpts{Process: p, Overrides: ov, PidFile: ctx.String("pid-file"),
		ConsoleSocket: ctx.String("console-socket"), PreserveFds: int(ctx.Uint("preserve-fds")),
		IgnorePaused: ctx.Bool("ignore-paused"), SubCgroups: ctx.StringSlice("cgroup")}
	var tty *ForegroundTTY
	if terminal && o.ConsoleSocket == "" && !detach {
		if tty, err = NewTTYForProcess(); err != nil {
			return err
		}
		defer tty.Close()
		o.ConsoleSocket = tty.SocketPath()
	}
	var sigc chan os.Signal
	caught := func() {}
	if !detach {
		sigc = make(chan os.Signal, 128)
		caught = catchSignals(sigc)
	}
	child, err := e.RT.Exec(id, o)
	if err != nil {
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
	if code := waitForwardingAfter(child, sigc, caught); code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// execProcess reads --process, or else returns the flags' changes to the
// container's process, like runc exec (runtime.Exec applies them to the
// state it loads anyway).
func execProcess(ctx *cli.Context) (*specs.Process, *runtime.ExecOverrides, error) {
	if path := ctx.String("process"); path != "" {
		b, err := userfile.ReadFile(path)
		if err == nil {
			err = userfile.CheckDepth(b)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--process %s: %w", path, err)
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, nil, fmt.Errorf("--process %s: %v", path, err)
		}
		return &p, nil, nil
	}
	args := ctx.Args().Tail()
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("exec: process args cannot be empty")
	}
	o := runtime.ExecOverrides{Args: args, Env: ctx.StringSlice("env"), Cwd: ctx.String("cwd"),
		Caps: ctx.StringSlice("cap"), Terminal: ctx.Bool("tty"), NoNewPrivileges: ctx.Bool("no-new-privs"),
		ApparmorProfile: ctx.String("apparmor"), SelinuxLabel: ctx.String("process-label")}
	if u := ctx.String("user"); u != "" || len(ctx.Int64Slice("additional-gids")) > 0 {
		user, err := parseUser(u)
		if err != nil {
			return nil, nil, err
		}
		for _, g := range ctx.Int64Slice("additional-gids") {
			user.AdditionalGids = append(user.AdditionalGids, uint32(g))
		}
		o.User = user
	}
	return nil, &o, nil
}

// parseUser parses --user uid[:gid].
func parseUser(s string) (*specs.User, error) {
	u := &specs.User{}
	if s == "" {
		return u, nil
	}
	uid, gid, hasGid := strings.Cut(s, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("--user: invalid uid %q", uid)
	}
	u.UID = uint32(n)
	if hasGid {
		n, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user: invalid gid %q", gid)
		}
		u.GID = uint32(n)
	}
	return u, nil
}

func psCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "ps", Usage: "ps displays the processes running inside a container",
		ArgsUsage: "<container-id> [ps options]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
		Action: func(ctx *cli.Context) error {
			id, err := requireID(ctx, "ps")
			if err != nil {
				return err
			}
			pids, err := e.RT.Ps(id)
			if err != nil {
				return err
			}
			switch ctx.String("format") {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				_, err := fmt.Fprintln(ctx.App.Writer, string(b))
				return err
			case "table":
				return psTable(ctx, pids)
			default:
				return fmt.Errorf("--format: invalid format %q (want table or json)", ctx.String("format"))
			}
		},
	}
}

// psTable runs ps(1) with the given options (default -ef) and keeps the
// header and the lines of the container's pids, as runc does.
func psTable(ctx *cli.Context, pids []int) error {
	args := ctx.Args().Tail()
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("running ps %s: %w", strings.Join(args, " "), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return fmt.Errorf("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return fmt.Errorf("ps output has no PID column")
	}
	fmt.Fprintln(ctx.App.Writer, header)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) <= col {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
			fmt.Fprintln(ctx.App.Writer, sc.Text())
		}
	}
	return nil
}
