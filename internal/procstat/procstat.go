// Package procstat reads a process's start time and state from
// /proc/<pid>/stat: the pair that tells a live process from a zombie, and
// from a later process that reuses its pid.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Read returns the start time (field 22, clock ticks after boot) and the
// state (field 3: 'R', 'S', 'Z', ...) of pid.
func Read(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	start, state, ok := parse(b)
	if !ok {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return start, state, nil
}

func parse(b []byte) (start uint64, state byte, ok bool) {
	// comm may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 20 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, fields[0][0], true
}
