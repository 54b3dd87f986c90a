package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The hot internal paths of every podrun call, without a container: `make
// bench` (bench/rtbench) measures whole commands against runc and crun.
// go test -run '^$' -bench . -benchmem ./runtime

// benchBundle writes the default spec (podrun spec) to a bundle dir.
func benchBundle(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	data, err := json.Marshal(DefaultSpec())
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkLoadSpec is config.json read and decoded (create, run).
func BenchmarkLoadSpec(b *testing.B) {
	dir := benchBundle(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadSpec(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateSpec is create's check of the whole config.
func BenchmarkValidateSpec(b *testing.B) {
	spec, err := LoadSpec(benchBundle(b))
	if err != nil {
		b.Fatal(err)
	}
	r := New(b.TempDir(), nil)
	if err := r.validateSpec(spec); err != nil {
		b.Skipf("the default spec does not validate here: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.validateSpec(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// stateRoot is a root on tmpfs, as /run/podrun is: on ext4 a rename over
// a file flushes its data first (auto_da_alloc), 0.5 ms a save.
func stateRoot(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "podrun-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// benchContainer saves a container state like create's under a new root.
func benchContainer(b *testing.B) (*Runtime, *Container) {
	b.Helper()
	r := New(stateRoot(b), nil)
	dir := r.dir("bench")
	if err := os.Mkdir(dir, 0o711); err != nil {
		b.Fatal(err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	c := &Container{rt: r, dir: dir, lock: lock, State: State{
		ID: "bench", Bundle: "/bundle", Rootfs: "/bundle/rootfs", Created: time.Now().UTC(),
		Status: Created, Pid: 4242, PidStart: 123456,
		CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/bench", "pids": "/sys/fs/cgroup/pids/bench"},
	}}
	if err := c.setSpec(DefaultSpec()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return r, c
}

// BenchmarkStateSave is one atomic state write (create saves up to three,
// start one).
func BenchmarkStateSave(b *testing.B) {
	_, c := benchContainer(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.save(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateLoad is lock + read + decode of a state (every command
// on an existing container).
func BenchmarkStateLoad(b *testing.B) {
	r, c := benchContainer(b)
	if err := c.save(); err != nil {
		b.Fatal(err)
	}
	c.Close()
	b.ReportAllocs()
	for b.Loop() {
		l, err := r.Load("bench")
		if err != nil {
			b.Fatal(err)
		}
		l.Close()
	}
}
