package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/podrun/podrun/internal/procstat"
	"github.com/podrun/podrun/internal/testimage"
)

// Small helpers several test files share.

// EditedBundle returns a fresh bundle running args, with its spec edited
// (when edit is not nil).
func (h *H) EditedBundle(edit func(*Spec), args ...string) string {
	h.t.Helper()
	bundle := h.Bundle(args...)
	if edit != nil {
		s := testimage.Spec(h.t, bundle)
		edit(s)
		testimage.WriteSpec(h.t, bundle, s)
	}
	return bundle
}

// editConfigJSON edits bundle/config.json as generic JSON, for values the
// spec types cannot hold or leave out (a field of the wrong JSON type, a
// missing required field).
func editConfigJSON(t *testing.T, bundle string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// MustNoPipes runs a podrun command whose container keeps its stdio
// (create, run -d, exec --detach) with stdin, and stdout unless set, on
// /dev/null and stderr in a file: never a pipe, which RunCmd would wait
// on until the container closed it. It fails the test, showing the
// stderr, unless the command exits 0.
func (h *H) MustNoPipes(cmd *exec.Cmd) {
	h.t.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	defer null.Close()
	errf, err := os.CreateTemp(h.t.TempDir(), "stderr")
	if err != nil {
		h.t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdin, cmd.Stderr = null, errf
	if cmd.Stdout == nil {
		cmd.Stdout = null
	}
	if r := h.RunCmd(cmd); r.Code != 0 {
		msg, _ := os.ReadFile(errf.Name())
		h.t.Fatalf("%v: exit %d\nstderr: %s", cmd.Args, r.Code, msg)
	}
}

// RunDetached runs bundle with `run -d` as id, its stdio never pipes (see
// MustNoPipes), and returns the init's host pid.
func (h *H) RunDetached(bundle, id string) int {
	h.t.Helper()
	h.MustNoPipes(h.Cmd("run", "-d", "--bundle", bundle, id))
	pid := h.Pid(id)
	if pid <= 0 {
		h.t.Fatalf("container %s: pid %d after run -d", id, pid)
	}
	return pid
}

// waitFor polls until cond holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// errTimedOut is what waitTimeout's error wraps when it killed the command.
var errTimedOut = errors.New("timed out")

// waitTimeout waits for a started command, killing it after timeout.
func waitTimeout(cmd *exec.Cmd, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%v: %w after %v", cmd.Args, errTimedOut, timeout)
	}
}

// running reports whether pid exists and is not a zombie (an adopted
// container's zombie is its new parent's to reap).
func running(pid int) bool {
	_, state, err := procstat.Read(pid)
	return err == nil && state != 'Z' && state != 'X'
}
