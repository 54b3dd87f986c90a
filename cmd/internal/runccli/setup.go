package runccli

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/internal/logs"
	"github.com/podrun/podrun/runtime"
)

func specVersion() string { return specs.Version }

// setup builds the runtime and logger from the global flags.
func setup(ctx *cli.Context, e *Env, stderr io.Writer) error {
	var w io.Writer = stderr
	if path := ctx.String("log"); path != "" {
		f, err := logs.OpenFile(path)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		w = f
		e.logToFile = true
	}
	l, err := logs.New(w, ctx.String("log-format"), ctx.Bool("debug"))
	if err != nil {
		return fmt.Errorf("--log-format: %w", err)
	}
	e.Log = l
	switch ctx.String("rootless") {
	case "auto", "false":
	case "true":
		return errors.New("--rootless=true: rootless containers are not supported yet")
	default:
		return fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", ctx.String("rootless"))
	}
	if ctx.String("criu") != "" {
		return errors.New("--criu: checkpoint/restore is not supported")
	}
	e.RT = runtime.New(ctx.String("root"), l)
	if ctx.Bool("systemd-cgroup") {
		e.RT.UseSystemd()
	}
	return nil
}

// requireID returns the container id argument, with runc's error text.
func requireID(ctx *cli.Context, name string) (string, error) {
	if ctx.NArg() < 1 {
		return "", fmt.Errorf("%q requires a container id", name)
	}
	return ctx.Args().First(), nil
}

// CheckArgs enforces an exact argument count.
func CheckArgs(ctx *cli.Context, name string, n int) error {
	if ctx.NArg() != n {
		return fmt.Errorf("%q requires exactly %d argument(s), got %d", name, n, ctx.NArg())
	}
	return nil
}

// StdioFiles are podrun's own stdio, handed to a foreground process.
func StdioFiles() [3]*os.File { return [3]*os.File{os.Stdin, os.Stdout, os.Stderr} }
