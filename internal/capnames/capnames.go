// Package capnames maps the OCI spelling of capabilities ("CAP_NET_ADMIN")
// to the kernel's numbers. It is its own package because the CLI, the
// runtime, the init and the pod manager all check names, and only the init
// applies them.
package capnames

import (
	"strings"
	"sync"

	"github.com/moby/sys/capability"
)

// byName maps "CAP_CHOWN"-style names to capabilities. Built on first
// use: the init, which gets its capabilities as masks, never needs it, and
// building it at package init cost every podrun process 20 us.
var byName = sync.OnceValue(func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

// ByName returns the capability named like "CAP_NET_ADMIN".
func ByName(name string) (capability.Cap, bool) {
	c, ok := byName()[name]
	return c, ok
}

// Names lists every capability name podrun knows, in no order.
func Names() []string {
	m := byName()
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	return out
}
