package runccli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/podrun/podrun/internal/userfile"
	"github.com/podrun/podrun/runtime"
)

func pauseCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "pause", Usage: "suspend all processes inside the container", ArgsUsage: "<container-id>",
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "pause", 1); err != nil {
				return err
			}
			return e.RT.Pause(ctx.Args().First())
		},
	}
}

func resumeCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "resume", Usage: "resume all processes that have been previously paused", ArgsUsage: "<container-id>",
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "resume", 1); err != nil {
				return err
			}
			return e.RT.Resume(ctx.Args().First())
		},
	}
}

func eventsCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "events", Usage: "display container events such as OOM notifications and resource usage statistics",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: defaultEventsInterval, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "events", 1); err != nil {
				return err
			}
			interval := ctx.Duration("interval")
			if interval <= 0 {
				return errors.New("duration interval must be greater than 0")
			}
			c, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
			defer stop()
			enc := json.NewEncoder(ctx.App.Writer)
			return e.RT.Events(c, ctx.Args().First(),
				runtime.EventsOpts{Interval: interval, StatsOnce: ctx.Bool("stats")},
				func(ev runtime.Event) error { return enc.Encode(ev) })
		},
	}
}

const defaultEventsInterval = 5_000_000_000 // 5s, runc's default

// updateFlags are runc's `update` flags. All but --resources are strings,
// parsed as runc does, so that "unset" and "0" differ.
func updateFlags() []cli.Flag {
	str := func(name, usage string) cli.Flag { return &cli.StringFlag{Name: name, Usage: usage} }
	return []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"},
			Usage: "path to the file containing the resources to update or '-' to read from the standard input"},
		str("blkio-weight", "specifies per cgroup weight, range is from 10 to 1000"),
		str("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
		str("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
		str("cpu-burst", "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"),
		str("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
		str("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
		str("cpu-share", "CPU shares (relative weight vs. other containers)"),
		str("cpuset-cpus", "CPU(s) to use"),
		str("cpuset-mems", "memory node(s) to use"),
		str("kernel-memory", "(obsoleted; do not use)"),
		str("kernel-memory-tcp", "(obsoleted; do not use)"),
		str("memory", "memory limit (in bytes)"),
		str("memory-reservation", "memory reservation or soft_limit (in bytes)"),
		str("memory-swap", "total memory usage (memory + swap); set '-1' to enable unlimited swap"),
		str("pids-limit", "maximum number of pids allowed in the container"),
		str("l3-cache-schema", "the string of Intel RDT/CAT L3 cache schema"),
		str("mem-bw-schema", "the string of Intel RDT/MBA memory bandwidth schema"),
	}
}

func updateCommand(e *Env) *cli.Command {
	return &cli.Command{
		Name: "update", Usage: "update container resource constraints", ArgsUsage: "<container-id>",
		Flags: updateFlags(),
		Action: func(ctx *cli.Context) error {
			if err := CheckArgs(ctx, "update", 1); err != nil {
				return err
			}
			r, err := updateResources(ctx, os.Stdin)
			if err != nil {
				return err
			}
			return e.RT.Update(ctx.Args().First(), r)
		},
	}
}

// updateResources builds the requested change: the --resources JSON
// (a specs.LinuxResources) when given, the per-field flags otherwise, as
// runc. Flags left out leave their field nil (unchanged).
func updateResources(ctx *cli.Context, stdin io.Reader) (*specs.LinuxResources, error) {
	if in := ctx.String("resources"); in != "" {
		b, err := userfile.Read(in, stdin)
		if err == nil {
			err = userfile.CheckDepth(b)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources %s: %w", in, err)
		}
		// A Decoder, as runc: what follows the first JSON value is ignored.
		var r specs.LinuxResources
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
			return nil, fmt.Errorf("--resources: decoding %s: %v", in, err)
		}
		return &r, nil
	}
	if ctx.String("l3-cache-schema") != "" {
		return nil, errors.New("Intel RDT/CAT: l3 cache schema is not enabled")
	}
	if ctx.String("mem-bw-schema") != "" {
		return nil, errors.New("Intel RDT/MBA: memory bandwidth schema is not enabled")
	}
	r := &specs.LinuxResources{}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	val := func(name string) (string, bool) {
		if !ctx.IsSet(name) {
			return "", false
		}
		return ctx.String(name), true
	}
	if v, ok := val("blkio-weight"); ok {
		w, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, invalidFlag("blkio-weight", v, err)
		}
		w16 := uint16(w)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w16}
	}
	for _, f := range []struct {
		name string
		dst  func() **uint64
	}{
		{"cpu-period", func() **uint64 { return &cpu().Period }},
		{"cpu-burst", func() **uint64 { return &cpu().Burst }},
		{"cpu-rt-period", func() **uint64 { return &cpu().RealtimePeriod }},
		{"cpu-share", func() **uint64 { return &cpu().Shares }},
	} {
		if v, ok := val(f.name); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, invalidFlag(f.name, v, err)
			}
			*f.dst() = &n
		}
	}
	for _, f := range []struct {
		name string
		dst  func() **int64
	}{
		{"cpu-quota", func() **int64 { return &cpu().Quota }},
		{"cpu-rt-runtime", func() **int64 { return &cpu().RealtimeRuntime }},
		{"pids-limit", func() **int64 {
			if r.Pids == nil {
				r.Pids = &specs.LinuxPids{}
			}
			return &r.Pids.Limit
		}},
	} {
		if v, ok := val(f.name); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, invalidFlag(f.name, v, err)
			}
			*f.dst() = &n
		}
	}
	if v, ok := val("cpuset-cpus"); ok {
		cpu().Cpus = v
	}
	if v, ok := val("cpuset-mems"); ok {
		cpu().Mems = v
	}
	for _, f := range []struct {
		name string
		dst  func() **int64
	}{
		{"memory", func() **int64 { return &mem().Limit }},
		{"memory-reservation", func() **int64 { return &mem().Reservation }},
		{"memory-swap", func() **int64 { return &mem().Swap }},
		//nolint:staticcheck // kernel memory is deprecated, still a runc flag.
		{"kernel-memory", func() **int64 { return &mem().Kernel }},
		{"kernel-memory-tcp", func() **int64 { return &mem().KernelTCP }},
	} {
		if v, ok := val(f.name); ok {
			n, err := ramInBytes(v)
			if err != nil {
				return nil, invalidFlag(f.name, v, err)
			}
			*f.dst() = &n
		}
	}
	return r, nil
}

func invalidFlag(name, v string, err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	return fmt.Errorf("invalid value for --%s: %q: %v", name, v, err)
}

// ramRegexp is compiled on first use: only `update` needs it.
var ramRegexp = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
})

// ramInBytes parses a memory size as runc does (docker/go-units'
// RAMInBytes): "-1" (unlimited), or a number with an optional binary unit
// k, m, g, t, p (any case, optional "i" and "b"): 100M, 1.5g, 512KiB.
func ramInBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := ramRegexp().FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("invalid size")
	}
	size, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, errors.New("invalid size")
	}
	mul := float64(1)
	if m[2] != "" {
		mul = math.Pow(1024, float64(strings.Index("kmgtp", strings.ToLower(m[2]))+1))
	}
	v := size * mul
	if v >= math.MaxInt64 {
		return 0, errors.New("value out of range")
	}
	return int64(v), nil
}
