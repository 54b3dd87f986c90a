package pod

import (
	"slices"
	"testing"
)

// kubelet's parseResolvConf and appendDNSConfig rules: comments dropped,
// the last search/domain line wins, options merged by name.
func TestParseResolvConfAndMerge(t *testing.T) {
	servers, searches, options := parseResolvConf([]byte("# c\ndomain a.example\nnameserver 10.0.0.1 # x\nsearch b.example c.example\nnameserver 10.0.0.2\noptions ndots:1 rotate\noptions ndots:3\n"))
	if !slices.Equal(servers, []string{"10.0.0.1", "10.0.0.2"}) || !slices.Equal(searches, []string{"b.example", "c.example"}) ||
		!slices.Equal(options, []string{"ndots:3", "rotate"}) {
		t.Errorf("got %q %q %q", servers, searches, options)
	}
	if got := appendUnique(servers, "10.0.0.2", "10.0.0.3"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
		t.Errorf("appendUnique: %q", got)
	}
	if got := mergeOption([]string{"ndots:3", "rotate"}, "ndots:5"); !slices.Equal(got, []string{"ndots:5", "rotate"}) {
		t.Errorf("mergeOption: %q", got)
	}
}
