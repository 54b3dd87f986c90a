package devices

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ApplyV1 makes dir (a directory of the v1 devices controller) enforce
// rules, as runc's fs driver does: it computes the target state (deny-all
// or allow-all plus exceptions), reads the current one from devices.list,
// writes only the lines that take one to the other (see transition for the
// order, which never allows more than the old or the new rules, except
// when the cgroup is or becomes a deny list), and then checks devices.list
// against the target.
//
// Files are read and written with plain open/read/write, one line per
// write(2) as the kernel parses them.
func ApplyV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	target, err := compile(rules)
	if err != nil {
		return err
	}
	cur, err := readList(dir)
	if err != nil {
		return err
	}
	if err := writeLines(dir, transition(cur, target)); err != nil {
		return err
	}
	after, err := readList(dir)
	if err != nil {
		return err
	}
	// A deny list reads back as "a *:* rwm" alone: only its mode can be checked.
	if after.allowAll != target.allowAll || (!target.allowAll && !after.equal(target)) {
		return fmt.Errorf("devices: %s/devices.list does not match the rules after writing them:\nhave:\n%swant:\n%s", dir, after, target)
	}
	return nil
}

func readList(dir string) (*state, error) {
	name := filepath.Join(dir, "devices.list")
	data, err := readFile(name)
	if err != nil {
		return nil, fmt.Errorf("devices: read %s: %w", name, err)
	}
	s, err := parseList(data)
	if err != nil {
		return nil, fmt.Errorf("devices: %s: %w", name, err)
	}
	return s, nil
}

func readFile(name string) (string, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

// writeLines writes each line with its own write(2), in order, opening
// devices.allow and devices.deny once each: the default allowlist alone is
// a dozen lines, and every open walks the path through /sys/fs (a sysfs
// lookup that waits while a network namespace is being set up).
func writeLines(dir string, lines []write) error {
	fds := map[string]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, w := range lines {
		name := filepath.Join(dir, w.file())
		fd, ok := fds[name]
		if !ok {
			var err error
			if fd, err = unix.Open(name, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
				return fmt.Errorf("devices: write %q to %s: %w", w.line, name, err)
			}
			fds[name] = fd
		}
		if err := writeLine(fd, w.line); err != nil {
			return fmt.Errorf("devices: write %q to %s: %w", w.line, name, err)
		}
	}
	return nil
}

func writeLine(fd int, line string) error {
	for {
		_, err := unix.Write(fd, []byte(line))
		if err != unix.EINTR {
			return err
		}
	}
}
