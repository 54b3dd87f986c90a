package runccli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// parsed is what a command's action saw: its positional arguments and the
// value of every flag that was set.
type parsed struct {
	cmd   string
	args  []string
	flags map[string]string
}

// parseCLI runs podrun's real command line on args with every action
// replaced by a recorder, so the test sees exactly what the commands get.
func parseCLI(t *testing.T, args ...string) (parsed, error) {
	t.Helper()
	var e Env
	app := NewApp(&e, io.Discard, io.Discard, Stubs(func() error { return nil }))
	app.Before = nil
	app.CommandNotFound = nil
	var got parsed
	for _, c := range app.Commands {
		c.Action = func(ctx *cli.Context) error {
			got.cmd = ctx.Command.Name
			got.args = ctx.Args().Slice()
			got.flags = map[string]string{}
			for _, f := range ctx.Command.Flags {
				n := f.Names()[0]
				if ctx.IsSet(n) {
					v := ctx.Value(n)
					if s, ok := v.(cli.StringSlice); ok {
						v = s.Value()
					}
					got.flags[n] = fmt.Sprint(v)
				}
			}
			return nil
		}
	}
	err := app.Run(reorderRuncArgs(app, append([]string{"podrun"}, args...)))
	return got, err
}

// Orders runc 1.1.5 (urfave/cli v1.22.1) accepts, checked against runc on a
// host, and what each means.
func TestArgumentOrders(t *testing.T) {
	for _, tc := range []struct {
		argv  string
		args  []string
		flags map[string]string
	}{
		{"update ID --cpuset-cpus 1", []string{"ID"}, map[string]string{"cpuset-cpus": "1"}},
		{"update --cpuset-cpus 1 ID", []string{"ID"}, map[string]string{"cpuset-cpus": "1"}},
		{"update ID --pids-limit=100 --memory 1000", []string{"ID"}, map[string]string{"pids-limit": "100", "memory": "1000"}},
		{"update ID --resources -", []string{"ID"}, map[string]string{"resources": "-"}},
		{"update -r - ID", []string{"ID"}, map[string]string{"resources": "-"}},
		{"update ID --cpu-quota -1", []string{"ID"}, map[string]string{"cpu-quota": "-1"}},
		{"--root /r update ID --memory 5", []string{"ID"}, map[string]string{"memory": "5"}},
		{"--debug --root=/r delete ID --force", []string{"ID"}, map[string]string{"force": "true"}},
		{"delete -f ID", []string{"ID"}, map[string]string{"force": "true"}},
		{"kill ID 9 --all", []string{"ID", "9"}, map[string]string{"all": "true"}},
		{"kill --all ID KILL", []string{"ID", "KILL"}, map[string]string{"all": "true"}},
		{"kill ID --all 9", []string{"ID", "9"}, map[string]string{"all": "true"}}, // runc: container "9"
		{"kill -- ID 9", []string{"ID", "9"}, map[string]string{}},
		{"kill ID -- 9", []string{"ID", "--", "9"}, map[string]string{}},
		{"create ID --bundle /b --pid-file /p", []string{"ID"}, map[string]string{"bundle": "/b", "pid-file": "/p"}},
		{"create --bundle /b ID --console-socket /s --no-pivot", []string{"ID"}, map[string]string{"bundle": "/b", "console-socket": "/s", "no-pivot": "true"}},
		{"run ID -d --bundle /b", []string{"ID"}, map[string]string{"detach": "true", "bundle": "/b"}},
		{"run -d ID --bundle /b", []string{"ID"}, map[string]string{"detach": "true", "bundle": "/b"}}, // runc: 3 arguments
		{"run ID --preserve-fds=2 -b /b --keep", []string{"ID"}, map[string]string{"preserve-fds": "2", "bundle": "/b", "keep": "true"}},
		{"start ID", []string{"ID"}, map[string]string{}},
		{"state ID", []string{"ID"}, map[string]string{}},
		{"pause ID", []string{"ID"}, map[string]string{}},
		{"resume ID", []string{"ID"}, map[string]string{}},
		{"list --format json -q", nil, map[string]string{"format": "json", "quiet": "true"}},
		{"events ID --stats", []string{"ID"}, map[string]string{"stats": "true"}},
		{"events ID --interval 2s", []string{"ID"}, map[string]string{"interval": "2s"}},
		{"spec --rootless", nil, map[string]string{"rootless": "true"}},
		{"spec --bundle /b", nil, map[string]string{"bundle": "/b"}},
		// exec and ps never reorder (SkipArgReorder in runc): what follows
		// the id is the command or ps's arguments, dashes and all.
		{"exec ID -t sh", []string{"ID", "-t", "sh"}, map[string]string{}},
		{"exec ID -- sh", []string{"ID", "--", "sh"}, map[string]string{}},
		{"exec -t -e A=1,2 --cwd /w ID sh -c x", []string{"ID", "sh", "-c", "x"}, map[string]string{"tty": "true", "env": "[A=1,2]", "cwd": "/w"}},
		{"exec --cgroup cpu:a --cgroup memory:b ID true", []string{"ID", "true"}, map[string]string{"cgroup": "[cpu:a memory:b]"}},
		{"ps ID -o pid,comm", []string{"ID", "-o", "pid,comm"}, map[string]string{}},
		{"ps --format json ID", []string{"ID"}, map[string]string{"format": "json"}},
	} {
		t.Run(tc.argv, func(t *testing.T) {
			got, err := parseCLI(t, strings.Fields(tc.argv)...)
			if err != nil {
				t.Fatalf("parse error: %v", err)
			}
			if !slices.Equal(got.args, tc.args) && !(len(got.args) == 0 && len(tc.args) == 0) {
				t.Errorf("args = %q, want %q", got.args, tc.args)
			}
			if fmt.Sprint(got.flags) != fmt.Sprint(tc.flags) {
				t.Errorf("flags = %v, want %v", got.flags, tc.flags)
			}
		})
	}
}

// A word that is not one of the command's flags stays a positional
// argument, as urfave/cli v1's argIsFlag decides for runc: the command
// then refuses it (`kill ID -1` is an unknown signal, `delete ID --nope`
// an extra argument).
func TestArgumentOrderErrors(t *testing.T) {
	for argv, want := range map[string][]string{
		"delete ID --nope": {"ID", "--nope"},
		"kill ID -x 9":     {"ID", "-x", "9"},
		"kill ID -1":       {"ID", "-1"},
	} {
		got, err := parseCLI(t, strings.Fields(argv)...)
		if err != nil || !slices.Equal(got.args, want) {
			t.Errorf("%s: parsed as %+v (%v), want args %q", argv, got, err, want)
		}
	}
}

func TestReorderArgs(t *testing.T) {
	value := map[string]bool{"v": true, "b": false}
	for _, tc := range []struct{ in, want string }{
		{"a -b c", "-b a c"},
		{"a -v c d", "-v c a d"},
		{"a -v=c d", "-v=c a d"},
		{"a -v -x d", "-v -x a d"},
		{"a -- -b c", "a -- -b c"},
		{"-v -- a", "-v -- a"},
		{"a - -b", "-b a -"},
		{"a -u c", "a -u c"},
		{"a -u -b", "-b a -u"},
		{"a -b", "-b a"},
	} {
		if got := strings.Join(reorderArgs(value, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
