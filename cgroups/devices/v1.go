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
	for _, w := range transition(cur, target) {
		if err := writeFile(filepath.Join(dir, w.file()), w.line); err != nil {
			return fmt.Errorf("devices: write %q to %s: %w", w.line, filepath.Join(dir, w.file()), err)
		}
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

func writeFile(name, line string) error {
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(line))
		if err != unix.EINTR {
			return err
		}
	}
}
