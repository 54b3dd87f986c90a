// Package sigfwd is the part of a foreground `podrun run` or `podrun exec`
// that catches the signals it forwards to the container without paying
// os/signal for each: podrun's C constructor (cmd/podrun/dispatch.c)
// blocks them before the Go runtime starts, so every thread keeps them
// blocked, and Catch reads them from a signalfd. signal.Notify enables a
// signal with a round trip to the runtime's signal-mask thread: catching
// all 57 cost ~115 context switches per foreground run or exec and
// 0.4-0.5 ms of its CPU on these machines (make bench, rusage).
//
// A blocked mask is inherited, so the processes podrun starts get back the
// mask podrun itself was started with, before anything of theirs runs: the
// init through ChildEnv (namespaces/nsenter's constructor sets it), hooks
// through HookCommand (the same constructor, as a trampoline), the
// command of an exec through ChildMask (the C exec path sets it).
package sigfwd

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EnvSigMask names the variable that carries, to a process podrun starts
// with its own binary, the signal mask to set before its Go runtime starts
// (hexadecimal, bit n-1 for signal n). namespaces/nsenter/nsenter.c reads
// it.
const EnvSigMask = "_PODRUN_SIGMASK"

// HookArg0 is argv[0] of the hook trampoline: podrun's binary run as
// {HookArg0, mask, path, argv...} sets the mask and executes path (nsenter.c).
const HookArg0 = "podrun-hook"

// orig is the mask podrun started with; set the signals the constructor
// blocked on top of it (0: none, os/signal catches everything as usual).
var orig, set uint64

// Started records what the constructor did (main calls it first thing).
func Started(o, s uint64) { orig, set = o, s }

// Active reports whether signals were blocked for Catch.
func Active() bool { return set != 0 }

// Forwarded reports whether sig is one Catch delivers (so signal.Notify
// must not ask for it: a thread of the runtime would unblock it).
func Forwarded(sig unix.Signal) bool {
	return sig >= 1 && sig <= 64 && set&(1<<(uint(sig)-1)) != 0
}

// Signals lists the signals Catch delivers.
func Signals() []os.Signal {
	var sigs []os.Signal
	for s := unix.Signal(1); s <= 64; s++ {
		if Forwarded(s) {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

// ChildEnv is the environment entry that gives a process started with
// podrun's binary the mask podrun started with, or nil when nothing was
// blocked.
func ChildEnv() []string {
	if !Active() {
		return nil
	}
	return []string{EnvSigMask + "=" + strconv.FormatUint(orig, 16)}
}

// ChildMask is the signal mask for a command podrun's C exec path starts:
// what a thread of this Go runtime has, with the blocked signals as podrun
// was started with them. runc's commands get its Go init's mask likewise:
// the caller's, less the signals every Go thread unblocks (SIGTERM,
// SIGINT, SIGHUP, the faults...).
func ChildMask() uint64 {
	var cur unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
		return orig
	}
	return cur.Val[0]&^set | orig&set
}

// HookCommand returns how to start the hook at path with argv so that it
// begins with the mask podrun started with: through podrun's own binary
// when signals are blocked (ok), which then reports a failed execve as
// its errno on fd 3 (close-on-exec: EOF means the hook runs), as Go's
// fork/exec does.
func HookCommand(path string, argv []string) (exe string, args []string, ok bool) {
	if !Active() {
		return path, argv, false
	}
	args = append([]string{HookArg0, strconv.FormatUint(orig, 16), path}, argv...)
	return "/proc/self/exe", args, true
}

// HookExecError reads the trampoline's report from the read end of its fd
// 3, once the parent closed its own write end: nil when the hook was
// executed (EOF), else the errno of its execve.
func HookExecError(r *os.File) error {
	var b [4]byte
	if n, _ := io.ReadFull(r, b[:]); n == 4 {
		return unix.Errno(binary.NativeEndian.Uint32(b[:]))
	}
	return nil
}

// Catch delivers the blocked signals to c, from a signalfd read by a
// goroutine for the rest of the process's life (podrun exits after the
// wait that consumes c). c must be buffered: a signal is dropped, as
// os/signal drops it, when c is full.
func Catch(c chan<- os.Signal) error {
	if !Active() {
		return errors.New("sigfwd: no signals blocked")
	}
	mask := unix.Sigset_t{}
	mask.Val[0] = set
	fd, err := unix.Signalfd(-1, &mask, unix.SFD_CLOEXEC|unix.SFD_NONBLOCK)
	if err != nil {
		return os.NewSyscallError("signalfd", err)
	}
	f := os.NewFile(uintptr(fd), "signalfd") // non-blocking: the poller waits
	go func() {
		const size = int(unsafe.Sizeof(unix.SignalfdSiginfo{})) // 128
		var buf [size * 16]byte
		for {
			n, err := f.Read(buf[:])
			if err != nil {
				return
			}
			for off := 0; off+size <= n; off += size {
				// ssi_signo is the first field.
				sig := unix.Signal(binary.NativeEndian.Uint32(buf[off:]))
				select {
				case c <- sig:
				default:
				}
			}
		}
	}()
	return nil
}
