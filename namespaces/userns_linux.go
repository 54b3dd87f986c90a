package namespaces

import (
	"os"
	"strings"
)

// setgroupsDenied reports whether the calling process's user namespace
// has setgroups(2) disabled (/proc/self/setgroups "deny"), which a
// container joining a user namespace made by someone else may find.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}
