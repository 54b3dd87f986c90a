package main

import (
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/seccomp"
)

// runSyscall performs raw x86_64 syscalls and prints, one line each,
// "NAME ret=R errno=E" (E is 0 on success):
//
//	checker syscall NAME|NUMBER [ARG]... [, NAME|NUMBER [ARG]...]...
//
// NAME is looked up in podrun's x86_64 table; a NUMBER (0x... allowed) is
// used as is, so the x32 bit can be set. ARGs are 64-bit integers.
func runSyscall(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("syscall: missing syscall name")
	}
	var call []string
	for i := 0; i <= len(args); i++ {
		if i < len(args) && args[i] != "," {
			call = append(call, args[i])
			continue
		}
		if len(call) == 0 {
			return fmt.Errorf("syscall: empty call")
		}
		if err := doSyscall(call); err != nil {
			return err
		}
		call = call[:0]
	}
	return nil
}

func doSyscall(call []string) error {
	nr, err := strconv.ParseUint(call[0], 0, 32)
	if err != nil {
		n, ok := seccomp.SyscallNumber(specs.ArchX86_64, call[0])
		if !ok {
			return fmt.Errorf("syscall: unknown syscall %q", call[0])
		}
		nr = uint64(n)
	}
	var a [6]uintptr
	if len(call)-1 > len(a) {
		return fmt.Errorf("syscall: %s: more than 6 arguments", call[0])
	}
	for i, s := range call[1:] {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return fmt.Errorf("syscall: %s: argument %q: %w", call[0], s, err)
		}
		a[i] = uintptr(v)
	}
	r, _, errno := unix.Syscall6(uintptr(nr), a[0], a[1], a[2], a[3], a[4], a[5])
	fmt.Printf("%s ret=%d errno=%d\n", call[0], int64(r), int(errno))
	return nil
}
