package supervisor

import (
	"go/build"
	"testing"
)

// The init protocol (namespaces) is the runtime's business: supervisor gets
// runtime.Process handles, never a namespaces.Child.
func TestNoNamespacesImport(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(p.Imports, p.TestImports...) {
		if imp == "github.com/podrun/podrun/namespaces" {
			t.Errorf("supervisor imports %s", imp)
		}
	}
}
