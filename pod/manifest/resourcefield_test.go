package manifest

import "testing"

// kubelet's rules: cpu rounds up in units of the divisor's millicores,
// bytes round up in the divisor's bytes; a missing limit is the node's
// allocatable, a missing request is the limit, else 0.
func TestResourceFieldValue(t *testing.T) {
	p := &Pod{Spec: PodSpec{Containers: []Container{
		{Name: "a", Resources: ResourceRequirements{
			Requests: map[string]string{"cpu": "125m", "memory": "32Mi"},
			Limits:   map[string]string{"cpu": "250m", "memory": "64Mi"}}},
		{Name: "b", Resources: ResourceRequirements{Limits: map[string]string{"cpu": "1.5"}}},
	}}}
	node := NodeAllocatable{CPUMillis: 2000, Memory: 8 << 30, EphemeralStorage: 100 << 30}
	a, b := &p.Spec.Containers[0], &p.Spec.Containers[1]
	for _, c := range []struct {
		c        *Container
		f        ResourceFieldSelector
		want     string
		wantFail bool
	}{
		{a, ResourceFieldSelector{Resource: "requests.cpu"}, "1", false},
		{a, ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1m"}, "250", false},
		{a, ResourceFieldSelector{Resource: "requests.memory"}, "33554432", false},
		{a, ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Mi"}, "64", false},
		{a, ResourceFieldSelector{Resource: "limits.memory", Divisor: "1G"}, "1", false},
		{b, ResourceFieldSelector{Resource: "requests.cpu", Divisor: "1m"}, "1500", false}, // request = limit
		{b, ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Gi"}, "8", false},  // node's
		{b, ResourceFieldSelector{Resource: "requests.memory"}, "0", false},
		{b, ResourceFieldSelector{Resource: "limits.ephemeral-storage", Divisor: "1Gi"}, "100", false},
		{b, ResourceFieldSelector{ContainerName: "a", Resource: "limits.cpu", Divisor: "1m"}, "250", false},
		{b, ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}, "", true},
		{b, ResourceFieldSelector{Resource: "limits.gpu"}, "", true},
	} {
		got, err := p.ResourceFieldValue(c.c, &c.f, node)
		if (err != nil) != c.wantFail || got != c.want {
			t.Errorf("%s %+v = %q, %v; want %q", c.c.Name, c.f, got, err, c.want)
		}
	}
	v := &validator{}
	v.resourceField("f", &ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1Mi"})
	v.resourceField("g", &ResourceFieldSelector{Resource: "limits.memory", Divisor: "2"})
	v.resourceField("h", &ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Ki"})
	if len(v.errs) != 2 {
		t.Errorf("divisor validation: %v", v.errs)
	}
}
