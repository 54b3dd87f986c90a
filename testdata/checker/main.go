// Keep the Go runtime from holding cgroup files open: the checker reports
// its fds, which must be only what the runtime under test passed in.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command checker runs inside podrun's test containers and reports what a
// process sees there. It is built static (CGO_ENABLED=0) and copied into
// the test rootfs at /usr/bin/checker by internal/testimage and
// testdata/mkbundle.sh.
//
// Usage:
//
//	checker [report] [--sysctl NAME]... [--path PATH]... [--out FILE]
//	    print one JSON report (internal/checkreport.Report) on one line
//	checker exit N
//	    exit with status N
//	checker sleep [--all] [--ignore SIG]... [--ready FILE] [DURATION]
//	    sleep for DURATION (Go duration or seconds; default forever);
//	    on SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2 print
//	    "signal: NAME" and exit 128+signo, as a shell would report it;
//	    with --all, print "signal: NAME" (the number for realtime
//	    signals) for every signal a Go program can catch but SIGURG and
//	    SIGPROF, and go on sleeping until SIGTERM; signals given to
//	    --ignore are ignored; once the handlers are in place print
//	    "ready" and create FILE if given
//	checker write PATH [CONTENT]
//	    write CONTENT (default "ok") to PATH; on failure print the error
//	    to stderr and exit 1
//	checker cat PATH|-
//	    copy a file (or standard input) to standard output
//	checker sched
//	    print the scheduling policy, nice, priority and I/O priority
//	checker sigexec [--block SIG]... [--ignore SIG]... PROG [ARG]...
//	    exec PROG (looked up in PATH) with the signals given blocked or
//	    ignored, which it inherits
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	cmd := "report"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "report":
		err = runReport(args)
	case "exit":
		err = runExit(args)
	case "sleep":
		err = runSleep(args)
	case "write":
		err = runWrite(args)
	case "cat":
		err = runCat(args)
	case "sched": // sched.go
		err = runSched(args)
	case "syscall": // syscall.go
		err = runSyscall(args)
	case "exewrite": // exewrite.go
		err = runExeWrite(args)
	case "sigexec": // sigexec.go
		err = runSigExec(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  checker [report] [--sysctl NAME]... [--path PATH]... [--out FILE]
  checker exit N
  checker sleep [--all] [--ignore SIG]... [--ready FILE] [DURATION]
  checker write PATH [CONTENT]
  checker cat PATH|-
  checker sched
  checker sigexec [--block SIG]... [--ignore SIG]... PROG [ARG]...
`
