package main

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/console"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/supervisor"
)

// podAttachCommand is kubectl attach: our terminal to a running
// container's stdin and output, through the pod's supervisor.
func podAttachCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:                   "attach",
		Usage:                  "attach to a running container's output (and stdin with -i)",
		ArgsUsage:              "NAME",
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name (default: the first app container)"},
			&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "pass stdin to the container (it needs stdin: true)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "stdin is a TTY: raw mode, its size to the container's tty"},
		},
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod attach")
			if err != nil {
				return err
			}
			name := ctx.String("container")
			if name == "" && len(sb.Pod.Spec.Containers) > 0 {
				name = sb.Pod.Spec.Containers[0].Name
			}
			c, _, _, ok := pod.FindContainer(sb.Pod, name)
			if !ok {
				return fmt.Errorf("pod %s has no container %q", sb.Name, name)
			}
			o := supervisor.AttachOptions{Container: name, Out: os.Stdout}
			if ctx.Bool("stdin") {
				o.Stdin = os.Stdin
			}
			if ctx.Bool("tty") {
				switch {
				case !c.TTY:
					fmt.Fprintf(os.Stderr, "Unable to use a TTY - container %s did not allocate one\n", name)
				case console.IsTerminal(os.Stdin.Fd()):
					o.Rows, o.Cols, _ = console.GetWinsize(os.Stdin)
					if ctx.Bool("stdin") {
						st, err := console.MakeRaw(os.Stdin.Fd())
						if err != nil {
							return err
						}
						defer st.Restore()
					}
				}
			}
			if c.TTY && o.Stdin != nil {
				fmt.Fprintln(os.Stderr, "If you don't see a command prompt, try pressing enter.")
			}
			return supervisor.Attach(sb, o)
		},
	}
}

// sizeFromTerminal gives a pod exec -t process our terminal's size from
// the start (process.consoleSize): the proxy's resize comes only after
// the process runs, and a command that asks at once saw 0x0.
func sizeFromTerminal(p *specs.Process) {
	if !console.IsTerminal(os.Stdin.Fd()) {
		return
	}
	if rows, cols, err := console.GetWinsize(os.Stdin); err == nil && rows > 0 && cols > 0 {
		p.ConsoleSize = &specs.Box{Height: uint(rows), Width: uint(cols)}
	}
}
