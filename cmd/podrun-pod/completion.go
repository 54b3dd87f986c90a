package main

// Shell completion as cobra (kubectl) does it: `podrun completion bash|zsh`
// prints a small script whose completion function runs the hidden
// `podrun __complete WORDS... CURRENT`, which prints the candidates, one a
// line, then a directive line (":files": let the shell complete file
// names; ":none"). One mechanism for both shells, and the names of pods
// and containers come from the pods' records under --root.
// urfave/cli's --generate-bash-completion is not used: it completes
// command and flag names only, runs the app's Before (the runtime setup)
// and has no notion of a flag's value such as -c CONTAINER.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

const (
	directiveFiles = "files"
	directiveNone  = "none"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name: "completion", Usage: "print a shell completion script (bash or zsh)", ArgsUsage: "bash|zsh",
		Description: "bash: source <(podrun completion bash)\n" +
			"zsh:  source <(podrun completion zsh)   (after compinit)",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return errors.New("completion: takes one shell: bash or zsh")
			}
			switch sh := ctx.Args().First(); sh {
			case "bash":
				_, err := io.WriteString(ctx.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(ctx.App.Writer, zshCompletion)
				return err
			default:
				return fmt.Errorf("completion: unknown shell %q (want bash or zsh)", sh)
			}
		},
	}
}

// complete prints the candidates for the last word of words. It never
// fails: a shell asking has nothing to do with an error.
func complete(app *cli.App, words []string, stdout io.Writer) int {
	defer func() { recover() }()
	cands, directive := completions(app, words)
	var b strings.Builder
	for _, c := range cands {
		b.WriteString(c + "\n")
	}
	b.WriteString(":" + directive + "\n")
	io.WriteString(stdout, b.String())
	return 0
}

// completions are the candidates for the last word of words (the command
// line after "podrun", the word being completed last, maybe empty).
func completions(app *cli.App, words []string) ([]string, string) {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	w, _, err := walk(app, words[:len(words)-1], func(string) bool { return true })
	switch {
	case w.dash:
		return nil, directiveFiles // a command's arguments (pod exec -- CMD)
	case err != nil && w.pending != nil:
		return flagValues(app, w, w.pending, cur)
	case err != nil:
		return nil, directiveNone
	case strings.HasPrefix(cur, "-") && strings.Contains(cur, "="):
		// --flag=value: the values, each with its --flag=
		name, value, _ := splitFlag(cur)
		f, _ := w.lookup(name)
		if f == nil || !flagTakesValue(f) {
			return nil, directiveNone
		}
		vals, directive := flagValues(app, w, f, value)
		for i, v := range vals {
			vals[i] = cur[:len(cur)-len(value)] + v
		}
		return vals, directive
	case strings.HasPrefix(cur, "-"):
		return withPrefix(flagNames(w), cur), directiveNone
	}
	l := w.leaf()
	if len(w.positionals) == 0 {
		var names []string
		for _, c := range l.subcommands(app) {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		if len(names) > 0 {
			return withPrefix(names, cur), directiveNone
		}
	}
	switch {
	case l.cmd == nil:
		return nil, directiveNone
	case l.cmd.Name == "completion":
		return withPrefix([]string{"bash", "zsh"}, cur), directiveNone
	case tree(w) == "pod" && strings.HasPrefix(l.cmd.ArgsUsage, "NAME"):
		if len(w.positionals) == 0 {
			return withPrefix(podNames(app, w), cur), directiveNone
		}
		return nil, directiveNone
	case tree(w) == "image" && strings.HasPrefix(l.cmd.ArgsUsage, "NAME|ID"):
		if len(w.positionals) == 0 || strings.HasSuffix(l.cmd.ArgsUsage, "...") {
			return withPrefix(imageNames(w), cur), directiveNone
		}
		return nil, directiveNone
	}
	return nil, directiveFiles
}

// tree is the line's top-level command ("" for none).
func tree(w *walked) string {
	if len(w.chain) < 2 {
		return ""
	}
	return w.chain[1].cmd.Name
}

// flagNames are the flags of the command and of the commands above it.
func flagNames(w *walked) []string {
	var out []string
	for i := len(w.chain) - 1; i >= 0; i-- {
		for _, f := range w.chain[i].flags {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					out = append(out, "-"+n)
				} else {
					out = append(out, "--"+n)
				}
			}
		}
	}
	return out
}

// flagValues are the values of flag f: container names for -c, the
// formats its usage names for -o, file names for the rest.
func flagValues(app *cli.App, w *walked, f cli.Flag, cur string) ([]string, string) {
	name := f.Names()[0]
	switch {
	case name == "container" && tree(w) == "pod":
		if len(w.positionals) == 0 {
			return nil, directiveNone
		}
		return withPrefix(containerNames(app, w, w.positionals[0]), cur), directiveNone
	case name == "image" && tree(w) == "bundle":
		return withPrefix(imageNames(w), cur), directiveNone
	case name == "output":
		var formats []string
		if d, ok := f.(cli.DocGenerationFlag); ok {
			for _, word := range strings.FieldsFunc(d.GetUsage(), func(r rune) bool { return r == ' ' || r == ',' || r == '(' || r == ')' }) {
				if slices.Contains([]string{"json", "yaml", "wide"}, word) {
					formats = append(formats, word)
				}
			}
		}
		return withPrefix(formats, cur), directiveNone
	}
	return nil, directiveFiles
}

func withPrefix(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// podStates is the pods' state directory of the line's --root.
func podStates(app *cli.App, w *walked) *pod.Manager {
	root := w.flagValue("root")
	if root == "" {
		if f, ok := runccli.FindFlag(app.Flags, "root").(*cli.StringFlag); ok {
			root = f.Value
		}
	}
	return &pod.Manager{StateDir: filepath.Join(root, runtime.PodsDir)}
}

func podNames(app *cli.App, w *walked) []string {
	sbs, _ := podStates(app, w).List()
	var names []string
	for _, sb := range sbs {
		names = append(names, sb.Name)
	}
	return names
}

// imageNames are the names in the line's --store ($PODRUN_STORE), read
// without opening the store (which would create and chmod it).
func imageNames(w *walked) []string {
	dir := w.flagValue("store")
	if dir == "" {
		dir = os.Getenv("PODRUN_STORE")
	}
	if dir == "" {
		dir = image.DefaultDir
	}
	imgs, _ := (&image.Store{Dir: dir}).Images()
	var names []string
	for _, img := range imgs {
		names = append(names, img.Names...)
	}
	slices.Sort(names)
	return names
}

// containerNames are the pod's init and app containers.
func containerNames(app *cli.App, w *walked, podName string) []string {
	sb, err := podStates(app, w).Get(podName)
	if err != nil || sb.Pod == nil {
		return nil
	}
	var names []string
	for _, c := range slices.Concat([]manifest.Container{}, sb.Pod.Spec.InitContainers, sb.Pod.Spec.Containers) {
		names = append(names, c.Name)
	}
	return names
}

// The scripts pass the words up to the cursor's to `podrun __complete`
// (the podrun the user typed, so ./bin/podrun works too).
const bashCompletion = `# bash completion for podrun: source <(podrun completion bash)
_podrun_complete() {
	local cur line directive=none c i
	local -a words=() cands=()
	COMPREPLY=()
	# bash splits words at "=" and ":" (COMP_WORDBREAKS): --flag=value,
	# image:tag. Join them again.
	for ((i = 1; i <= COMP_CWORD; i++)); do
		c=${COMP_WORDS[i]}
		if ((${#words[@]})) && { [[ $c == : || ${words[-1]} == *: ]] ||
			[[ ${words[-1]} == -* && ${words[-1]} != *=?* && ($c == = || ${words[-1]} == *=) ]]; }; then
			words[-1]+=$c
		else
			words+=("$c")
		fi
	done
	cur=${words[-1]}
	while IFS= read -r line; do
		case $line in
		:*) directive=${line#:} ;;
		?*) cands+=("$line") ;;
		esac
	done < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
	if ((${#cands[@]})); then
		# readline replaces only the text after the last "=" or ":".
		local tail=${cur##*[=:]}
		for c in "${cands[@]}"; do
			[[ $c == "$cur"* ]] && COMPREPLY+=("${c:${#cur}-${#tail}}")
		done
	elif [[ $directive == files ]]; then
		cur=${cur##*[=:]}
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
	return 0
}
complete -F _podrun_complete podrun
`

const zshCompletion = `#compdef podrun
# zsh completion for podrun: source <(podrun completion zsh) (after compinit)
_podrun() {
	local line directive=none out
	local -a cands
	out=$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)
	for line in "${(@f)out}"; do
		case $line in
		:*) directive=${line#:} ;;
		?*) cands+=("$line") ;;
		esac
	done
	if (( ${#cands} )); then
		compadd -a cands
	elif [[ $directive == files ]]; then
		_files
	fi
}
if [[ $funcstack[1] == _podrun ]]; then
	_podrun "$@"
else
	compdef _podrun podrun
fi
`
