package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
)

// podrun lists podrun-pod's commands from runccli.Stubs: the same names
// and usages, so `podrun --help` is the same whichever binary prints it.
func TestStubsMatchCommands(t *testing.T) {
	var e runccli.Env
	real := companion(&e)
	stubs := runccli.Stubs(func() error { return nil })
	pairs := [][2]*cli.Command{{real.Image, stubs.Image}, {real.Bundle, stubs.Bundle}, {real.Pod, stubs.Pod}, {real.Completion, stubs.Completion}}
	for _, p := range pairs {
		r, s := p[0], p[1]
		if r.Name != s.Name || r.Usage != s.Usage || len(r.Aliases) != len(s.Aliases) || r.Hidden != s.Hidden {
			t.Errorf("stub %q %q, command %q %q", s.Name, s.Usage, r.Name, r.Usage)
		}
	}
	help := func(c runccli.Companion) string {
		var out bytes.Buffer
		app := runccli.NewApp(&e, &out, io.Discard, c)
		if err := app.Run([]string{"podrun", "--help"}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if a, b := help(real), help(stubs); a != b || len(a) == 0 {
		t.Errorf("podrun --help differs:\n%s\npodrun-pod:\n%s", b, a)
	}
}
