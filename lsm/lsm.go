// Package lsm applies the Linux security module labels of the OCI spec:
// an AppArmor profile (process.apparmorProfile) or SELinux label
// (process.selinuxLabel) for the user process, through the exec attributes
// of /proc/thread-self/attr, and the SELinux context of the container's
// mounts (linux.mountLabel). A label asked for on a host without the
// module is an error: running unconfined silently would be worse.
package lsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	// ErrAppArmorDisabled: a profile was asked for but AppArmor is off.
	ErrAppArmorDisabled = errors.New("AppArmor is not enabled on this host")
	// ErrSELinuxDisabled: a label was asked for but SELinux is off.
	ErrSELinuxDisabled = errors.New("SELinux is not enabled on this host")
)

// Host locates the kernel interfaces; the zero value means "/sys" and
// "/proc". Tests point it at a temporary tree.
type Host struct {
	Sys, Proc string
}

func (h Host) sys(p string) string {
	if h.Sys == "" {
		return filepath.Join("/sys", p)
	}
	return filepath.Join(h.Sys, p)
}

func (h Host) proc(p string) string {
	if h.Proc == "" {
		return filepath.Join("/proc", p)
	}
	return filepath.Join(h.Proc, p)
}

// AppArmorEnabled reports whether AppArmor is enabled and its securityfs
// interface is there (as runc's apparmor.IsEnabled).
func (h Host) AppArmorEnabled() bool {
	b, err := os.ReadFile(h.sys("module/apparmor/parameters/enabled"))
	if err != nil || len(b) == 0 || b[0] != 'Y' {
		return false
	}
	st, err := os.Stat(h.sys("kernel/security/apparmor"))
	return err == nil && st.IsDir()
}

// SELinuxEnabled reports whether selinuxfs is mounted at /sys/fs/selinux.
func (h Host) SELinuxEnabled() bool {
	_, err := os.Stat(h.sys("fs/selinux/enforce"))
	return err == nil
}

// Labels are the labels of one process.
type Labels struct {
	AppArmorProfile string
	SELinuxLabel    string
}

// Check fails, naming the field (prefix field, e.g. "process"), when a
// label is asked for that the host cannot apply.
func (h Host) Check(l Labels, field string) error {
	if l.AppArmorProfile != "" {
		if strings.ContainsAny(l.AppArmorProfile, "\n\x00") {
			return fmt.Errorf("%s.apparmorProfile: must not contain a newline or NUL", field)
		}
		if !h.AppArmorEnabled() {
			return fmt.Errorf("%s.apparmorProfile: %w", field, ErrAppArmorDisabled)
		}
	}
	if l.SELinuxLabel != "" {
		if strings.ContainsAny(l.SELinuxLabel, "\n\x00") {
			return fmt.Errorf("%s.selinuxLabel: must not contain a newline or NUL", field)
		}
		if !h.SELinuxEnabled() {
			return fmt.Errorf("%s.selinuxLabel: %w", field, ErrSELinuxDisabled)
		}
	}
	return nil
}

// CheckMountLabel fails when linux.mountLabel is set without SELinux.
func (h Host) CheckMountLabel(label string) error {
	if label == "" {
		return nil
	}
	// Commas are fine (MLS categories): the context is quoted.
	if strings.ContainsAny(label, "\n\x00\"") {
		return errors.New("linux.mountLabel: must not contain a newline, NUL or quote")
	}
	if !h.SELinuxEnabled() {
		return fmt.Errorf("linux.mountLabel: %w", ErrSELinuxDisabled)
	}
	return nil
}

// Exec holds the open attribute files of the calling thread; Apply writes
// them just before execve. They are opened early, before the container's
// mount namespace is entered, so a /proc inside the container (which a
// container process could have over-mounted) is never trusted for them.
type Exec struct {
	files          []*os.File
	values, fields []string
}

// OpenExec opens the exec attributes that l needs; nil when l is empty,
// so an unlabelled container pays nothing. A keyring label for SELinux is
// written at once: the init joins its session keyring before the exec.
func (h Host) OpenExec(l Labels) (*Exec, error) {
	if l == (Labels{}) {
		return nil, nil
	}
	e := &Exec{}
	if l.AppArmorProfile != "" {
		// The per-module interface since Linux 5.8, else the shared one.
		f, err := os.OpenFile(h.proc("thread-self/attr/apparmor/exec"), os.O_WRONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.OpenFile(h.proc("thread-self/attr/exec"), os.O_WRONLY|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("process.apparmorProfile: %w", err)
		}
		e.files = append(e.files, f)
		e.values = append(e.values, "exec "+l.AppArmorProfile)
		e.fields = append(e.fields, "process.apparmorProfile")
	}
	if l.SELinuxLabel != "" {
		if err := os.WriteFile(h.proc("thread-self/attr/keycreate"), []byte(l.SELinuxLabel), 0); err != nil {
			e.Close()
			return nil, fmt.Errorf("process.selinuxLabel: setting keycreate label: %w", err)
		}
		f, err := os.OpenFile(h.proc("thread-self/attr/exec"), os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("process.selinuxLabel: %w", err)
		}
		e.files = append(e.files, f)
		e.values = append(e.values, l.SELinuxLabel)
		e.fields = append(e.fields, "process.selinuxLabel")
	}
	return e, nil
}

// Apply sets the labels the next execve of this thread takes, and closes
// the files. A nil Exec does nothing.
func (e *Exec) Apply() error {
	if e == nil {
		return nil
	}
	defer e.Close()
	for i, f := range e.files {
		if _, err := f.Write([]byte(e.values[i])); err != nil {
			return fmt.Errorf("%s: setting exec label %q: %w", e.fields[i], e.values[i], err)
		}
	}
	return nil
}

// Close releases the files without applying them.
func (e *Exec) Close() {
	if e == nil {
		return
	}
	for _, f := range e.files {
		f.Close()
	}
	e.files = nil
}

// MountContext is the mount option that gives a new filesystem the SELinux
// context of linux.mountLabel (as runc's label.FormatMountLabel).
func MountContext(label string) string { return fmt.Sprintf("context=%q", label) }

// Labelable reports whether a filesystem type takes linux.mountLabel:
// not proc, sysfs, cgroups or mqueue (as runc), nor bind mounts.
func Labelable(fstype string) bool {
	switch fstype {
	case "proc", "sysfs", "cgroup", "cgroup2", "mqueue", "bind":
		return false
	}
	return true
}
