package checkreport

import (
	"fmt"
	"strconv"
	"strings"
)

// CapNames is the name of each capability, indexed by its number
// (linux/capability.h up to CAP_CHECKPOINT_RESTORE, 40).
var CapNames = []string{
	"CAP_CHOWN",              // 0
	"CAP_DAC_OVERRIDE",       // 1
	"CAP_DAC_READ_SEARCH",    // 2
	"CAP_FOWNER",             // 3
	"CAP_FSETID",             // 4
	"CAP_KILL",               // 5
	"CAP_SETGID",             // 6
	"CAP_SETUID",             // 7
	"CAP_SETPCAP",            // 8
	"CAP_LINUX_IMMUTABLE",    // 9
	"CAP_NET_BIND_SERVICE",   // 10
	"CAP_NET_BROADCAST",      // 11
	"CAP_NET_ADMIN",          // 12
	"CAP_NET_RAW",            // 13
	"CAP_IPC_LOCK",           // 14
	"CAP_IPC_OWNER",          // 15
	"CAP_SYS_MODULE",         // 16
	"CAP_SYS_RAWIO",          // 17
	"CAP_SYS_CHROOT",         // 18
	"CAP_SYS_PTRACE",         // 19
	"CAP_SYS_PACCT",          // 20
	"CAP_SYS_ADMIN",          // 21
	"CAP_SYS_BOOT",           // 22
	"CAP_SYS_NICE",           // 23
	"CAP_SYS_RESOURCE",       // 24
	"CAP_SYS_TIME",           // 25
	"CAP_SYS_TTY_CONFIG",     // 26
	"CAP_MKNOD",              // 27
	"CAP_LEASE",              // 28
	"CAP_AUDIT_WRITE",        // 29
	"CAP_AUDIT_CONTROL",      // 30
	"CAP_SETFCAP",            // 31
	"CAP_MAC_OVERRIDE",       // 32
	"CAP_MAC_ADMIN",          // 33
	"CAP_SYSLOG",             // 34
	"CAP_WAKE_ALARM",         // 35
	"CAP_BLOCK_SUSPEND",      // 36
	"CAP_AUDIT_READ",         // 37
	"CAP_PERFMON",            // 38
	"CAP_BPF",                // 39
	"CAP_CHECKPOINT_RESTORE", // 40
}

// RlimitNames is the name of each rlimit resource, indexed by its number
// on Linux.
var RlimitNames = []string{
	"RLIMIT_CPU",        // 0
	"RLIMIT_FSIZE",      // 1
	"RLIMIT_DATA",       // 2
	"RLIMIT_STACK",      // 3
	"RLIMIT_CORE",       // 4
	"RLIMIT_RSS",        // 5
	"RLIMIT_NPROC",      // 6
	"RLIMIT_NOFILE",     // 7
	"RLIMIT_MEMLOCK",    // 8
	"RLIMIT_AS",         // 9
	"RLIMIT_LOCKS",      // 10
	"RLIMIT_SIGPENDING", // 11
	"RLIMIT_MSGQUEUE",   // 12
	"RLIMIT_NICE",       // 13
	"RLIMIT_RTPRIO",     // 14
	"RLIMIT_RTTIME",     // 15
}

func normCap(name string) string {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	return name
}

// ParseCapSet turns a hex mask from /proc/self/status (CapEff:
// 00000000a80425fb) into a CapSet. Bits without a known name are named
// "CAP_<n>".
func ParseCapSet(hex string) (CapSet, error) {
	hex = strings.TrimSpace(hex)
	mask, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return CapSet{Hex: hex}, fmt.Errorf("capability mask %q: %w", hex, err)
	}
	set := CapSet{Hex: hex, Names: []string{}}
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<uint(bit)) == 0 {
			continue
		}
		if bit < len(CapNames) {
			set.Names = append(set.Names, CapNames[bit])
		} else {
			set.Names = append(set.Names, "CAP_"+strconv.Itoa(bit))
		}
	}
	return set, nil
}

// ParseStatus splits /proc/self/status into its fields ("CapEff" ->
// "00000000a80425fb").
func ParseStatus(data string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// ParseMountinfo parses the content of /proc/self/mountinfo
// (proc(5)): one Mount per line.
func ParseMountinfo(data string) ([]Mount, error) {
	var mounts []Mount
	for _, line := range strings.Split(data, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMountinfoLine(line)
		if err != nil {
			return mounts, err
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

func parseMountinfoLine(line string) (Mount, error) {
	// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(fields) {
		return Mount{}, fmt.Errorf("mountinfo: malformed line %q", line)
	}
	id, err1 := strconv.Atoi(fields[0])
	parent, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("mountinfo: malformed ids in %q", line)
	}
	m := Mount{
		ID:         id,
		Parent:     parent,
		Dev:        fields[2],
		Root:       unescapeOctal(fields[3]),
		Mountpoint: unescapeOctal(fields[4]),
		Options:    strings.Split(fields[5], ","),
		FSType:     fields[sep+1],
	}
	if sep > 6 {
		m.Optional = append([]string(nil), fields[6:sep]...)
	}
	m.Propagation = Propagation(m.Optional)
	if sep+2 < len(fields) {
		m.Source = unescapeOctal(fields[sep+2])
	}
	if sep+3 < len(fields) {
		m.SuperOptions = strings.Split(fields[sep+3], ",")
	} else {
		m.SuperOptions = []string{}
	}
	return m, nil
}

// Propagation summarises the optional fields of a mountinfo line:
// "private" when there are none, otherwise "shared", "slave",
// "shared,slave" or "unbindable".
func Propagation(optional []string) string {
	var shared, slave, unbindable bool
	for _, f := range optional {
		switch {
		case strings.HasPrefix(f, "shared:"):
			shared = true
		case strings.HasPrefix(f, "master:"):
			slave = true
		case f == "unbindable":
			unbindable = true
		}
	}
	switch {
	case shared && slave:
		return "shared,slave"
	case shared:
		return "shared"
	case slave:
		return "slave"
	case unbindable:
		return "unbindable"
	}
	return "private"
}

// unescapeOctal undoes the \040-style escapes of mountinfo fields.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParseCgroups parses the content of /proc/self/cgroup
// ("hierarchy-ID:controller-list:cgroup-path" lines).
func ParseCgroups(data string) ([]Cgroup, error) {
	var cgs []Cgroup
	for _, line := range strings.Split(data, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return cgs, fmt.Errorf("cgroup: malformed line %q", line)
		}
		id, err := strconv.Atoi(parts[0])
		if err != nil {
			return cgs, fmt.Errorf("cgroup: malformed id in %q", line)
		}
		cg := Cgroup{ID: id, Controllers: []string{}, Path: parts[2]}
		if parts[1] != "" {
			cg.Controllers = strings.Split(parts[1], ",")
		}
		cgs = append(cgs, cg)
	}
	return cgs, nil
}

// Cgroup returns the cgroup path of the hierarchy that has controller
// (e.g. "memory", "name=systemd"), or of the cgroup v2 hierarchy when
// controller is "", and whether one was found.
func (r *Report) Cgroup(controller string) (string, bool) {
	for _, cg := range r.Cgroups {
		if controller == "" {
			if cg.ID == 0 && len(cg.Controllers) == 0 {
				return cg.Path, true
			}
			continue
		}
		for _, c := range cg.Controllers {
			if c == controller {
				return cg.Path, true
			}
		}
	}
	return "", false
}
