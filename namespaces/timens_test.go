package namespaces

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateTimeOffsets(t *testing.T) {
	newTime := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.TimeNamespace}}
	ok := map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400}, "monotonic": {Secs: -5, Nanosecs: 999999999}}
	for _, c := range []struct {
		offsets map[string]specs.LinuxTimeOffset
		nss     []specs.LinuxNamespace
		want    string
	}{
		{nil, nil, ""},
		{ok, newTime, ""},
		{ok, []specs.LinuxNamespace{{Type: specs.MountNamespace}}, "linux.timeOffsets: requires a time namespace in linux.namespaces"},
		{ok, []specs.LinuxNamespace{{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"}}, "linux.timeOffsets: cannot be applied to an existing time namespace"},
		{map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}, newTime, "linux.timeOffsets.realtime: unknown clock (want one of monotonic, boottime)"},
		{map[string]specs.LinuxTimeOffset{"boottime": {Nanosecs: 1e9}}, newTime, "linux.timeOffsets.boottime.nanosecs: 1000000000 is not below 1e9"},
	} {
		err := ValidateTimeOffsets(c.offsets, c.nss)
		if (c.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v in %v: error %v, want %q", c.offsets, c.nss, err, c.want)
		}
	}
	if got, want := timeOffsetsText(ok), "boottime 86400 0\nmonotonic -5 999999999\n"; got != want {
		t.Errorf("timens_offsets text %q, want %q", got, want)
	}
}
