// oom.go is the OOM events of the memory controller: the OOM kill count
// and NotifyOOM (v1 cgroup.event_control, v2 memory.events).

package cgroups

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// memoryDir is the directory holding the memory controller's files.
func (m *manager) memoryDir(op string) (string, error) {
	if m.onlyUnified {
		return m.dirs[0], nil
	}
	d, ok := m.paths["memory"]
	if !ok {
		return "", m.err(op, "", errors.New("the memory controller is not mounted (cgroup v1)"))
	}
	return d, nil
}

// keyValue returns the value of key in a flat keyed file ("key value"
// lines, as memory.events or memory.oom_control).
func keyValue(p, key string) (uint64, error) {
	b, err := readFile(p)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %q: %w", p, line, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s has no %q (kernel too old?)", p, key)
}

func (m *manager) oomKillFile(dir string) string {
	if m.onlyUnified {
		return filepath.Join(dir, "memory.events")
	}
	return filepath.Join(dir, "memory.oom_control") // oom_kill since Linux 4.13
}

func (m *manager) OOMKillCount() (uint64, error) {
	d, err := m.memoryDir("oom kill count")
	if err != nil {
		return 0, err
	}
	n, err := keyValue(m.oomKillFile(d), "oom_kill")
	if err != nil {
		return 0, m.err("oom kill count", "", err)
	}
	return n, nil
}

func (m *manager) NotifyOOM(ctx context.Context) (<-chan struct{}, error) {
	d, err := m.memoryDir("notify oom")
	if err != nil {
		return nil, err
	}
	var ch <-chan struct{}
	if m.onlyUnified {
		ch, err = notifyOOMV2(ctx, d)
	} else {
		ch, err = notifyOOMV1(ctx, d)
	}
	if err != nil {
		return nil, m.err("notify oom", d, err)
	}
	return ch, nil
}

// canceller is an eventfd that becomes readable once ctx ends, for the
// poll loops. Call done when the loop exits; it closes the fd.
type canceller struct {
	fd   int
	stop chan struct{}
}

func newCanceller(ctx context.Context) (*canceller, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	c := &canceller{fd: fd, stop: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			var one [8]byte
			binary.NativeEndian.PutUint64(one[:], 1)
			unix.Write(fd, one[:])
			<-c.stop
		case <-c.stop:
		}
		unix.Close(fd)
	}()
	return c, nil
}

func (c *canceller) done() { close(c.stop) }

// send delivers n events, or gives up when ctx ends.
func send(ctx context.Context, ch chan<- struct{}, n uint64) bool {
	for ; n > 0; n-- {
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// poll2 waits until fd or the canceller is readable, or timeoutMs passes
// (-1: no timeout). It reports whether fd is readable and whether the
// wait was cancelled.
func poll2(fd int, c *canceller, timeoutMs int) (ready, cancelled bool, err error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(c.fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, false, os.NewSyscallError("poll", err)
		}
		return fds[0].Revents != 0, fds[1].Revents != 0, nil
	}
}

// notifyOOMV1 registers an eventfd for memory.oom_control through
// cgroup.event_control. The kernel signals it on every OOM in the cgroup
// and once more when the cgroup is removed.
func notifyOOMV1(ctx context.Context, dir string) (<-chan struct{}, error) {
	oomFile := filepath.Join(dir, "memory.oom_control")
	ofd, err := openFile(oomFile, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ofd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	closeFDs := func() { unix.Close(efd); unix.Close(ofd) }
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(ofd)
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg)); err != nil {
		closeFDs()
		return nil, err
	}
	c, err := newCanceller(ctx)
	if err != nil {
		closeFDs()
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		defer c.done()
		defer closeFDs()
		var buf [8]byte
		for {
			ready, cancelled, err := poll2(efd, c, -1)
			if err != nil || cancelled {
				return
			}
			if !ready {
				continue
			}
			n, err := unix.Read(efd, buf[:])
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil || n != 8 {
				return
			}
			// The last signal may be the cgroup's removal.
			if _, err := os.Lstat(filepath.Join(dir, "cgroup.event_control")); err != nil {
				return
			}
			if !send(ctx, ch, binary.NativeEndian.Uint64(buf[:])) {
				return
			}
		}
	}()
	return ch, nil
}

// notifyOOMV2 watches memory.events with inotify and sends one value per
// increase of its oom_kill count. kernfs sends no inotify event when the
// cgroup is removed, so the loop also checks for that every half second.
func notifyOOMV2(ctx context.Context, dir string) (<-chan struct{}, error) {
	events := filepath.Join(dir, "memory.events")
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	if _, err := unix.InotifyAddWatch(ifd, events, unix.IN_MODIFY); err != nil {
		unix.Close(ifd)
		return nil, &os.PathError{Op: "inotify_add_watch", Path: events, Err: err}
	}
	last, err := keyValue(events, "oom_kill")
	if err != nil {
		unix.Close(ifd)
		return nil, err
	}
	c, err := newCanceller(ctx)
	if err != nil {
		unix.Close(ifd)
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		defer c.done()
		defer unix.Close(ifd)
		buf := make([]byte, 4096)
		for {
			ready, cancelled, err := poll2(ifd, c, 500)
			if err != nil || cancelled {
				return
			}
			if ready {
				for {
					_, err := unix.Read(ifd, buf) // drain; the events say nothing more
					if err != nil {
						break
					}
				}
			}
			n, err := keyValue(events, "oom_kill")
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
				return // the cgroup is gone
			}
			if err != nil || n <= last {
				continue
			}
			if !send(ctx, ch, n-last) {
				return
			}
			last = n
		}
	}()
	return ch, nil
}
