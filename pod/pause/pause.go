// Package pause is the process of a pod's infra container: the podrun
// binary started with Env=1 runs a C constructor (pause.c) that never
// returns to Go. Import it for its side effect, from package main only.
package pause

// #cgo CFLAGS: -Wall -O2
import "C"

// Env is the environment entry that turns podrun into the pause process.
const Env = "_PODRUN_PAUSE=1"
