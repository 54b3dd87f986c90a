package namespaces

import "testing"

func TestSysctlName(t *testing.T) {
	for key, want := range map[string][2]string{
		"net.ipv4.ip_forward":              {"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		"net/ipv4/ip_forward":              {"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		"net/ipv4/conf/eno2.100/rp_filter": {"net.ipv4.conf.eno2/100.rp_filter", "net/ipv4/conf/eno2.100/rp_filter"},
		"net.ipv4.conf.eno2/100.rp_filter": {"net.ipv4.conf.eno2/100.rp_filter", "net/ipv4/conf/eno2.100/rp_filter"},
		"kernel.shmmax":                    {"kernel.shmmax", "kernel/shmmax"},
		"fs.mqueue.msg_max":                {"fs.mqueue.msg_max", "fs/mqueue/msg_max"},
		"kernel":                           {"kernel", "kernel"},
	} {
		d, p, err := SysctlName(key)
		if err != nil || d != want[0] || p != want[1] {
			t.Errorf("SysctlName(%q) = %q, %q, %v; want %q, %q", key, d, p, err, want[0], want[1])
		}
	}
	for _, key := range []string{
		"", ".", "net..ipv4", "net.", ".net",
		"net.//.kernel.core_pattern", // "//" is ".." in the dotted form
		"net/../kernel/core_pattern",
		"net.ipv4./.x", "net/./x", "net.a\x00b",
	} {
		if d, p, err := SysctlName(key); err == nil {
			t.Errorf("SysctlName(%q) = %q, %q; want an error", key, d, p)
		}
	}
}
