// blkio.go is the block I/O controller (blkio on cgroup v1, io on v2):
// linux.resources.blockIO's weights and throttles, their checks, their v1
// files and v2 io.weight/io.max (weights converted), and the block I/O
// statistics.

package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The blkio weight range of cgroup v1 (CFQ, and BFQ for the OCI values).
const (
	minBlkioWeight = 10
	maxBlkioWeight = 1000
)

func validateBlockIO(r *specs.LinuxResources, env *hostEnv) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	weight := func(field string, w *uint16) error {
		if w != nil && (*w < minBlkioWeight || *w > maxBlkioWeight) {
			return fieldErr(field, "%d out of range %d-%d", *w, minBlkioWeight, maxBlkioWeight)
		}
		return nil
	}
	if err := weight("blockIO.weight", b.Weight); err != nil {
		return err
	}
	if err := weight("blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	if b.LeafWeight != nil && env.v2 {
		return fieldErr("blockIO.leafWeight", "cgroup v2 has no leaf weight")
	}
	device := func(field string, d specs.LinuxBlockIODevice) error {
		if d.Major < 0 || d.Minor < 0 || d.Major > 0xfff || d.Minor > 0xfffff {
			return fieldErr(field, "invalid device %d:%d", d.Major, d.Minor)
		}
		return nil
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if err := device(f, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		if wd.Weight == nil && wd.LeafWeight == nil {
			return fieldErr(f, "neither weight nor leafWeight given")
		}
		if err := weight(f+".weight", wd.Weight); err != nil {
			return err
		}
		if err := weight(f+".leafWeight", wd.LeafWeight); err != nil {
			return err
		}
		if wd.LeafWeight != nil && env.v2 {
			return fieldErr(f+".leafWeight", "cgroup v2 has no leaf weight")
		}
	}
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			if err := device(fmt.Sprintf("blockIO.%s[%d]", t.field, i), td.LinuxBlockIODevice); err != nil {
				return err
			}
		}
	}
	return nil
}

// throttle is one of the four throttle lists of blockIO, with its v1 file
// and its io.max key.
type throttle struct {
	field, v1File, v2Key string
	devs                 []specs.LinuxThrottleDevice
}

func throttles(b *specs.LinuxBlockIO) []throttle {
	return []throttle{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

// blkioNeeded: r.BlockIO holds something to write.
func blkioNeeded(r *specs.LinuxResources) bool {
	b := r.BlockIO
	if b == nil {
		return false
	}
	if b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 {
		return true
	}
	for _, t := range throttles(b) {
		if len(t.devs) > 0 {
			return true
		}
	}
	return false
}

func devString(d specs.LinuxBlockIODevice) string {
	return strconv.FormatInt(d.Major, 10) + ":" + strconv.FormatInt(d.Minor, 10)
}

// ioWeight converts a cgroup v1 blkio weight (10-1000) to cgroup v2
// io.weight (1-10000), as runc does.
func ioWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}

func setBlkioV1(dir string, r *specs.LinuxResources) error {
	b := r.BlockIO
	// runc prefers BFQ's files, then CFQ's.
	weightFile, weightDevFile := "blkio.bfq.weight", "blkio.bfq.weight_device"
	if !fileExists(dir, weightFile) {
		weightFile, weightDevFile = "blkio.weight", "blkio.weight_device"
	}
	const noWeight = "no block I/O scheduler with weights (bfq, cfq) is in use"
	if b.Weight != nil {
		if err := writeOptional("blockIO.weight", dir, weightFile, strconv.FormatUint(uint64(*b.Weight), 10), noWeight); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := writeOptional("blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10), "leaf weights need the cfq scheduler (gone since Linux 5.0)"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if wd.Weight != nil {
			if err := writeOptional(f+".weight", dir, weightDevFile, devString(wd.LinuxBlockIODevice)+" "+strconv.FormatUint(uint64(*wd.Weight), 10), noWeight); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := writeOptional(f+".leafWeight", dir, "blkio.leaf_weight_device", devString(wd.LinuxBlockIODevice)+" "+strconv.FormatUint(uint64(*wd.LeafWeight), 10), "leaf weights need the cfq scheduler (gone since Linux 5.0)"); err != nil {
				return err
			}
		}
	}
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			f := fmt.Sprintf("blockIO.%s[%d]", t.field, i)
			if err := writeOptional(f, dir, t.v1File, devString(td.LinuxBlockIODevice)+" "+strconv.FormatUint(td.Rate, 10), "the kernel has no block I/O throttling"); err != nil {
				return err
			}
		}
	}
	return nil
}

func setIOV2(dir string, r *specs.LinuxResources) error {
	if !blkioNeeded(r) {
		return nil
	}
	b := r.BlockIO
	// BFQ takes the OCI (v1) weights as they are; io.weight needs them
	// converted. runc's choice, except that runc drops per-device
	// weights without BFQ while this writes them to io.weight.
	bfq := fileExists(dir, "io.bfq.weight")
	weightFile := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.FormatUint(uint64(w), 10)
		}
		return "io.weight", strconv.FormatUint(ioWeight(w), 10)
	}
	if b.Weight != nil {
		file, v := weightFile(*b.Weight)
		if err := writeOptional("blockIO.weight", dir, file, v, "no I/O weights (io.weight needs the io.cost controller, io.bfq.weight the bfq scheduler)"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		if wd.Weight == nil {
			continue
		}
		file, v := weightFile(*wd.Weight)
		if err := writeOptional(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), dir, file, devString(wd.LinuxBlockIODevice)+" "+v, "no per-device I/O weights"); err != nil {
			return err
		}
	}
	// io.max: one line per device with all its limits.
	type dev struct{ maj, min int64 }
	var order []dev
	lines := make(map[dev]string)
	fields := make(map[dev]string)
	for _, t := range throttles(b) {
		for i, td := range t.devs {
			d := dev{td.Major, td.Minor}
			if _, ok := lines[d]; !ok {
				order = append(order, d)
				lines[d] = devString(td.LinuxBlockIODevice)
				fields[d] = fmt.Sprintf("blockIO.%s[%d]", t.field, i)
			}
			lines[d] += " " + t.v2Key + "=" + strconv.FormatUint(td.Rate, 10)
		}
	}
	for _, d := range order {
		err := write(fields[d], dir, "io.max", lines[d])
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) {
			return fieldErr(fields[d], "%q refused: no such block device (whole disks only)", lines[d])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// blkio parses a v1 blkio stat file ("MAJ:MIN Op Value" lines).
func (sr *statReader) blkio(dir, file string) []BlkioEntry {
	var out []BlkioEntry
	for _, line := range strings.Split(sr.read(dir, file), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 && len(f) != 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue // "Total N"
		}
		e := BlkioEntry{}
		e.Major, _ = strconv.ParseUint(maj, 10, 64)
		e.Minor, _ = strconv.ParseUint(min, 10, 64)
		v := f[len(f)-1]
		if len(f) == 3 {
			e.Op = f[1]
		}
		e.Value, _ = strconv.ParseUint(v, 10, 64)
		out = append(out, e)
	}
	return out
}

func blkioStatsV1(sr *statReader, d string, s *Stats) {
	// As runc: CFQ's statistics, else BFQ's, else the throttling
	// layer's (which counts every I/O).
	prefix := "blkio.throttle."
	for _, p := range []string{"blkio.", "blkio.bfq."} {
		if fileExists(d, p+"io_serviced_recursive") {
			prefix = p
			break
		}
	}
	b := &s.Blkio
	b.IoServiceBytesRecursive = sr.blkio(d, prefix+"io_service_bytes_recursive")
	b.IoServicedRecursive = sr.blkio(d, prefix+"io_serviced_recursive")
	if prefix != "blkio.throttle." {
		b.IoQueuedRecursive = sr.blkio(d, prefix+"io_queued_recursive")
		b.IoServiceTimeRecursive = sr.blkio(d, prefix+"io_service_time_recursive")
		b.IoWaitTimeRecursive = sr.blkio(d, prefix+"io_wait_time_recursive")
		b.IoMergedRecursive = sr.blkio(d, prefix+"io_merged_recursive")
		b.IoTimeRecursive = sr.blkio(d, prefix+"time_recursive")
		b.SectorsRecursive = sr.blkio(d, prefix+"sectors_recursive")
	}
}

// ioStatsV2 reads io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N
// dbytes=N dios=N" lines.
func ioStatsV2(sr *statReader, d string, s *Stats) {
	for _, line := range strings.Split(sr.read(d, "io.stat"), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		e := BlkioEntry{}
		e.Major, _ = strconv.ParseUint(maj, 10, 64)
		e.Minor, _ = strconv.ParseUint(min, 10, 64)
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e.Value = n
			switch k {
			case "rbytes":
				e.Op = "Read"
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			}
		}
	}
	s.Blkio.PSI = sr.psi(d, "io.pressure")
}

// BlkioEntry is one value of a block device.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Blkio is the block I/O usage (v1 blkio.*, v2 io.stat).
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}
