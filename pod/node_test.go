package pod

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultRouteInterface(t *testing.T) {
	table := `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
eth1	00000000	0100A8C0	0003	0	0	200	00000000	0	0	0
eth0	00000000	01010A0A	0003	0	0	100	00000000	0	0	0
down0	00000000	01010A0A	0002	0	0	1	00000000	0	0	0
`
	p := filepath.Join(t.TempDir(), "route")
	if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultRouteInterface(p); got != "eth0" {
		t.Errorf("defaultRouteInterface = %q, want eth0 (lowest metric, up)", got)
	}
	if got := defaultRouteInterface(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("no table: %q", got)
	}
}
