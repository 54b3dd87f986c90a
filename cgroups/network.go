// network.go is the cgroup v1 net_cls and net_prio controllers:
// linux.resources.network's classID and priorities, their checks and
// their files (cgroup v2 has neither; Validate refuses them there).

package cgroups

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validateNetwork(r *specs.LinuxResources, env *hostEnv) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if env.v2 {
		if n.ClassID != nil {
			return fieldErr("network.classID", "cgroup v2 has no net_cls controller")
		}
		if len(n.Priorities) > 0 {
			return fieldErr("network.priorities", "cgroup v2 has no net_prio controller")
		}
	}
	for i, p := range n.Priorities {
		if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") || len(p.Name) >= 16 {
			return fieldErr(fmt.Sprintf("network.priorities[%d].name", i), "%q is not an interface name", p.Name)
		}
	}
	return nil
}

func netClsNeeded(r *specs.LinuxResources) bool {
	return r.Network != nil && r.Network.ClassID != nil
}

func netPrioNeeded(r *specs.LinuxResources) bool {
	return r.Network != nil && len(r.Network.Priorities) > 0
}

func setNetCls(dir string, r *specs.LinuxResources) error {
	return write("network.classID", dir, "net_cls.classid", strconv.FormatUint(uint64(*r.Network.ClassID), 10))
}

func setNetPrio(dir string, r *specs.LinuxResources) error {
	for i, p := range r.Network.Priorities {
		f := fmt.Sprintf("network.priorities[%d]", i)
		if err := write(f, dir, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
			return err
		}
	}
	return nil
}
