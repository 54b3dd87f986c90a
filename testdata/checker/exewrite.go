package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// checker exewrite (--pid PID | --cmdline SUBSTR) [--ready FILE] [--go FILE]
//
// plays the CVE-2019-5736 attack on the binary a process runs: it finds
// the process (by pid, or by waiting for one whose command line contains
// SUBSTR), holds /proc/PID/exe open with O_PATH, tries to open it for
// writing at once, then waits until the process no longer runs that file
// (it exec'd something else or exited) and, once FILE given to --go
// exists (the test says no other process runs it), tries again through its own
// handle, as the attack does once the binary is not busy any more. It
// never writes a byte: opening with O_WRONLY|O_TRUNC is the breach. It
// prints one JSON line: {"pid", "exe", "direct", "reopen"}, the last two
// being the errors ("" when the open succeeded).
func runExeWrite(args []string) error {
	fs := flag.NewFlagSet("exewrite", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process whose exe to attack")
	cmdline := fs.String("cmdline", "", "attack the first process whose command line contains this")
	ready := fs.String("ready", "", "file to create once the exe is held")
	goFile := fs.String("go", "", "file to wait for before the second attempt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pid == 0 && *cmdline == "" {
		return errors.New("exewrite: --pid or --cmdline is required")
	}
	for *pid == 0 {
		*pid = findByCmdline(*cmdline)
		if *pid == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	exe := fmt.Sprintf("/proc/%d/exe", *pid)
	target, _ := os.Readlink(exe)
	h, err := syscall.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("exewrite: open %s O_PATH: %w", exe, err)
	}
	var held syscall.Stat_t
	if err := syscall.Fstat(h, &held); err != nil {
		return err
	}
	res := struct {
		Pid    int    `json:"pid"`
		Exe    string `json:"exe"`
		Direct string `json:"direct"`
		Reopen string `json:"reopen"`
	}{Pid: *pid, Exe: target}
	res.Direct = tryWrite(exe)
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			return err
		}
	}
	// Wait until the process no longer runs the held file.
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(exe, &st); err != nil || st.Dev != held.Dev || st.Ino != held.Ino {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for *goFile != "" {
		if _, err := os.Stat(*goFile); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.Reopen = tryWrite("/proc/self/fd/" + strconv.Itoa(h))
	return json.NewEncoder(os.Stdout).Encode(res)
}

// tryWrite opens path for writing and truncation, and says why it could not.
func tryWrite(path string) string {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_TRUNC|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err.Error()
	}
	syscall.Close(fd)
	return ""
}

// findByCmdline returns a process other than us whose command line
// contains s, or 0.
func findByCmdline(s string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			return pid
		}
	}
	return 0
}
