package namespaces

import (
	"fmt"
	"strings"
)

// SysctlName returns a linux.sysctl key in its dotted form and the path
// of its file below /proc/sys. Keys may use "/" as separator, as with
// sysctl(8): then a "." is part of a name ("net/ipv4/conf/eth0.100/..."),
// which the dotted form writes as "/". Every path element must be a plain
// name: an empty, "." or ".." element (which the "/" form could spell)
// would let the write leave the sysctl the key names.
func SysctlName(key string) (dotted, path string, err error) {
	dotted = key
	if i := strings.IndexAny(key, "./"); i >= 0 && key[i] == '/' {
		dotted = strings.Map(swapDotSlash, key)
	}
	elems := strings.Split(dotted, ".")
	for i, e := range elems {
		e = strings.ReplaceAll(e, "/", ".")
		if e == "" || e == "." || e == ".." || strings.ContainsRune(e, 0) {
			return "", "", fmt.Errorf("%q is not a valid sysctl name", key)
		}
		elems[i] = e
	}
	return dotted, strings.Join(elems, "/"), nil
}

func swapDotSlash(r rune) rune {
	switch r {
	case '.':
		return '/'
	case '/':
		return '.'
	}
	return r
}
