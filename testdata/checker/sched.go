package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// runSched prints the scheduling attributes of the process (its main
// thread, which the runtime set up before exec), one "key value" a line:
//
//	policy N      sched_getattr policy number (0 OTHER, 3 BATCH, 5 IDLE...)
//	flags N       sched_getattr flags
//	nice N
//	priority N    real-time priority
//	ioclass N     ioprio_get class (0 none, 1 RT, 2 BE, 3 IDLE)
//	iolevel N     ioprio_get level within the class
func runSched(args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("sched takes no arguments")
	}
	pid := os.Getpid()
	a, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		return fmt.Errorf("sched_getattr: %w", err)
	}
	const ioprioWhoProcess = 1
	prio, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(pid), 0)
	if e != 0 {
		return fmt.Errorf("ioprio_get: %w", e)
	}
	fmt.Printf("policy %d\nflags %d\nnice %d\npriority %d\nioclass %d\niolevel %d\n",
		a.Policy, a.Flags, a.Nice, a.Priority, prio>>13, prio&0x1fff)
	return nil
}
