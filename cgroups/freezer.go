// freezer.go is the freezer: Freeze, Thaw and Frozen through the v1
// freezer hierarchy or v2's cgroup.freeze.

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// freezeTimeout bounds the wait for the kernel to report a cgroup frozen
// or thawed. Freezing can take long under load (and in slow VMs).
const freezeTimeout = 10 * time.Second

func (m *manager) freezerDir(op string) (string, error) {
	if m.onlyUnified {
		return m.dirs[0], nil
	}
	d, ok := m.paths["freezer"]
	if !ok {
		return "", m.err(op, "", errors.New("the freezer controller is not mounted (cgroup v1)"))
	}
	return d, nil
}

func (m *manager) Freeze() error {
	d, err := m.freezerDir("freeze")
	if err != nil {
		return err
	}
	if m.onlyUnified {
		err = setFreezeV2(d, true)
	} else {
		err = freezeV1(d)
	}
	if err != nil {
		return m.err("freeze", d, err)
	}
	return nil
}

func (m *manager) Thaw() error {
	d, err := m.freezerDir("thaw")
	if err != nil {
		return err
	}
	if m.onlyUnified {
		err = setFreezeV2(d, false)
	} else {
		err = thawV1(d)
	}
	if err != nil {
		return m.err("thaw", d, err)
	}
	return nil
}

func (m *manager) Frozen() (bool, error) {
	d, err := m.freezerDir("freezer state")
	if err != nil {
		return false, err
	}
	if m.onlyUnified {
		s, err := readTrim(filepath.Join(d, "cgroup.freeze"))
		if err != nil {
			return false, m.err("freezer state", d, err)
		}
		return s == "1", nil
	}
	s, err := readTrim(filepath.Join(d, "freezer.state"))
	if err != nil {
		return false, m.err("freezer state", d, err)
	}
	return s != "THAWED", nil
}

// pollUntil calls done with growing pauses (1 ms up to 20 ms) until it
// reports true or fails, or the timeout passes.
func pollUntil(timeout time.Duration, done func(i int) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for i := 0; ; i++ {
		ok, err := done(i)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(delay)
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

var errTimeout = errors.New("timed out")

// freezeV1 writes FROZEN until the state reads FROZEN. Tasks that are
// stuck (e.g. in vfork or uninterruptible sleep) can keep the cgroup
// FREEZING: as runc does, thaw and retry now and then.
func freezeV1(dir string) error {
	state := filepath.Join(dir, "freezer.state")
	if err := writeFile(state, []byte("FROZEN")); err != nil {
		return err
	}
	err := pollUntil(freezeTimeout, func(i int) (bool, error) {
		s, err := readTrim(state)
		if err != nil || s == "FROZEN" {
			return true, err
		}
		if i > 0 && i%25 == 0 {
			if err := writeFile(state, []byte("THAWED")); err != nil {
				return false, err
			}
		}
		return false, writeFile(state, []byte("FROZEN"))
	})
	if err == errTimeout {
		_ = writeFile(state, []byte("THAWED"))
		return fmt.Errorf("%s did not become FROZEN within %v (thawed again)", state, freezeTimeout)
	}
	return err
}

func thawV1(dir string) error {
	state := filepath.Join(dir, "freezer.state")
	if err := writeFile(state, []byte("THAWED")); err != nil {
		return err
	}
	err := pollUntil(freezeTimeout, func(int) (bool, error) {
		s, err := readTrim(state)
		return s == "THAWED", err
	})
	if err == errTimeout {
		return fmt.Errorf("%s did not become THAWED within %v", state, freezeTimeout)
	}
	return err
}

// setFreezeV2 writes cgroup.freeze and waits until cgroup.events says
// "frozen 1" (or 0).
func setFreezeV2(dir string, freeze bool) error {
	v, want := "0", "frozen 0"
	if freeze {
		v, want = "1", "frozen 1"
	}
	if err := writeFile(filepath.Join(dir, "cgroup.freeze"), []byte(v)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w (the cgroup v2 freezer needs Linux 5.2 or later)", err)
		}
		return err
	}
	events := filepath.Join(dir, "cgroup.events")
	err := pollUntil(freezeTimeout, func(int) (bool, error) {
		b, err := readFile(events)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "frozen ") {
				return line == want, nil
			}
		}
		return false, fmt.Errorf("no frozen line in %s", events)
	})
	if err == errTimeout {
		if freeze {
			_ = writeFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"))
			return fmt.Errorf("%s did not say %q within %v (thawed again)", events, want, freezeTimeout)
		}
		return fmt.Errorf("%s did not say %q within %v", events, want, freezeTimeout)
	}
	return err
}

func (m *manager) FrozenInEffect() (bool, error) {
	d, err := m.freezerDir("freezer state")
	if err != nil {
		return false, nil // no freezer, nothing can be frozen
	}
	// The cgroup or, before it exists, the nearest existing ancestor (a
	// new cgroup starts in its parent's state).
	for {
		var frozen bool
		if m.onlyUnified {
			var s string
			if s, err = readTrim(filepath.Join(d, "cgroup.events")); err == nil {
				frozen = strings.Contains("\n"+s+"\n", "\nfrozen 1\n")
			}
		} else {
			var s string
			if s, err = readTrim(filepath.Join(d, "freezer.state")); err == nil {
				frozen = s != "THAWED"
			}
		}
		switch {
		case err == nil:
			return frozen, nil
		case !errors.Is(err, fs.ErrNotExist):
			return false, m.err("freezer state", d, err)
		}
		// The root of a hierarchy has no state file and cannot be frozen;
		// above it are /sys/fs/cgroup, /sys (sysfs) and /, no cgroups.
		parent := filepath.Dir(d)
		if parent == d || isMountpoint(d) {
			return false, nil
		}
		d = parent
	}
}

// isMountpoint reports whether d is one of the host's cgroup mount points.
func isMountpoint(d string) bool {
	h, err := currentHost()
	if err != nil {
		return false
	}
	mnt, ok := h.mountOf(d)
	return ok && mnt == d
}
