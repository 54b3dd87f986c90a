package namespaces

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// benchConfig is an init config of the size create sends: a full spec.
func benchConfig() *InitConfig {
	u := uint32(0)
	spec := &specs.Spec{
		Version: specs.Version, Hostname: "bench",
		Process: &specs.Process{Args: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin", "TERM=xterm"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"}},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}, NoNewPrivileges: true},
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths:   []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			UIDMappings:   []specs.LinuxIDMapping{{ContainerID: u, HostID: u, Size: 1}},
		},
	}
	return &InitConfig{ID: "bench", Spec: spec, Process: spec.Process, Rootfs: "/bundle/rootfs"}
}

// BenchmarkProtocolConfig is the config message, create -> init: plan
// built, encoded, written, read, decoded.
func BenchmarkProtocolConfig(b *testing.B) {
	p, c := connPair(b)
	cfg := benchConfig()
	b.ReportAllocs()
	for b.Loop() {
		pl, err := newPlan(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.send(message{Type: msgConfig, Plan: pl}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.recv(msgConfig); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSpecs are the specs the codec benchmarks run on: the runc default
// spec (what most bundles look like) and one with every field set.
var benchSpecs = []string{"testdata/specs/runc-1.1.5.json", "../runtime/testdata/configs/full.json"}

func benchSpec(b *testing.B, file string) *specs.Spec {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		b.Fatal(err)
	}
	return &s
}

// BenchmarkPlanEncode and BenchmarkPlanDecode are the two ends of the
// plan alone; the JSON pair is what the protocol did before (the whole
// InitConfig through encoding/json). Warm caches: the first use of
// encoding/json on the spec types, which each init paid, costs more.
func BenchmarkPlanEncode(b *testing.B) {
	for _, f := range benchSpecs {
		b.Run(filepath.Base(f), func(b *testing.B) {
			cfg := planConfig(benchSpec(b, f))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				pl, err := newPlan(cfg)
				if err != nil {
					b.Fatal(err)
				}
				buf = encodePlan(buf[:0], pl)
			}
			b.ReportMetric(float64(len(buf)), "bytes/msg")
		})
	}
}

func BenchmarkPlanDecode(b *testing.B) {
	for _, f := range benchSpecs {
		b.Run(filepath.Base(f), func(b *testing.B) {
			pl, err := newPlan(planConfig(benchSpec(b, f)))
			if err != nil {
				b.Fatal(err)
			}
			buf := encodePlan(nil, pl)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodePlan(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJSONEncode(b *testing.B) {
	for _, f := range benchSpecs {
		b.Run(filepath.Base(f), func(b *testing.B) {
			cfg := planConfig(benchSpec(b, f))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = json.Marshal(cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes/msg")
		})
	}
}

func BenchmarkJSONDecode(b *testing.B) {
	for _, f := range benchSpecs {
		b.Run(filepath.Base(f), func(b *testing.B) {
			buf, err := json.Marshal(planConfig(benchSpec(b, f)))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var cfg InitConfig
				if err := json.Unmarshal(buf, &cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProtocolStep is one small step message (createRuntime, ready).
func BenchmarkProtocolStep(b *testing.B) {
	p, c := connPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.send(message{Type: msgReady}); err != nil {
			b.Fatal(err)
		}
		if _, err := p.recv(msgReady); err != nil {
			b.Fatal(err)
		}
	}
}
