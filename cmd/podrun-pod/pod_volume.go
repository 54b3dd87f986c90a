package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/urfave/cli/v2"
)

// podVolumeCommand manages the named volumes of persistentVolumeClaims,
// which outlive their pods (as podman's `volume` commands for kube play).
func podVolumeCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "volume", Usage: "list or remove the volumes of persistentVolumeClaims (they outlive their pods)",
		Subcommands: []*cli.Command{
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list the claims' volumes and the pods using them",
				Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json for JSON"}},
				Action: func(ctx *cli.Context) error {
					m, err := podManager(ctx, e)
					if err != nil {
						return err
					}
					cs, err := m.Claims()
					if err != nil {
						return err
					}
					if ctx.String("output") == "json" {
						b, err := json.MarshalIndent(cs, "", "  ")
						if err != nil {
							return err
						}
						_, err = fmt.Fprintf(ctx.App.Writer, "%s\n", b)
						return err
					}
					w := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 3, ' ', 0)
					fmt.Fprintln(w, "NAME\tUSED BY")
					for _, c := range cs {
						fmt.Fprintf(w, "%s\t%s\n", c.Name, strings.Join(c.Pods, ","))
					}
					return w.Flush()
				},
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove claims' volumes and their data (not while a pod uses them)", ArgsUsage: "NAME...",
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() == 0 {
						return fmt.Errorf("\"pod volume rm\" requires a volume name")
					}
					m, err := podManager(ctx, e)
					if err != nil {
						return err
					}
					for _, n := range ctx.Args().Slice() {
						if err := m.RemoveClaim(n); err != nil {
							return err
						}
					}
					return nil
				},
			},
		},
	}
}
