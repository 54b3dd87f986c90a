// Package namespaces starts the container init and exec processes in the
// right Linux namespaces, and is the entry point of the re-executed init.
//
// The parent side (Start) maps linux.namespaces to clone flags, hands the
// child the namespaces it must join and drives it through the init protocol
// over a socket pair. The child side (Init) runs in `podrun init` on its
// locked main thread, joins namespaces, prepares the root filesystem and
// process attributes, and finally execs the user process.
package namespaces

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cloneFlags maps OCI namespace types to their clone(2) flags.
var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// procNames maps OCI namespace types to their names under /proc/PID/ns.
var procNames = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// ProcName returns the name of namespace type t under /proc/PID/ns.
func ProcName(t specs.LinuxNamespaceType) string { return procNames[t] }

// Types lists the namespace types podrun knows, in the order exec joins them.
var Types = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.PIDNamespace, specs.NetworkNamespace,
	specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace,
	specs.TimeNamespace, specs.MountNamespace,
}

// Validate checks linux.namespaces: known types, no duplicates.
func Validate(nss []specs.LinuxNamespace) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range nss {
		if _, ok := cloneFlags[ns.Type]; !ok {
			return fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q", i, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d].type: duplicate namespace %q", i, ns.Type)
		}
		seen[ns.Type] = true
	}
	return nil
}

// Has reports whether nss contains type t (new or joined).
func Has(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	for _, ns := range nss {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// Path returns the path of namespace t in nss ("" when new or absent).
func Path(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) string {
	for _, ns := range nss {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// NewFlags returns the clone flags of the namespaces in nss that are created
// rather than joined.
func NewFlags(nss []specs.LinuxNamespace) uintptr {
	var f uintptr
	for _, ns := range nss {
		if ns.Path == "" {
			f |= cloneFlags[ns.Type]
		}
	}
	return f
}
