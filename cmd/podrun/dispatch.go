package main

// #cgo CFLAGS: -Wall -O2
// #include <stdint.h>
// #include <stdlib.h>
// int podrun_companion_line(int argc, char **argv);
// extern uint64_t podrun_sigfwd_orig, podrun_sigfwd_set;
import "C"

import "unsafe"

// cCompanionLine is dispatch.c's decision on args (os.Args form), for the
// test that holds it to runccli.CompanionLine.
func cCompanionLine(args []string) bool {
	argv := make([]*C.char, len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	return C.podrun_companion_line(C.int(len(args)), &argv[0]) != 0
}

// blockedSignals is what dispatch.c's block_forwarded did: the signal mask
// podrun started with and the signals it blocked (0, 0: none).
func blockedSignals() (orig, set uint64) {
	return uint64(C.podrun_sigfwd_orig), uint64(C.podrun_sigfwd_set)
}
