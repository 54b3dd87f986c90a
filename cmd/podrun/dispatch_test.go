package main

import (
	"io"
	"strings"
	"testing"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/urfave/cli/v2"
)

// dispatch.c (before the Go runtime) and runccli.CompanionLine (after it)
// send the same lines to podrun-pod.
func TestDispatchAgreesWithGo(t *testing.T) {
	for _, line := range []string{
		"", "pod", "pod run -f x.yaml", "--root /r pod ls", "--root=/r --debug image pull b",
		"-root /r bundle", "--log-format json bundle --image b", "--log x --rootless auto completion bash",
		"--criu x pod", "--help pod", "-h pod", "-v image", "--version=true pod", "--debug=false pod",
		"__complete run --b", "--debug __complete pod", "--root pod list", "--root", "--root=pod list",
		"run --bundle pod ctr", "list", "init", "--bogus pod ls", "---root x pod", "-- pod", "- pod",
		"exec ctr pod", "--systemd-cgroup pod", "podx", "po",
	} {
		agree(t, strings.Fields(line))
	}
	// Every global flag, however given: a flag added in Go only shows here.
	var e runccli.Env
	app := runccli.NewApp(&e, io.Discard, io.Discard, runccli.Stubs(func() error { return nil }))
	for _, f := range append(app.Flags, cli.HelpFlag, cli.VersionFlag) {
		for _, n := range f.Names() {
			for _, dashes := range []string{"-", "--"} {
				agree(t, []string{dashes + n, "pod"})
				agree(t, []string{dashes + n, "x", "pod"})
				agree(t, []string{dashes + n + "=x", "pod"})
			}
		}
	}
}

func agree(t *testing.T, words []string) {
	t.Helper()
	args := append([]string{"podrun"}, words...)
	if c, g := cCompanionLine(args), runccli.CompanionLine(args); c != g {
		t.Errorf("%q: dispatch.c %v, runccli.CompanionLine %v", words, c, g)
	}
}
