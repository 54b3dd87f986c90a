package main

import (
	"fmt"
	"strconv"
	"strings"

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
// used as is, so the x32 bit can be set. ARGs are 64-bit integers. With an
// "i386:" prefix the call goes through int $0x80 (the i386 ABI, its table,
// at most 3 arguments, truncated to 32 bits).
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

func int80(nr, a1, a2, a3 uintptr) uintptr // syscall_amd64.s

func doSyscall(call []string) error {
	name, i386 := strings.CutPrefix(call[0], "i386:")
	arch := specs.ArchX86_64
	if i386 {
		arch = specs.ArchX86
	}
	nr, err := strconv.ParseUint(name, 0, 32)
	if err != nil {
		n, ok := seccomp.SyscallNumber(arch, name)
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
	if i386 {
		// The kernel returns -errno in eax.
		r := int32(int80(uintptr(nr), a[0], a[1], a[2]))
		errno := 0
		if r < 0 && r > -4096 {
			errno, r = int(-r), -1
		}
		fmt.Printf("%s ret=%d errno=%d\n", call[0], r, errno)
		return nil
	}
	r, _, errno := unix.Syscall6(uintptr(nr), a[0], a[1], a[2], a[3], a[4], a[5])
	fmt.Printf("%s ret=%d errno=%d\n", call[0], int64(r), int(errno))
	return nil
}
