// Package signals converts between signal names and numbers the way the
// runtime CLI (`podrun kill ID SIGNAL`) needs: it accepts numbers, names
// with or without the SIG prefix in any case, and the realtime names
// RTMIN, RTMIN+n and RTMAX-n.
package signals

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Realtime signal bounds as user space sees them. The kernel's first
// realtime signal is 32, but glibc (and musl) reserve 32 and 33 for
// threading, so SIGRTMIN is 34 for every program a container runs; this
// matches kill(1) and moby/sys/signal.
const (
	RTMin unix.Signal = 34
	RTMax unix.Signal = 64
)

// aliases are the historical names that unix.SignalNum does not know.
var aliases = map[string]unix.Signal{
	"SIGIOT":  unix.SIGIOT,
	"SIGPOLL": unix.SIGPOLL,
	"SIGCLD":  unix.SIGCHLD,
}

// Parse returns the signal named by s: a decimal number ("9"), a name with
// or without the SIG prefix in any case ("KILL", "sigkill", "SIGKILL"), or
// a realtime name ("RTMIN", "RTMIN+3", "SIGRTMAX-2"). Numbers must be in
// 0..64: 0 is kill(2)'s null signal, which only checks that the target
// lives (`runc kill ID 0` probes liveness so). Anything else fails with
// runc's text: unknown signal "X".
func Parse(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > int(RTMax) {
			return -1, unknown(s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := parseRealtime(name[len("SIG"):]); ok {
		return sig, nil
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if sig, ok := aliases[name]; ok {
		return sig, nil
	}
	return -1, unknown(s)
}

func unknown(s string) error {
	return fmt.Errorf("unknown signal %q", s)
}

// parseRealtime parses RTMIN, RTMIN+n, RTMAX and RTMAX-n (already upper
// case, without the SIG prefix).
func parseRealtime(name string) (unix.Signal, bool) {
	var base unix.Signal
	var rest string
	var sign int
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, rest, sign = RTMin, name[len("RTMIN"):], 1
	case strings.HasPrefix(name, "RTMAX"):
		base, rest, sign = RTMax, name[len("RTMAX"):], -1
	default:
		return 0, false
	}
	if rest == "" {
		return base, true
	}
	op := byte('+')
	if sign < 0 {
		op = '-'
	}
	if rest[0] != op || len(rest) < 2 {
		return 0, false
	}
	// Digits only: Atoi would also accept a second sign.
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n > int(RTMax-RTMin) {
		return 0, false
	}
	return base + unix.Signal(sign*n), true
}

// Name returns the canonical name of sig with the SIG prefix ("SIGKILL").
// Realtime signals are named like kill -l does: SIGRTMIN, SIGRTMIN+1 ..
// SIGRTMIN+15, SIGRTMAX-14 .. SIGRTMAX-1, SIGRTMAX. A signal without a
// name is returned as its decimal number, which Parse accepts back.
func Name(sig unix.Signal) string {
	switch {
	case sig >= RTMin && sig <= RTMax:
		mid := RTMin + (RTMax-RTMin)/2 // 49: the last one counted from RTMIN
		switch {
		case sig == RTMin:
			return "SIGRTMIN"
		case sig == RTMax:
			return "SIGRTMAX"
		case sig <= mid:
			return "SIGRTMIN+" + strconv.Itoa(int(sig-RTMin))
		default:
			return "SIGRTMAX-" + strconv.Itoa(int(RTMax-sig))
		}
	}
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return strconv.Itoa(int(sig))
}
