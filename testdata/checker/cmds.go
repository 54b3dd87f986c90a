package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func runExit(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: checker exit N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("exit: %w", err)
	}
	os.Exit(n)
	return nil
}

var signalsByName = map[string]syscall.Signal{
	"HUP":  syscall.SIGHUP,
	"INT":  syscall.SIGINT,
	"QUIT": syscall.SIGQUIT,
	"USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM,
}

var signalNames = map[syscall.Signal]string{}

func init() {
	for n, s := range signalsByName {
		signalNames[s] = "SIG" + n
	}
}

func parseSignal(s string) (syscall.Signal, error) {
	u := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalsByName[u]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func runSleep(args []string) error {
	fs := flag.NewFlagSet("sleep", flag.ContinueOnError)
	var ignore multiFlag
	fs.Var(&ignore, "ignore", "signal to ignore (repeatable)")
	ready := fs.String("ready", "", "file to create once signal handlers are installed")
	all := fs.Bool("all", false, "report every catchable signal, exit on SIGTERM only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var d time.Duration = -1
	if fs.NArg() > 1 {
		return errors.New("usage: checker sleep [--all] [--ignore SIG]... [--ready FILE] [DURATION]")
	}
	if fs.NArg() == 1 {
		a := fs.Arg(0)
		if n, err := strconv.ParseFloat(a, 64); err == nil {
			d = time.Duration(n * float64(time.Second))
		} else if d, err = time.ParseDuration(a); err != nil {
			return fmt.Errorf("sleep: %w", err)
		}
	}
	ignored := map[syscall.Signal]bool{}
	for _, s := range ignore {
		sig, err := parseSignal(s)
		if err != nil {
			return err
		}
		ignored[sig] = true
		signal.Ignore(sig)
	}
	var handled []os.Signal
	if *all {
		for _, sig := range catchable() {
			if !ignored[sig] {
				handled = append(handled, sig)
			}
		}
	} else {
		for sig := range signalNames {
			if !ignored[sig] {
				handled = append(handled, sig)
			}
		}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, handled...)
	fmt.Println("ready")
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
			return err
		}
	}
	var timeout <-chan time.Time
	if d >= 0 {
		timeout = time.After(d)
	}
	for {
		select {
		case s := <-ch:
			sig := s.(syscall.Signal)
			if !*all {
				fmt.Println("signal:", signalNames[sig])
				os.Exit(128 + int(sig))
			}
			fmt.Println("signal:", anySignalName(sig))
			if sig == syscall.SIGTERM {
				os.Exit(128 + int(sig))
			}
		case <-timeout:
			return nil
		}
	}
}

// catchable returns the signals sleep --all reports: every signal but
// SIGKILL and SIGSTOP (which cannot be caught), SIGURG (the Go runtime's
// preemption signal, which would show up unsent), and 32 to 34, which
// the Go runtime leaves to libc and cannot catch. SIGPROF is in, but
// the Go runtime keeps it for its profiler and never reports it.
func catchable() []syscall.Signal {
	var sigs []syscall.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, 32, 33, 34:
			continue
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// anySignalName is "SIGHUP" for the classic signals and the bare number
// for the realtime ones, which have no fixed name (glibc's SIGRTMIN is 34,
// the kernel's 32).
func anySignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return strconv.Itoa(int(sig))
}

func runWrite(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: checker write PATH [CONTENT]")
	}
	content := "ok"
	if len(args) == 2 {
		content = args[1]
	}
	return os.WriteFile(args[0], []byte(content), 0o644)
}

func runCat(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: checker cat PATH|-")
	}
	var r io.Reader = os.Stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	_, err := io.Copy(os.Stdout, r)
	return err
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
