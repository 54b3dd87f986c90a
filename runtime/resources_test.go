package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }

func TestMergeResources(t *testing.T) {
	old := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)},
		CPU:     &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Cpus: "0-1"},
		Pids:    &specs.LinuxPids{Limit: i64(10)},
		Unified: map[string]string{"a": "1", "b": "2"},
	}
	u := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(300)},
		CPU:     &specs.LinuxCPU{Quota: i64(20000), Period: u64(0)},
		Unified: map[string]string{"b": "3", "c": "4"},
	}
	m := MergeResources(old, u)
	if *m.Memory.Limit != 300 || *m.Memory.Swap != 300 {
		t.Errorf("memory %+v", m.Memory)
	}
	if *m.CPU.Quota != 20000 || *m.CPU.Period != 100000 || m.CPU.Cpus != "0-1" {
		t.Errorf("cpu %+v", m.CPU)
	}
	if *m.Pids.Limit != 10 || len(m.Devices) != 1 {
		t.Errorf("pids %+v devices %+v", m.Pids, m.Devices)
	}
	if len(m.Unified) != 3 || m.Unified["a"] != "1" || m.Unified["b"] != "3" || m.Unified["c"] != "4" {
		t.Errorf("unified %v", m.Unified)
	}
	if m := MergeResources(old, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(150)}}); *m.Memory.Swap != 200 {
		t.Errorf("swap %d, want the old 200 (above the new limit)", *m.Memory.Swap)
	}
	// old is untouched.
	if *old.Memory.Limit != 100 || *old.CPU.Quota != 50000 || old.Unified["b"] != "2" || len(old.Unified) != 2 {
		t.Errorf("old modified: %+v %+v %v", old.Memory, old.CPU, old.Unified)
	}
	*m.Pids.Limit = 99
	if *old.Pids.Limit != 10 {
		t.Error("merged result aliases old")
	}
	if m := MergeResources(nil, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(4)}}); *m.Pids.Limit != 4 || m.Memory != nil {
		t.Errorf("merge into nil: %+v", m)
	}
	if wd := withoutDevices(old); wd.Devices != nil || old.Devices == nil || wd.Memory != old.Memory {
		t.Errorf("withoutDevices: %+v", wd)
	}
}
