package namespaces

import (
	"reflect"
	"runtime"
	"testing"
)

// FuzzDecodePlan: whatever arrives, decodePlan returns an error or a plan
// that encodes back to itself, never panics, and allocates in proportion
// to its input (every count is checked against the bytes left).
func FuzzDecodePlan(f *testing.F) {
	for _, s := range planSpecs(f) {
		for _, cfg := range []*InitConfig{planConfig(s), {ID: "x", Process: s.Process}} {
			pl, err := newPlan(cfg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(encodePlan(nil, pl))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 4, 'e', 'x', 'e', 'c', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	// ReadMemStats, not runtime/metrics: the latter counts a span's
	// free slots when a cache takes it, tens of KiB for one object.
	allocated := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := allocated()
		pl, err := decodePlan(b)
		// The largest growth is a list of specs.Mount (120 bytes) from 6
		// bytes each, or a map entry from 2; 64 times the input is ample.
		if n := allocated() - before; n > 64*uint64(len(b))+64<<10 {
			t.Fatalf("decoding %d bytes allocated %d", len(b), n)
		}
		if err != nil {
			return
		}
		again, err := decodePlan(encodePlan(nil, pl))
		if err != nil {
			t.Fatalf("re-encoded plan does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalized(again), normalized(pl)) {
			t.Fatalf("plan changed on re-encoding:\n got %+v\nwant %+v", again, pl)
		}
	})
}
