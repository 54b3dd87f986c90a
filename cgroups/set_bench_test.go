// set_bench_test.go measures Set and Validate, on the start path.

package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// benchFiles makes the named empty files in dir.
func benchFiles(b *testing.B, dir string, names ...string) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// benchResources is what a typical container start asks: a memory
// limit, CPU shares and quota, a pids limit.
func benchResources() *specs.LinuxResources {
	return &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](20000), Period: ptr[uint64](100000)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](100)},
	}
}

// BenchmarkSetV1 measures Set (validation, dispatch, file writes) on the
// start path of a cgroup v1 host, on plain files.
func BenchmarkSetV1(b *testing.B) {
	root := b.TempDir()
	paths := map[string]string{}
	for _, c := range []string{"memory", "cpu", "pids"} {
		paths[c] = filepath.Join(root, c, "ctr")
	}
	benchFiles(b, paths["memory"], "memory.limit_in_bytes", "memory.usage_in_bytes")
	benchFiles(b, paths["cpu"], "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")
	benchFiles(b, paths["pids"], "pids.max")
	m := newManager("", false, paths, false)
	m.created = true
	r := benchResources()
	r.CPU.Shares = nil // plain files cannot echo the kernel's clamping
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Set(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetV2 measures the cgroup v2 writer on plain files.
func BenchmarkSetV2(b *testing.B) {
	root := b.TempDir()
	dir := filepath.Join(root, "ctr")
	benchFiles(b, root, "cgroup.controllers", "cgroup.subtree_control")
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("cpu memory pids"), 0o644); err != nil {
		b.Fatal(err)
	}
	benchFiles(b, dir, "memory.max", "memory.swap.max", "cpu.weight", "cpu.max", "pids.max")
	r := benchResources()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := setV2(dir, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures Validate alone.
func BenchmarkValidate(b *testing.B) {
	r := benchResources()
	r.CPU.Cpus = "0"
	if err := Validate(r); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Validate(r); err != nil {
			b.Fatal(err)
		}
	}
}
