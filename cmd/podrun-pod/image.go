package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/image/fetch"
	"github.com/podrun/podrun/runtime"
)

func storeFlag() cli.Flag {
	return &cli.StringFlag{
		Name: "store", EnvVars: []string{"PODRUN_STORE"}, Value: image.DefaultDir,
		Usage: "image store directory",
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// openStore opens the --store; progress goes to stderr when it is a
// terminal.
func openStore(ctx *cli.Context) (*image.Store, error) {
	s, err := image.Open(ctx.String("store"))
	if err != nil {
		return nil, err
	}
	if w, ok := ctx.App.ErrWriter.(*os.File); ok && isTerminal(w) && !ctx.Bool("quiet") {
		s.Progress = w
	}
	return s, nil
}

// interruptible returns a context cancelled by SIGINT or SIGTERM, so an
// import stops cleanly (its staging is removed).
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
}

func imageCommand() *cli.Command {
	quiet := &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image IDs"}
	return &cli.Command{
		Name: "image", Usage: "manage images (import, pull, ls, inspect, rm, prune)",
		Subcommands: []*cli.Command{
			{
				Name: "import", Usage: "import an OCI image layout, OCI archive or docker-save archive",
				ArgsUsage: "PATH",
				Flags: []cli.Flag{storeFlag(), quiet,
					&cli.StringFlag{Name: "name", Usage: "name the image NAME[:TAG] (default: the archive's names)"}},
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return errors.New("image import: takes one PATH")
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					c, cancel := interruptible()
					defer cancel()
					img, err := fetch.Import(c, s, ctx.Args().First(), fetch.ImportOptions{Name: ctx.String("name")})
					if err != nil {
						return err
					}
					return printImported(ctx, img)
				},
			},
			{
				Name: "pull", Usage: "pull an image from a registry", ArgsUsage: "REF",
				Flags: []cli.Flag{storeFlag(), quiet,
					&cli.StringFlag{Name: "name", Usage: "name the image NAME[:TAG] (default: REF)"},
					&cli.BoolFlag{Name: "plain-http", Usage: "talk http, not https, to the registry (loopback registries always use http)"},
					&cli.StringFlag{Name: "docker-config", Usage: "docker config.json with credentials (default ~/.docker/config.json)"},
					&cli.DurationFlag{Name: "timeout", Value: fetch.DefaultPullTimeout, Usage: "give up a pull not done after this long (0: never)"},
					&cli.DurationFlag{Name: "idle-timeout", Value: fetch.DefaultIdleTimeout, Usage: "give up when the registry sends nothing for this long (0: never)"}},
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return errors.New("image pull: takes one REF")
					}
					// The flags' 0 is "never"; PullOptions' is "the default".
					bound := func(name string) (time.Duration, error) {
						d := ctx.Duration(name)
						if d < 0 {
							return 0, fmt.Errorf("image pull: --%s %s is negative", name, d)
						}
						if d == 0 {
							return -1, nil
						}
						return d, nil
					}
					timeout, err := bound("timeout")
					if err != nil {
						return err
					}
					idle, err := bound("idle-timeout")
					if err != nil {
						return err
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					c, cancel := interruptible()
					defer cancel()
					img, err := fetch.Pull(c, s, ctx.Args().First(), fetch.PullOptions{
						Name: ctx.String("name"), PlainHTTP: ctx.Bool("plain-http"), DockerConfig: ctx.String("docker-config"),
						Timeout: timeout, IdleTimeout: idle,
					})
					if err != nil {
						return err
					}
					return printImported(ctx, img)
				},
			},
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list images",
				Flags: []cli.Flag{storeFlag(), quiet,
					&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
				Action: func(ctx *cli.Context) error {
					s, err := image.Open(ctx.String("store"))
					if err != nil {
						return err
					}
					imgs, err := s.Images()
					if err != nil {
						return err
					}
					if ctx.Bool("quiet") {
						for _, img := range imgs {
							fmt.Fprintln(ctx.App.Writer, img.ID)
						}
						return nil
					}
					switch ctx.String("format") {
					case "json":
						if imgs == nil {
							imgs = []*image.Image{}
						}
						return runccli.PrintJSON(ctx, imgs)
					case "table":
					default:
						return fmt.Errorf("--format: invalid value %q (want table or json)", ctx.String("format"))
					}
					w := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 3, ' ', 0)
					fmt.Fprintln(w, "NAME\tIMAGE ID\tPLATFORM\tLAYERS\tSIZE")
					for _, img := range imgs {
						names := img.Names
						if len(names) == 0 {
							names = []string{"<none>"}
						}
						for _, n := range names {
							fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", n, img.ShortID(), img.Platform, len(img.Layers), humanSize(img.Size))
						}
					}
					return w.Flush()
				},
			},
			{
				Name: "inspect", Usage: "show an image's record, config and manifest as JSON", ArgsUsage: "NAME|ID",
				Flags: []cli.Flag{storeFlag()},
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return errors.New("image inspect: takes one NAME or ID")
					}
					s, err := image.Open(ctx.String("store"))
					if err != nil {
						return err
					}
					img, err := s.Lookup(ctx.Args().First())
					if err != nil {
						return err
					}
					cfg, err := s.Config(img)
					if err != nil {
						return err
					}
					out := struct {
						*image.Image
						Config   *image.Config   `json:"config"`
						Manifest *image.Manifest `json:"manifestContent,omitempty"`
					}{Image: img, Config: cfg}
					if img.Manifest != "" {
						if raw, err := s.Blob(img.Manifest); err == nil {
							var m image.Manifest
							if json.Unmarshal(raw, &m) == nil {
								out.Manifest = &m
							}
						}
					}
					return runccli.PrintJSON(ctx, out)
				},
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove images (a name of an image with several names is untagged)",
				ArgsUsage: "NAME|ID...",
				Flags: []cli.Flag{storeFlag(),
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove even if containers use it (their layers stay until they are deleted)"}},
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() < 1 {
						return errors.New("image rm: takes at least one NAME or ID")
					}
					s, err := image.Open(ctx.String("store"))
					if err != nil {
						return err
					}
					for _, ref := range ctx.Args().Slice() {
						untagged, removed, err := s.Remove(ref, image.RemoveOptions{Force: ctx.Bool("force")})
						if err != nil {
							return err
						}
						for _, n := range untagged {
							fmt.Fprintf(ctx.App.Writer, "untagged: %s\n", n)
						}
						if removed != nil {
							fmt.Fprintf(ctx.App.Writer, "deleted: %s\n", removed.ID)
						}
					}
					return nil
				},
			},
			{
				Name: "prune", Usage: "remove unnamed images no container uses, and unused layers",
				Flags: []cli.Flag{storeFlag(),
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses"}},
				Action: func(ctx *cli.Context) error {
					s, err := image.Open(ctx.String("store"))
					if err != nil {
						return err
					}
					rep, err := s.Prune(image.PruneOptions{All: ctx.Bool("all")})
					if err != nil {
						return err
					}
					for _, id := range rep.Images {
						fmt.Fprintf(ctx.App.Writer, "deleted: %s\n", id)
					}
					fmt.Fprintf(ctx.App.Writer, "removed %d layers, %s\n", rep.Layers, humanSize(rep.BytesFreed))
					return nil
				},
			},
		},
	}
}

func printImported(ctx *cli.Context, img *image.Image) error {
	if ctx.Bool("quiet") {
		_, err := fmt.Fprintln(ctx.App.Writer, img.ID)
		return err
	}
	names := strings.Join(img.Names, ", ")
	if names == "" {
		names = "<none>"
	}
	_, err := fmt.Fprintf(ctx.App.Writer, "%s %s (%d layers, %s)\n", img.ID, names, len(img.Layers), humanSize(img.Size))
	return err
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func bundleCommand() *cli.Command {
	return &cli.Command{
		Name: "bundle", Usage: "write an OCI bundle (config.json from the image's config) whose rootfs is an image's overlay",
		ArgsUsage: "DIR",
		Description: "The bundle's config.json names the image's layers in annotations; `podrun create/run`\n" +
			"mounts them as an overlayfs on the rootfs, inside the container's mount namespace, with a\n" +
			"private upper dir that `podrun delete` removes. The bundle's rootfs/ stays empty on the host.",
		Flags: []cli.Flag{storeFlag(),
			&cli.StringFlag{Name: "image", Aliases: []string{"i"}, Required: true, Usage: "image NAME or ID"},
			&cli.BoolFlag{Name: "terminal", Aliases: []string{"t"}, Usage: "set process.terminal (for an interactive shell)"}},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return errors.New("bundle: takes one DIR")
			}
			dir, err := filepath.Abs(ctx.Args().First())
			if err != nil {
				return err
			}
			s, err := image.Open(ctx.String("store"))
			if err != nil {
				return err
			}
			img, err := s.Lookup(ctx.String("image"))
			if err != nil {
				return err
			}
			base := runtime.DefaultSpec()
			base.Process.Terminal = ctx.Bool("terminal")
			_, err = s.WriteBundle(img, ctx.String("image"), base, dir)
			return err
		},
	}
}
