package namespaces

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// loopbackUp sets lo up in this thread's network namespace. runc and crun
// do it in every network namespace they create: a fresh one has lo down,
// and 127.0.0.1 would be unreachable ("Network is unreachable") for the
// container and for everything that later joins its namespace (podman pods
// with --network none, containerd sandboxes). Two ioctls on a datagram
// socket: no netlink round trip to parse.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: reading lo's flags: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: setting lo up: %w", err)
	}
	return nil
}
