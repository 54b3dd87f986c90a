package pod

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	p1 := map[string]fileProjection{
		"game.properties": {Data: []byte("lives=3"), Mode: 0o644},
		"sub/dir/key":     {Data: []byte("v"), Mode: 0o400},
		"old":             {Data: []byte("o"), Mode: 0o644},
	}
	if err := writeAtomic(dir, p1, t0); err != nil {
		t.Fatal(err)
	}
	ts1, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ts1, "..2024_03_04_05_06_07.") || strings.Contains(ts1, "/") {
		t.Errorf("..data -> %q, want ..2024_03_04_05_06_07.<random>", ts1)
	}
	for _, top := range []string{"game.properties", "sub", "old"} {
		if l, err := os.Readlink(filepath.Join(dir, top)); err != nil || l != "..data/"+top {
			t.Errorf("%s -> %q (%v), want ..data/%s", top, l, err, top)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub/dir/key")); err != nil || string(b) != "v" {
		t.Errorf("sub/dir/key = %q, %v", b, err)
	}
	st, err := os.Stat(filepath.Join(dir, "sub/dir/key"))
	if err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("mode of sub/dir/key = %v, %v; want 0400", st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Join(dir, ts1)); st == nil || st.Mode().Perm() != 0o755 {
		t.Errorf("timestamped dir mode = %v, want 0755", st)
	}

	// The same payload again writes nothing.
	if err := writeAtomic(dir, p1, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ts, _ := os.Readlink(filepath.Join(dir, "..data")); ts != ts1 {
		t.Errorf("unchanged payload rewritten: ..data -> %q, was %q", ts, ts1)
	}

	// An update swaps ..data, drops the old version and stale entries.
	p2 := map[string]fileProjection{"game.properties": {Data: []byte("lives=5"), Mode: 0o644}, "new": {Data: []byte("n"), Mode: 0o644}}
	if err := writeAtomic(dir, p2, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ts2, _ := os.Readlink(filepath.Join(dir, "..data"))
	if ts2 == ts1 || !strings.HasPrefix(ts2, "..2024_03_04_05_07_07.") {
		t.Errorf("..data -> %q after the update", ts2)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "game.properties")); string(b) != "lives=5" {
		t.Errorf("game.properties = %q after the update", b)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), ts2+" ..data game.properties new"; got != want {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestWriteAtomicRefusesPaths(t *testing.T) {
	for _, p := range []string{"/abs", "../up", "a/../../b", "..hidden", strings.Repeat("x", 256)} {
		if err := writeAtomic(t.TempDir(), map[string]fileProjection{p: {Data: nil, Mode: 0o644}}, time.Now()); err == nil {
			t.Errorf("path %.20q accepted", p)
		}
	}
	dir := t.TempDir()
	err := writeAtomic(dir, map[string]fileProjection{"a": {Mode: 0o644}, "a/b/c": {Mode: 0o644}}, time.Now())
	if err == nil || !strings.Contains(err.Error(), `"a" is a file and the directory of "a/b/c"`) {
		t.Errorf("a and a/b/c: err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a refused payload wrote %d entries", len(ents))
	}
}

func TestFormatMap(t *testing.T) {
	got := formatMap(map[string]string{"zone": "us-est-coast", "cluster": "test-cluster1", "q": `a"b`})
	want := "cluster=\"test-cluster1\"\nq=\"a\\\"b\"\nzone=\"us-est-coast\""
	if got != want {
		t.Errorf("formatMap = %q, want %q", got, want)
	}
}

// BenchmarkWriteAtomic writes a 10-key, 1 KiB-a-key volume afresh.
func BenchmarkWriteAtomic(b *testing.B) {
	payload := map[string]fileProjection{}
	for i := 0; i < 10; i++ {
		payload[fmt.Sprintf("key-%d", i)] = fileProjection{Data: bytes.Repeat([]byte("x"), 1024), Mode: 0o644}
	}
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o777); err != nil {
			b.Fatal(err)
		}
		if err := writeAtomic(dir, payload, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
