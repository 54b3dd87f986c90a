package capnames

import "testing"

func TestByName(t *testing.T) {
	for _, n := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_CHECKPOINT_RESTORE"} {
		if _, ok := ByName(n); !ok {
			t.Errorf("%s unknown", n)
		}
	}
	if _, ok := ByName("CAP_NOPE"); ok {
		t.Error("CAP_NOPE known")
	}
}

func TestNamesAllKnown(t *testing.T) {
	names := Names()
	if len(names) < 41 { // CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40)
		t.Fatalf("Names() has %d entries", len(names))
	}
	for _, n := range names {
		if _, ok := ByName(n); !ok {
			t.Errorf("%s listed but unknown", n)
		}
	}
}
