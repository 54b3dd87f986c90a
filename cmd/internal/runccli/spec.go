package runccli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/runtime"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name: "spec", Usage: "create a new specification file (config.json)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(ctx *cli.Context) error {
			s := runtime.DefaultSpec()
			if ctx.Bool("rootless") {
				runtime.ToRootless(s)
			}
			path := filepath.Join(ctx.String("bundle"), "config.json")
			if _, err := os.Stat(path); err == nil {
				return errors.New("File config.json exists. Remove it first")
			}
			b, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, b, 0o666); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			return nil
		},
	}
}

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name: "features", Usage: "show the enabled features",
		Action: func(ctx *cli.Context) error {
			return PrintJSON(ctx, runtime.Features())
		},
	}
}
