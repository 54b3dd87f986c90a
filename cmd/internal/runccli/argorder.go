package runccli

import (
	"flag"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// runc 1.1 parses its command line with urfave/cli v1, which moves a
// command's flags in front of its positional arguments before parsing
// (reorderArgs), so `runc update ID --memory 1` and `runc delete ID --force`
// work. urfave/cli v2, which podrun uses, stops at the first positional
// argument. reorderCommandArgs does v1's reordering for the runc commands,
// so podrun accepts every order runc accepts.
//
// One deliberate difference: v1 does not know the flags' types and takes
// the word after any flag written without "=" as its value, so in runc a
// bool flag swallows the next positional argument into the flags
// (`runc run -d ID --bundle B` fails: "requires exactly 1 argument(s)",
// `runc kill ID --all 9` kills container "9" with signal "ID"). Here a bool
// flag never takes the next word, so those orders mean what they say; every
// order runc parses sensibly is parsed the same.

// noReorder are runc's commands with SkipArgReorder: everything after the
// container id is the command to run (exec) or ps(1)'s arguments (ps), even
// when it starts with "-".
var noReorder = map[string]bool{"exec": true, "ps": true}

// reorderRuncArgs returns args (os.Args form) with the flags of a top-level
// runc command moved before its positional arguments. Anything it does not
// recognise (no command, a podrun-only command group, unparsable global
// flags) is returned unchanged for the parser to judge.
func reorderRuncArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Find the command the way the parser will: after the global flags.
	global := flag.NewFlagSet(app.Name, flag.ContinueOnError)
	global.SetOutput(io.Discard)
	for _, f := range app.Flags {
		if err := f.Apply(global); err != nil {
			return args
		}
	}
	if err := global.Parse(args[1:]); err != nil || global.NArg() == 0 {
		return args
	}
	rest := global.Args()
	cmd := app.Command(rest[0])
	if cmd == nil || len(cmd.Subcommands) > 0 || cmd.SkipFlagParsing || noReorder[cmd.Name] {
		return args
	}
	head := len(args) - len(rest) + 1 // through the command name
	out := append([]string{}, args[:head]...)
	return append(out, reorderArgs(takesValue(cmd.Flags), args[head:])...)
}

// takesValue maps every name of flags to whether it takes a value (false for
// bool flags). The help flag v2 adds is a bool.
func takesValue(flags []cli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		tv := true
		if d, ok := f.(cli.DocGenerationFlag); ok {
			tv = d.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = tv
		}
	}
	return m
}

// reorderArgs is urfave/cli v1's reorderArgs knowing which flags take a
// value: flags (with their values) first, in order, then the positional
// arguments, in order. "--" and everything after it stay positional, and
// "-" is positional. A flag taking a value written without "=" takes the
// next word whatever it is, as Go's flag package does. A word that is not
// one of the command's flags stays where it is, as v1's argIsFlag decides:
// `runc kill ID -1` is signal "-1" (refused as unknown), not a flag.
func reorderArgs(value map[string]bool, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-"), "=")
		tv, known := value[name]
		if arg == "-" || !strings.HasPrefix(arg, "-") || !known {
			positional = append(positional, arg)
			continue
		}
		flags = append(flags, arg)
		if !hasValue && tv && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, positional...)
}
