// rdma.go is the rdma controller: linux.resources.rdma, its check and its
// rdma.max (the same file on v1 and v2).

package cgroups

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validateRdma(r *specs.LinuxResources, _ *hostEnv) error {
	for dev, l := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \t\n=/") {
			return fieldErr(fmt.Sprintf("rdma[%q]", dev), "not a device name")
		}
		if l.HcaHandles == nil && l.HcaObjects == nil {
			return fieldErr(fmt.Sprintf("rdma[%q]", dev), "neither hcaHandles nor hcaObjects given")
		}
	}
	return nil
}

func rdmaNeeded(r *specs.LinuxResources) bool { return len(r.Rdma) > 0 }

// setRdma writes a line of rdma.max per device, in name order.
func setRdma(dir string, r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	devs := make([]string, 0, len(r.Rdma))
	for d := range r.Rdma {
		devs = append(devs, d)
	}
	slices.Sort(devs)
	for _, d := range devs {
		l := r.Rdma[d]
		line := d
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if err := write(fmt.Sprintf("rdma[%q]", d), dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}
