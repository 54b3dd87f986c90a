package main

// The kubectl-like command trees (pod, image, bundle) take flags anywhere,
// as kubectl (cobra) does: `pod logs demo -c web -f`. urfave/cli stops
// parsing flags at the first positional argument, so the arguments are
// put in its order before it sees them. The runc-compatible commands keep
// runc's parsing and are never touched.

import (
	"fmt"
	"io"
	"strings"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/urfave/cli/v2"
)

// kubectlTrees are the top-level commands parsed the kubectl way.
var kubectlTrees = map[string]bool{"pod": true, "image": true, "bundle": true}

// dashCommands take a command after "--" (kubectl exec): the "--" stays
// after the positional arguments before it, so the command knows where
// the command starts.
var dashCommands = map[string]bool{"pod exec": true}

// cmdLevel is one command of the chain from the app down to the command
// being run, with the flag tokens that belong to it.
type cmdLevel struct {
	cmd   *cli.Command // nil for the app
	flags []cli.Flag
	out   []string
}

func (l *cmdLevel) subcommands(app *cli.App) []*cli.Command {
	if l.cmd == nil {
		return app.Commands
	}
	return l.cmd.Subcommands
}

// path is the command's name as typed without "podrun" ("pod logs").
func path(chain []*cmdLevel) string {
	var names []string
	for _, l := range chain[1:] {
		names = append(names, l.cmd.Name)
	}
	return strings.Join(names, " ")
}

// walked is what walking a command line found.
type walked struct {
	chain       []*cmdLevel
	positionals []string
	dash        bool     // a "--" was given
	afterDash   []string // the arguments after it
	// pending is the value-taking flag the line ends with (no value yet).
	pending cli.Flag
	// help: --help (-h) was given; help is printed, the arguments do not
	// matter.
	help bool
	// values are the values of the flags given, by first name.
	values map[string]string
}

// leaf is the command the line runs.
func (w *walked) leaf() *cmdLevel { return w.chain[len(w.chain)-1] }

// flagValue is the value of flag NAME (its first name) on the line, the
// last one given ("" if none).
func (w *walked) flagValue(name string) string { return w.values[name] }

// splitFlag is a flag token's name and its =value.
func splitFlag(tok string) (name, value string, eq bool) {
	name = strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	name, value, eq = strings.Cut(name, "=")
	return name, value, eq
}

// isFlag reports whether tok is a flag token (Go's flag package rules).
func isFlag(tok string) bool {
	return len(tok) > 1 && tok[0] == '-' && tok != "--"
}

func levelFlags(app *cli.App, cmd *cli.Command) []cli.Flag {
	if cmd == nil {
		fl := append([]cli.Flag{}, app.Flags...)
		if !app.HideVersion {
			fl = append(fl, cli.VersionFlag)
		}
		return append(fl, cli.HelpFlag)
	}
	fl := append([]cli.Flag{}, cmd.Flags...)
	if !cmd.HideHelp {
		fl = append(fl, cli.HelpFlag)
	}
	return fl
}

func flagTakesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

// shortOpts reports whether tok is -xyz, single-letter flags of a command
// that combines them (urfave's UseShortOptionHandling: -it); all but the
// last must be booleans (-ic web: the value is -c's).
func shortOpts(l *cmdLevel, tok string) bool {
	if l.cmd == nil || !l.cmd.UseShortOptionHandling || len(tok) < 3 || tok[1] == '-' || strings.Contains(tok, "=") {
		return false
	}
	for i, c := range tok[1:] {
		f := runccli.FindFlag(l.flags, string(c))
		if f == nil || (flagTakesValue(f) && i != len(tok)-2) {
			return false
		}
	}
	return true
}

// lookup finds flag NAME in the nearest command of the chain defining it.
func (w *walked) lookup(name string) (cli.Flag, *cmdLevel) {
	for j := len(w.chain) - 1; j >= 0; j-- {
		if f := runccli.FindFlag(w.chain[j].flags, name); f != nil {
			return f, w.chain[j]
		}
	}
	return nil, nil
}

// walk follows a command line (without the program name) down the
// command tree. Each flag goes to the nearest command of the chain that
// defines it, its value with it. enter reports whether to go on into a
// top-level command; when it says no, walk stops there (ok false).
func walk(app *cli.App, args []string, enter func(name string) bool) (w *walked, ok bool, err error) {
	w = &walked{chain: []*cmdLevel{{flags: levelFlags(app, nil)}}, values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		tok := args[i]
		cur := w.leaf()
		switch {
		case tok == "--":
			if len(w.chain) == 1 {
				return w, false, nil
			}
			w.dash, w.afterDash = true, args[i+1:]
			return w, true, nil
		case isFlag(tok):
			name, value, eq := splitFlag(tok)
			f, at := w.lookup(name)
			if f == nil {
				if shortOpts(cur, tok) {
					// the last letter's flag: its value follows if it takes one
					at, f = cur, runccli.FindFlag(cur.flags, tok[len(tok)-1:])
				}
			}
			if f == nil {
				if len(w.chain) == 1 {
					return w, false, nil // urfave reports it
				}
				return w, true, fmt.Errorf("%s: unknown flag %s", path(w.chain), tok)
			}
			at.out = append(at.out, tok)
			w.help = w.help || f == cli.HelpFlag
			if flagTakesValue(f) && !eq {
				if i+1 == len(args) {
					w.pending = f
					return w, true, fmt.Errorf("%s: flag %s needs a value", path(w.chain), tok)
				}
				i++
				at.out = append(at.out, args[i])
				value = args[i]
			}
			w.values[f.Names()[0]] = value
		default:
			if len(w.positionals) == 0 {
				var sub *cli.Command
				for _, c := range cur.subcommands(app) {
					if c.HasName(tok) {
						sub = c
					}
				}
				if sub != nil {
					if len(w.chain) == 1 && !enter(sub.Name) {
						return w, false, nil
					}
					w.chain = append(w.chain, &cmdLevel{cmd: sub, flags: levelFlags(app, sub)})
					continue
				}
				if len(w.chain) == 1 {
					return w, false, nil
				}
			}
			w.positionals = append(w.positionals, tok)
		}
	}
	return w, len(w.chain) > 1, nil
}

// kubectlLine prepares the command line (a runccli.Prepare): `podrun
// __complete ...` is answered here (done), a pod, image or bundle line is
// put in urfave's order (or refused: done, exit 1).
func kubectlLine(app *cli.App, args []string, stdout, stderr io.Writer) (_ []string, code int, done bool) {
	if len(args) > 1 && args[1] == runccli.CompleteCommand {
		return nil, complete(app, args[2:], stdout), true
	}
	args, err := kubectlArgs(app, args)
	if err != nil {
		fmt.Fprintln(stderr, "podrun: "+err.Error())
		return nil, 1, true
	}
	return args, 0, false
}

// kubectlArgs puts a pod, image or bundle command line in urfave's order:
// each command's flags right after its name, then the positional
// arguments, and "--" with what follows it untouched. Other command lines
// are returned as they are.
func kubectlArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	w, ok, err := walk(app, args[1:], func(name string) bool { return kubectlTrees[name] })
	if !ok {
		return args, nil
	}
	if err != nil {
		return nil, err
	}
	out := []string{args[0]}
	for i, l := range w.chain {
		if i > 0 {
			out = append(out, l.cmd.Name)
		}
		out = append(out, l.out...)
	}
	switch {
	case w.help:
		// urfave would take an argument after --help for a help topic.
	case !w.dash:
		out = append(out, w.positionals...)
	case dashCommands[path(w.chain)]:
		out = append(append(append(out, w.positionals...), "--"), w.afterDash...)
	default:
		out = append(append(append(out, "--"), w.positionals...), w.afterDash...)
	}
	return out, nil
}
