// Package nsenter joins an existing user or time namespace, and makes a
// time namespace with offsets, before the Go runtime starts (see nsenter.c). Import it for its side effect, from package main
// only: `import _ "github.com/podrun/podrun/namespaces/nsenter"`.
package nsenter

// #cgo CFLAGS: -Wall -O2
import "C"

// EnvUserNSFd names the environment variable carrying the fd of the user
// namespace to join; EnvUnshare carries the clone flags to unshare after it.
// EnvTimeNSFd carries the fd of a time namespace to join (before the user
// namespace); EnvTimeOffsets the timens_offsets lines of a new time
// namespace to make and enter (after it).
const (
	EnvUserNSFd    = "_PODRUN_USERNS_FD"
	EnvUnshare     = "_PODRUN_UNSHARE"
	EnvTimeNSFd    = "_PODRUN_TIMENS_FD"
	EnvTimeOffsets = "_PODRUN_TIMENS_OFFSETS"
)
