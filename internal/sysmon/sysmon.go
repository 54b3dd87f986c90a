// Package sysmon widens the timer slack of the Go runtime's monitor
// thread (sysmon) in podrun's short-lived command-line processes.
//
// sysmon sleeps 20 us at a time for its first 50 rounds after the
// process starts and again after each wake-up from a system call: about
// 80 of the ~260 context switches of a `podrun run` CLI on these
// machines (perf sched:sched_switch). The kernel may let a sleep run
// late by the thread's timer slack (50 us by default); with 1 ms sysmon
// wakes at most about once a millisecond, and a CLI lives a few of them.
// Only sysmon's slack changes: it runs no goroutine, so nothing it does
// forks, and no child (the container's init, hooks) inherits it.
//
// The container's init does better (namespaces/nsenter's constructor):
// it forks from its one locked thread only, so all its threads get the
// slack from before the runtime starts and that thread alone is reset;
// Relax, from main, comes after the runtime's start and package inits
// (26-29 against 46-49 switches per init start).
package sysmon

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Slack is sysmon's timer slack after Relax, in nanoseconds.
const Slack = 1_000_000

// Relax sets sysmon's timer slack through
// /proc/<tid>/timerslack_ns, which takes CAP_SYS_NICE for a
// thread other than the caller; without it, or where sysmon cannot be
// told for sure (Thread), nothing changes.
func Relax() {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	// The process id as this /proc numbers it (it may be another pid
	// namespace's: the container's init sees the host's /proc).
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(self)
	if err != nil {
		return
	}
	tid, ok := Thread(pid, tids)
	if !ok {
		return
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(tid)+"/timerslack_ns", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_, _ = unix.Write(fd, []byte(strconv.Itoa(Slack)))
	unix.Close(fd)
}

// Thread picks sysmon among the thread ids of process pid. It is the
// first thread the Go runtime makes (runtime.main starts it before any
// package is initialised), so the lowest id after the main thread's,
// unless ids wrapped around meanwhile (one below pid): then no answer.
func Thread(pid int, tids []int) (int, bool) {
	first := 0
	for _, tid := range tids {
		switch {
		case tid == pid:
		case tid < pid:
			return 0, false
		case first == 0 || tid < first:
			first = tid
		}
	}
	return first, first != 0
}
