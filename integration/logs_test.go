package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/internal/testimage"
)

// lcLogLines parses a --log-format json file: one JSON object per line,
// each with level, msg and an RFC 3339 time.
func lcLogLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("log file does not end with a newline: %q", b)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			t.Errorf("empty line in the log file")
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line %q: not one JSON object: %v", line, err)
			continue
		}
		for _, k := range []string{"level", "msg", "time"} {
			if _, ok := m[k].(string); !ok {
				t.Errorf("log line %q: no string %q", line, k)
			}
		}
		if _, err := time.Parse(time.RFC3339, m["time"].(string)); err != nil {
			t.Errorf("log line %q: time not RFC 3339", line)
		}
		out = append(out, m)
	}
	return out
}

// lcLastError returns the msg of the last "level":"error" line, as
// containerd's shim reads it for "OCI runtime create failed: <msg>".
func lcLastError(lines []map[string]any) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["level"] == "error" {
			return lines[i]["msg"].(string)
		}
	}
	return ""
}

// TestLogJSONCreateFailure checks what the shim reads after a failed
// create: exit 1, and the error (also those raised in the container init)
// as the last error line of the --log file, appended to what was there.
func TestLogJSONCreateFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"missing-executable", func(s *Spec) { s.Process.Args = []string{"no-such-binary"} },
			`exec: "no-such-binary": executable file not found in $PATH`},
		{"bad-mount", func(s *Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=zzz"}})
		}, "mode=zzz"},
		{"bad-cwd", func(s *Spec) { s.Process.Cwd = "relative" }, "process.cwd"},
		{"failing-hook", func(s *Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo line1; echo line2 >&2; exit 2"}}}}
		}, "error running createRuntime hook #0: exit status 2, stdout: line1\n, stderr: line2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(t)
			log := filepath.Join(t.TempDir(), "log.json")
			previous := `{"level":"info","msg":"from an earlier call","time":"2024-01-01T00:00:00Z"}` + "\n"
			if err := os.WriteFile(log, []byte(previous), 0o644); err != nil {
				t.Fatal(err)
			}
			bundle := h.EditedBundle(tc.edit, "true")
			r := h.Run("--log", log, "--log-format", "json", "create", "--bundle", bundle, h.ID())
			if r.Code != 1 {
				t.Errorf("create exit = %d, want 1", r.Code)
			}
			if !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", r.Stderr, tc.want)
			}
			lines := lcLogLines(t, log)
			if len(lines) < 2 || lines[0]["msg"] != "from an earlier call" {
				t.Errorf("log file not appended to: %v", lines)
			}
			if msg := lcLastError(lines); !strings.Contains(msg, tc.want) {
				t.Errorf("last error line of the log: %q, want it to contain %q", msg, tc.want)
			}
			lcAssertNothing(t, h)
		})
	}
}

// TestLogTextFormat checks --log with the default text format: logrus's
// time="..." level=error msg="..." lines.
func TestLogTextFormat(t *testing.T) {
	h := New(t)
	log := filepath.Join(t.TempDir(), "log.txt")
	bundle := h.EditedBundle(func(s *Spec) { s.Process.Args = []string{"no-such-binary"} }, "true")
	r := h.Run("--log", log, "create", "--bundle", bundle, h.ID())
	if r.Code != 1 || !strings.Contains(r.Stderr, "executable file not found") {
		t.Errorf("create: exit %d, stderr %q", r.Code, r.Stderr)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^time="[^"]+" level=error msg="unable to start container process: exec: \\"no-such-binary\\": executable file not found in \$PATH"$`)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !re.MatchString(lines[len(lines)-1]) {
		t.Errorf("text log %q does not match %s", b, re)
	}
	// --log-format text is the same.
	log2 := filepath.Join(t.TempDir(), "log.txt")
	h.Fails("executable file not found", "--log", log2, "--log-format", "text", "create", "--bundle", bundle, h.ID())
	if b2, _ := os.ReadFile(log2); !strings.Contains(string(b2), "level=error") {
		t.Errorf("--log-format text: %q", b2)
	}
	lcAssertNothing(t, h)
}

// TestLogWarningsAndOtherCommands checks that warnings (a failing
// poststop hook) and the errors of commands other than create reach the
// --log file as JSON lines.
func TestLogWarningsAndOtherCommands(t *testing.T) {
	h := New(t)
	id := h.ID()
	log := filepath.Join(t.TempDir(), "log.json")
	bundle := h.EditedBundle(func(s *Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 5"}}}}
	}, testimage.CheckerInRootfs, "sleep")
	lcMust(h, "--log", log, "--log-format", "json", "create", "--bundle", bundle, id)
	h.Run("--log", log, "--log-format", "json", "kill", id, "zzz")
	if msg := lcLastError(lcLogLines(t, log)); !strings.Contains(msg, `unknown signal "zzz"`) {
		t.Errorf("last error of kill: %q", msg)
	}
	h.Must("--log", log, "--log-format", "json", "delete", id)
	lines := lcLogLines(t, log)
	found := false
	for _, l := range lines {
		if l["level"] == "warning" && strings.Contains(l["msg"].(string), "error running poststop hook #0: exit status 5") {
			found = true
		}
	}
	if !found {
		t.Errorf("no poststop warning in the log: %v", lines)
	}
	lcGone(h, id)
}

// TestLogFlagErrors checks bad global log flags.
func TestLogFlagErrors(t *testing.T) {
	h := New(t)
	h.Fails("xml", "--log-format", "xml", "list")
	h.Fails("--log", "--log", filepath.Join(t.TempDir(), "no", "such", "dir", "log"), "list")
	// --debug is accepted by every command.
	h.Must("--debug", "list")
	h.Must("--debug", "--log", filepath.Join(t.TempDir(), "log"), "--log-format", "json", "list")
}
