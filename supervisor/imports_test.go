package supervisor

import (
	"go/build"
	"testing"
)

// The init protocol (namespaces) is the runtime's business: pod and
// supervisor get runtime.Process handles, never a namespaces.Child.
func TestNoNamespacesImport(t *testing.T) {
	for _, dir := range []string{".", "../pod"} {
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range append(p.Imports, p.TestImports...) {
			if imp == "github.com/podrun/podrun/namespaces" {
				t.Errorf("%s imports %s", p.ImportPath, imp)
			}
		}
	}
}
