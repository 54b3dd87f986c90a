package namespaces

import (
	"fmt"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// rlimits maps OCI rlimit names to resource numbers.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// RlimitType returns the resource number of an OCI rlimit name.
func RlimitType(name string) (int, bool) {
	r, ok := rlimits[name]
	return r, ok
}

// prepareProcess applies the process attributes of the plan to this
// thread, in the order that keeps the privileges each step needs: rlimits
// (raising a hard limit needs CAP_SYS_RESOURCE), cwd, bounding set
// (needs CAP_SETPCAP), ids with keep-caps, then the capability sets and
// no_new_privs. It returns the resolved executable path.
func prepareProcess(p *Plan) (string, error) {
	for _, rl := range p.Rlimits {
		if err := unix.Prlimit(0, rl.Resource, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}, nil); err != nil {
			return "", fmt.Errorf("process.rlimits: setting %s: %w", rl.Type, err)
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// runc creates a missing cwd; we are already inside the rootfs, so
	// symlinks resolve within it.
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return "", fmt.Errorf("process.cwd: creating %q: %w", cwd, err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return "", fmt.Errorf("process.cwd: chdir to %q: %w", cwd, err)
	}
	if err := checkCwd(cwd); err != nil {
		return "", err
	}
	p.Env = ProcessEnv(p.Env, p.UID, func() ([]byte, error) { return readRootfsFile("/etc/passwd") })

	caps, err := capsFor(&p.Caps)
	if err != nil {
		return "", err
	}
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return "", fmt.Errorf("process.capabilities.bounding: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return "", fmt.Errorf("prctl keepcaps: %w", err)
	}
	if err := setIDs(p.UID, p.GID, p.AdditionalGids); err != nil {
		return "", err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return "", fmt.Errorf("prctl keepcaps: %w", err)
	}
	if err := caps.Apply(capability.CAPS | capability.AMBS); err != nil {
		return "", fmt.Errorf("process.capabilities: %w", err)
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	umask := 0o022
	if p.Umask != nil {
		umask = int(*p.Umask)
	}
	unix.Umask(umask)
	if len(p.Args) == 0 {
		return "", fmt.Errorf("process.args must not be empty")
	}
	return lookPath(p.Args[0], p.Env)
}

// dedupEnv keeps the last entry of each variable, where it is, as runc
// does: `exec --env TERM=dumb` must override the config's TERM, and with
// both in the environment getenv(3) and Go would find the first.
func dedupEnv(env []string) []string {
	out := make([]string, 0, len(env))
	saw := make(map[string]bool, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		key, _, _ := strings.Cut(env[i], "=")
		if saw[key] {
			continue
		}
		saw[key] = true
		out = append(out, env[i])
	}
	slices.Reverse(out)
	return out
}

// ProcessEnv is the environment a process gets from process.env: the
// last entry of each variable (dedupEnv), and HOME, as runc sets it when
// there is none: the uid's home in the container's /etc/passwd (passwd
// reads it, only then), else "/".
func ProcessEnv(env []string, uid uint32, passwd func() ([]byte, error)) []string {
	env = dedupEnv(env)
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if data, err := passwd(); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 6 && f[2] == strconv.FormatUint(uint64(uid), 10) && f[5] != "" {
				home = f[5]
				break
			}
		}
	}
	return append(env, "HOME="+home)
}

// setIDs sets supplementary groups, gid and uid of this thread, with raw
// system calls as runc's init did: the unix package's change every
// thread of the process (glibc's setxid signals each one in turn, some
// 15 signals and thread wake-ups per start), where only this one matters:
// it is the one that execs, and the capability sets are per-thread too.
func setIDs(uid, gid uint32, additionalGids []uint32) error {
	if err := rawSetgroups(additionalGids); err != nil {
		// setgroups is denied in a user namespace with setgroups=deny; that
		// is only an error when groups were asked for.
		if len(additionalGids) > 0 && isUserNSDenied(err) && setgroupsDenied() {
			return fmt.Errorf("process.user.additionalGids: the container's user namespace denies setgroups (its /proc/<pid>/setgroups is \"deny\"): drop the additional gids or use a user namespace that allows it")
		}
		if len(additionalGids) > 0 || !isUserNSDenied(err) {
			return fmt.Errorf("process.user.additionalGids: setgroups: %w", err)
		}
	}
	if err := rawSetres(sysSetresgid, gid); err != nil {
		return fmt.Errorf("process.user.gid: setting gid %d: %w", gid, err)
	}
	if err := rawSetres(sysSetresuid, uid); err != nil {
		return fmt.Errorf("process.user.uid: setting uid %d: %w", uid, err)
	}
	return nil
}

// rawSetgroups is setgroups(2) for the calling thread only.
func rawSetgroups(gids []uint32) error {
	var p *uint32
	if len(gids) > 0 {
		p = &gids[0]
	}
	if _, _, e := unix.RawSyscall(sysSetgroups, uintptr(len(gids)), uintptr(unsafe.Pointer(p)), 0); e != 0 {
		return e
	}
	return nil
}

// rawSetres is setresuid(2) or setresgid(2) of one id for the calling
// thread only.
func rawSetres(nr uintptr, id uint32) error {
	if _, _, e := unix.RawSyscall(nr, uintptr(id), uintptr(id), uintptr(id)); e != 0 {
		return e
	}
	return nil
}

func isUserNSDenied(err error) bool { return err == unix.EPERM }

// capsFor builds the five capability sets of the plan's masks (bit n is
// capability n).
func capsFor(masks *[numCapSets]uint64) (capability.Capabilities, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for set, which := range [numCapSets]capability.CapType{
		capBounding: capability.BOUNDING, capEffective: capability.EFFECTIVE,
		capPermitted: capability.PERMITTED, capInheritable: capability.INHERITABLE,
		capAmbient: capability.AMBIENT,
	} {
		for m := masks[set]; m != 0; m &= m - 1 {
			c.Set(which, capability.Cap(bits.TrailingZeros64(m)))
		}
	}
	return c, nil
}
