package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/cgroups"
	"github.com/podrun/podrun/cgroups/devices"
	"github.com/podrun/podrun/internal/capnames"
	"github.com/podrun/podrun/internal/userfile"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/rootfs"
	"github.com/podrun/podrun/seccomp"
)

// MaxConfigSize bounds config.json: the size every file a user hands
// podrun is held to. Real configs are a few KiB (a large seccomp profile
// makes tens); a bigger file is a mistake or an attack on the runtime's
// memory, refused before it is read.
const MaxConfigSize = userfile.MaxSize

// LoadSpec reads and parses <bundle>/config.json: a regular file (a FIFO
// planted there must not hang us), at most MaxConfigSize bytes. Errors name
// the file or the field.
func LoadSpec(bundle string) (*specs.Spec, error) {
	s, _, err := loadSpec(bundle)
	return s, err
}

// loadSpec is LoadSpec that also returns the file's bytes.
func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	b, err := userfile.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("bundle %q: config.json does not exist", bundle)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %q: config.json: %w", bundle, err)
	}
	s, err := ParseSpec(b)
	return s, b, err
}

// ParseSpec parses the content of a config.json. Errors name the file and
// the field; nesting deeper than userfile.MaxDepth is refused before
// decoding.
func ParseSpec(b []byte) (*specs.Spec, error) {
	if err := userfile.CheckDepth(b); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	s, err := decodeSpec(b)
	if err != nil {
		return nil, fmt.Errorf("config.json: %s", jsonErrorText(err))
	}
	return s, nil
}

// jsonErrorText turns encoding/json errors into one line naming the field.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: cannot use a JSON %s as %s", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at offset %d: %v", se.Offset, err)
	}
	return err.Error()
}

// namespacedSysctl reports which namespace a sysctl key belongs to, "" when
// it is not namespaced (and so must be refused: it would change the host).
func namespacedSysctl(key string) specs.LinuxNamespaceType {
	switch {
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace
	case strings.HasPrefix(key, "fs.mqueue."),
		key == "kernel.msgmax", key == "kernel.msgmnb", key == "kernel.msgmni",
		key == "kernel.sem", key == "kernel.shmall", key == "kernel.shmmax",
		key == "kernel.shmmni", key == "kernel.shm_rmid_forced":
		return specs.IPCNamespace
	case key == "kernel.hostname", key == "kernel.domainname":
		return specs.UTSNamespace
	}
	return ""
}

// validateSysctls refuses linux.sysctl keys that would act outside the
// container: not namespaced, or namespaced in a namespace shared with the
// runtime (not in linux.namespaces, or joined by a path that is ours).
func validateSysctls(l *specs.Linux) error {
	for _, k := range slices.Sorted(maps.Keys(l.Sysctl)) {
		key, _, err := namespaces.SysctlName(k)
		if err != nil {
			return fmt.Errorf("linux.sysctl: %w", err)
		}
		t := namespacedSysctl(key)
		if t == "" {
			return fmt.Errorf("linux.sysctl: %q is not in a separate kernel namespace", k)
		}
		if key == "kernel.hostname" {
			return fmt.Errorf("linux.sysctl: %q conflicts with the hostname field; set that instead", k)
		}
		if !namespaces.Has(l.Namespaces, t) {
			return fmt.Errorf("linux.sysctl: %q requires a %s namespace", k, t)
		}
		if p := namespaces.Path(l.Namespaces, t); p != "" {
			same, err := sameFile(p, "/proc/self/ns/"+namespaces.ProcName(t))
			if err != nil {
				return fmt.Errorf("linux.namespaces: %s namespace path %q: %w", t, p, err)
			}
			if same {
				return fmt.Errorf("linux.sysctl: %q is not allowed in the runtime's own %s namespace (%q)", k, t, p)
			}
		}
	}
	return nil
}

// sameFile reports whether paths a and b are the same file. Its errors
// are bare errnos, so that a path with odd characters stays out of them.
func sameFile(a, b string) (bool, error) {
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		return false, err
	}
	if err := syscall.Stat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// kernelHasNS reports whether the kernel offers namespaces of a kind
// (name under /proc/self/ns).
func kernelHasNS(name string) bool {
	_, err := os.Stat("/proc/self/ns/" + name)
	return err == nil
}

// checkRootNoSymlink refuses a root.path that is, or goes through, a
// symlink (as runc does): the rootfs is what the path names, not what a
// symlink planted in the bundle points at. Symlinks in the bundle's own
// path are fine (runc works from the bundle as its cwd).
func checkRootNoSymlink(bundle, root string) error {
	base := "/"
	if !filepath.IsAbs(root) {
		var err error
		if base, err = filepath.EvalSymlinks(bundle); err != nil {
			return fmt.Errorf("bundle %q: %w", bundle, err)
		}
	}
	want := filepath.Join(base, root)
	got, err := filepath.EvalSymlinks(want)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	if got != want {
		return fmt.Errorf("root.path: %q is a symlink or has one in its path (to %q)", root, got)
	}
	return nil
}

// validateSpec checks what create needs before anything is made. It may
// normalise the spec (dropping unknown capabilities with a warning, as runc).
func (r *Runtime) validateSpec(s *specs.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path: is required")
	}
	if s.Process == nil {
		return errors.New("process: is required for create")
	}
	if s.Linux == nil {
		return errors.New("linux: section is required on Linux")
	}
	if err := r.validateProcess(s.Process, "process"); err != nil {
		return err
	}
	l := s.Linux
	if err := namespaces.Validate(l.Namespaces); err != nil {
		return err
	}
	newNS := func(t specs.LinuxNamespaceType) bool {
		for _, ns := range l.Namespaces {
			if ns.Type == t {
				return true
			}
		}
		return false
	}
	if !newNS(specs.MountNamespace) {
		// The mounts are then made in ours, as runc does; masking would
		// mount over the host's own /proc and /sys (runc's text).
		if len(l.MaskedPaths) > 0 {
			return errors.New("linux.maskedPaths: unable to restrict sys entries without a private MNT namespace")
		}
		if len(l.ReadonlyPaths) > 0 {
			return errors.New("linux.readonlyPaths: unable to restrict sys entries without a private MNT namespace")
		}
	}
	if s.Hostname != "" && !newNS(specs.UTSNamespace) {
		return errors.New("hostname: unable to set hostname without a private UTS namespace")
	}
	if s.Domainname != "" && !newNS(specs.UTSNamespace) {
		return errors.New("domainname: unable to set domainname without a private UTS namespace")
	}
	userNS := newNS(specs.UserNamespace)
	newUserNS := userNS && namespaces.Path(l.Namespaces, specs.UserNamespace) == ""
	if newUserNS && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return errors.New("linux.uidMappings: a new user namespace needs uidMappings and gidMappings")
	}
	if !newUserNS && (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) {
		return errors.New("linux.uidMappings: mappings given without a new user namespace")
	}
	if err := validateSysctls(l); err != nil {
		return err
	}
	// The kinds a kernel may be built without (runc checks the same).
	for _, t := range []specs.LinuxNamespaceType{specs.CgroupNamespace, specs.UserNamespace, specs.TimeNamespace} {
		if newNS(t) && !kernelHasNS(namespaces.ProcName(t)) {
			return fmt.Errorf("linux.namespaces: %s namespaces are not enabled in the kernel", t)
		}
	}
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return fmt.Errorf("mounts[%d].destination: is required", i)
		}
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
	}
	warnings, err := rootfs.Validate(s)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		r.Log.Warnf("%s", w)
	}
	// Limits are checked before anything exists, so a bad value leaves
	// nothing behind; the errors name the field (linux.resources...).
	if l.Resources != nil {
		for _, w := range devices.DropUnknownAccess(l.Resources.Devices) {
			r.Log.Warnf("%s", w)
		}
	}
	if err := cgroups.Validate(l.Resources); err != nil {
		return err
	}
	if l.Seccomp != nil {
		// Compiled once, later in Create; here only checked.
		if err := seccomp.Validate(l.Seccomp); err != nil {
			return err
		}
	}
	if err := validateLinuxKnobs(l); err != nil {
		return err
	}
	return nil
}

// validateProcess checks a process (of config.json or of exec --process).
func (r *Runtime) validateProcess(p *specs.Process, field string) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return fmt.Errorf("%s.args: must not be empty", field)
	}
	if p.CommandLine != "" {
		return fmt.Errorf("%s.commandLine: only meaningful on Windows", field)
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("%s.cwd: %q is not an absolute path", field, p.Cwd)
	}
	seen := map[string]bool{}
	for i, rl := range p.Rlimits {
		if _, ok := namespaces.RlimitType(rl.Type); !ok {
			return fmt.Errorf("%s.rlimits[%d].type: unknown rlimit %q", field, i, rl.Type)
		}
		if seen[rl.Type] {
			return fmt.Errorf("%s.rlimits[%d].type: duplicate rlimit %q", field, i, rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return fmt.Errorf("%s.rlimits[%d]: soft limit %d exceeds hard limit %d", field, i, rl.Soft, rl.Hard)
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("%s.oomScoreAdj: %d is outside [-1000, 1000]", field, *p.OOMScoreAdj)
	}
	if err := validateProcessKnobs(p, field); err != nil {
		return err
	}
	if c := p.Capabilities; c != nil {
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
			kept := (*set)[:0]
			for _, n := range *set {
				if _, ok := capnames.ByName(n); ok {
					kept = append(kept, n)
				} else {
					r.Log.Warnf("%s.capabilities: ignoring unknown or unsupported capability %q", field, n)
				}
			}
			*set = kept
		}
		var dropped []string
		c.Ambient, dropped = raisableAmbient(c)
		for _, n := range dropped {
			r.Log.Warnf("%s.capabilities.ambient: cannot raise %s: it is not both permitted and inheritable", field, n)
		}
	}
	return nil
}

// raisableAmbient splits c.Ambient into the capabilities the kernel lets a
// process raise (PR_CAP_AMBIENT_RAISE needs each one permitted and
// inheritable, else EPERM) and the rest. The runtime spec says a
// capability that cannot be granted is logged as a warning and the
// runtime should not fail; runc's own default config asks for ambient
// capabilities without inheritable ones, and runc warns and goes on.
func raisableAmbient(c *specs.LinuxCapabilities) (kept, dropped []string) {
	if len(c.Ambient) == 0 {
		return c.Ambient, nil
	}
	kept = make([]string, 0, len(c.Ambient))
	for _, n := range c.Ambient {
		if slices.Contains(c.Permitted, n) && slices.Contains(c.Inheritable, n) {
			kept = append(kept, n)
		} else {
			dropped = append(dropped, n)
		}
	}
	return kept, dropped
}
