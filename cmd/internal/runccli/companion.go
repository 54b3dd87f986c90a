package runccli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// CompanionName is the binary holding the Companion commands (pods,
// images, bundles, completion) and all they link: the YAML, CNI, registry
// and decompression code podrun's start path has no use for.
const CompanionName = "podrun-pod"

// CompleteCommand is the hidden command the completion scripts call
// (`podrun __complete WORDS...`); podrun-pod answers it.
const CompleteCommand = "__complete"

// companionCommands are the top-level commands podrun-pod runs.
var companionCommands = map[string]bool{"image": true, "bundle": true, "pod": true, "completion": true}

// Stubs are the Companion commands as the lean podrun lists them in its
// help: the names and usages of podrun-pod's (a test there keeps them
// equal). podrun hands their command lines to podrun-pod before parsing
// (CompanionLine); a line that reaches a stub anyway runs run, which does
// the same.
func Stubs(run func() error) Companion {
	stub := func(name, usage string) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, SkipFlagParsing: true, HideHelp: true,
			Action: func(*cli.Context) error { return run() }}
	}
	return Companion{
		Image:      stub("image", "manage images (import, pull, ls, inspect, rm, prune)"),
		Bundle:     stub("bundle", "write an OCI bundle (config.json from the image's config) whose rootfs is an image's overlay"),
		Pod:        stub("pod", "run Kubernetes Pod manifests on this host"),
		Completion: stub("completion", "print a shell completion script (bash or zsh)"),
	}
}

// CompanionLine reports whether the command line args (os.Args form) is
// podrun-pod's: a completion request, or a line whose command (the first
// word after the global flags, as the parser finds it) is a Companion
// command. Anything unclear (an unknown global flag) is podrun's to parse
// and refuse.
func CompanionLine(args []string) bool {
	if len(args) < 2 {
		return false
	}
	if args[1] == CompleteCommand {
		return true
	}
	flags := append(globalFlags(), cli.HelpFlag, cli.VersionFlag)
	for i := 1; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			return false
		}
		if len(tok) < 2 || tok[0] != '-' {
			return companionCommands[tok]
		}
		name, _, eq := strings.Cut(strings.TrimPrefix(tok[1:], "-"), "=")
		f := FindFlag(flags, name)
		if f == nil {
			return false
		}
		if tv, ok := f.(cli.DocGenerationFlag); ok && tv.TakesValue() && !eq {
			i++ // its value
		}
	}
	return false
}

// FindFlag is the flag of flags one of whose names is name, or nil.
func FindFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}
