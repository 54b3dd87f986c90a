package runccli

import (
	"strings"
	"testing"
)

// A line goes to podrun-pod exactly when urfave/cli would run one of its
// commands: the first word after the global flags (and their values).
func TestCompanionLine(t *testing.T) {
	for line, want := range map[string]bool{
		"pod run -f x.yaml":                  true,
		"--root /r pod ls":                   true,
		"--root=/r --debug image pull b":     true,
		"--log-format json bundle --image b": true,
		"--help pod":                         true,
		"-h pod":                             true,
		"completion bash":                    true,
		"__complete run --b":                 true,
		"--debug __complete pod":             false, // only as the first word, as the scripts send it
		"--root pod list":                    false, // "pod" is --root's value
		"run --bundle pod ctr":               false,
		"list":                               false,
		"--bogus pod ls":                     false, // urfave refuses the flag
		"-- pod":                             false,
		"":                                   false,
		"--root":                             false,
		"exec ctr pod":                       false,
	} {
		args := append([]string{"podrun"}, strings.Fields(line)...)
		if got := CompanionLine(args); got != want {
			t.Errorf("%q: %v, want %v", line, got, want)
		}
	}
}
