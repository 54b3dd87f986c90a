package namespaces

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Time namespace offsets (linux.timeOffsets) can only be written while no
// process is in the namespace yet, and clone(CLONE_NEWTIME) would put the
// init in it at once; /proc/PID/timens_offsets is per process, and entering
// a time namespace (setns) needs a single-threaded caller. So the nsenter
// constructor of the init, before the Go runtime starts, unshares the time
// namespace, writes timeOffsetsText and enters it.

// timeClocks are the clocks a time namespace can offset (time_namespaces(7)).
var timeClocks = []string{"monotonic", "boottime"}

// ValidateTimeOffsets checks linux.timeOffsets: known clocks, nanoseconds
// below a second, and a new time namespace to apply them to.
func ValidateTimeOffsets(offsets map[string]specs.LinuxTimeOffset, nss []specs.LinuxNamespace) error {
	if len(offsets) == 0 {
		return nil
	}
	if !Has(nss, specs.TimeNamespace) {
		return fmt.Errorf("linux.timeOffsets: requires a time namespace in linux.namespaces")
	}
	if Path(nss, specs.TimeNamespace) != "" {
		return fmt.Errorf("linux.timeOffsets: cannot be applied to an existing time namespace (linux.namespaces has a path for it)")
	}
	for _, k := range sortedKeys(offsets) {
		if !slices.Contains(timeClocks, k) {
			return fmt.Errorf("linux.timeOffsets.%s: unknown clock (want one of %s)", k, strings.Join(timeClocks, ", "))
		}
		if offsets[k].Nanosecs >= 1e9 {
			return fmt.Errorf("linux.timeOffsets.%s.nanosecs: %d is not below 1e9", k, offsets[k].Nanosecs)
		}
	}
	return nil
}

func sortedKeys(m map[string]specs.LinuxTimeOffset) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// timeOffsetsText is the content written to timens_offsets.
func timeOffsetsText(offsets map[string]specs.LinuxTimeOffset) string {
	var b strings.Builder
	for _, k := range sortedKeys(offsets) {
		fmt.Fprintf(&b, "%s %d %d\n", k, offsets[k].Secs, offsets[k].Nanosecs)
	}
	return b.String()
}
