package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// runSigExec execs a program with some signals blocked and some ignored,
// both of which execve keeps: the tests start podrun through it to give
// podrun a caller with a non-empty signal mask, which a Go test cannot
// do itself (os/exec's child starts with the mask the test binary was
// started with, whatever its threads block).
func runSigExec(args []string) error {
	fs := flag.NewFlagSet("sigexec", flag.ContinueOnError)
	var block, ignore multiFlag
	fs.Var(&block, "block", "signal to block (repeatable)")
	fs.Var(&ignore, "ignore", "signal to ignore (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("usage: checker sigexec [--block SIG]... [--ignore SIG]... PROG [ARG]...")
	}
	prog, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		return err
	}
	var set unix.Sigset_t
	for _, s := range block {
		sig, err := parseSignal(s)
		if err != nil {
			return err
		}
		set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	}
	for _, s := range ignore {
		sig, err := parseSignal(s)
		if err != nil {
			return err
		}
		signal.Ignore(sig)
	}
	// The mask is per thread and execve keeps the calling thread's.
	runtime.LockOSThread()
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		return err
	}
	return syscall.Exec(prog, fs.Args(), os.Environ())
}
