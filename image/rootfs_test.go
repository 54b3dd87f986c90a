package image

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRootfsFromAnnotations(t *testing.T) {
	const l1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const l2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	r, err := RootfsFromAnnotations(map[string]string{"other": "x"})
	if r != nil || err != nil {
		t.Fatalf("no image annotations: got %v, %v; want nil, nil", r, err)
	}
	for _, bad := range []map[string]string{
		{AnnotationStore: "relative/store", AnnotationLayers: l1},
		{AnnotationStore: "/abs", AnnotationLayers: l1 + ",../../etc"},
		{AnnotationStore: "/abs", AnnotationLayers: ""},
	} {
		if r, err := RootfsFromAnnotations(bad); err == nil || !strings.HasPrefix(err.Error(), "annotation run.podrun.image.") {
			t.Errorf("%v: got %v, %v; want an error naming the annotation", bad, r, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "store")
	r, err = RootfsFromAnnotations(map[string]string{
		AnnotationStore: dir, AnnotationImage: "sha256:abc", AnnotationLayers: l1 + "," + l2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Store == nil || r.Store.Dir != dir || r.Image != "sha256:abc" || !reflect.DeepEqual(r.Layers, []string{l1, l2}) {
		t.Fatalf("got %+v (store %+v)", r, r.Store)
	}
}
