package manifest

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// NodeAllocatable is what a container without a limit gets in the
// downward API (kubelet's defaultPodLimitsForDownwardAPI): the node's
// CPUs in millicores, memory and ephemeral storage in bytes.
type NodeAllocatable struct {
	CPUMillis, Memory, EphemeralStorage int64
}

// resourceFieldDivisors are the divisors the apiserver accepts
// (validContainerResourceDivisorForCPU, ...ForMemory/EphemeralStorage).
var (
	cpuDivisors   = []string{"1m", "1"}
	bytesDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// resourceFieldKind tells whether a resourceFieldRef may name resource,
// and whether it counts CPU or bytes.
func resourceFieldKind(resource string) (kind string, ok bool) {
	switch resource {
	case "limits.cpu", "requests.cpu":
		return "cpu", true
	case "limits.memory", "requests.memory", "limits.ephemeral-storage", "requests.ephemeral-storage":
		return "bytes", true
	}
	if strings.HasPrefix(resource, "limits.hugepages-") || strings.HasPrefix(resource, "requests.hugepages-") {
		return "bytes", true
	}
	return "", false
}

// resourceField checks a resourceFieldRef's resource and divisor.
func (v *validator) resourceField(fp string, f *ResourceFieldSelector) {
	kind, ok := resourceFieldKind(f.Resource)
	if !ok {
		v.add(fp+".resource", "%q is not supported (limits.cpu, limits.memory, limits.ephemeral-storage, requests.*, hugepages-*)", f.Resource)
		return
	}
	if f.Divisor == "" {
		return
	}
	allowed := bytesDivisors
	if kind == "cpu" {
		allowed = cpuDivisors
	}
	want, err := parseQuantity(f.Divisor)
	if err == nil {
		for _, a := range allowed {
			if q, _ := parseQuantity(a); q.Cmp(want) == 0 {
				return
			}
		}
	}
	v.add(fp+".divisor", "%q must be one of %s", f.Divisor, strings.Join(allowed, ", "))
}

// ResourceFieldValue is kubelet's containerResourceRuntimeValue: the
// named container's (c itself when ContainerName is empty) limit or
// request, divided by the divisor and rounded up; a missing limit of cpu,
// memory or ephemeral storage is the node's allocatable, a missing
// request is the limit when set (the apiserver's default), else 0.
func (p *Pod) ResourceFieldValue(c *Container, f *ResourceFieldSelector, node NodeAllocatable) (string, error) {
	if f.ContainerName != "" && f.ContainerName != c.Name {
		c = nil
		for _, cs := range [][]Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				if cs[i].Name == f.ContainerName {
					c = &cs[i]
				}
			}
		}
		if c == nil {
			return "", fmt.Errorf("%w: resourceFieldRef: no container %q", ErrInvalid, f.ContainerName)
		}
	}
	kind, ok := resourceFieldKind(f.Resource)
	if !ok {
		return "", fmt.Errorf("%w: resourceFieldRef: unsupported resource %q", ErrInvalid, f.Resource)
	}
	scope, name, _ := strings.Cut(f.Resource, ".")
	q, set := c.Resources.Limits[name]
	if scope == "requests" {
		if r, ok := c.Resources.Requests[name]; ok {
			q, set = r, true
		}
	}
	var value *big.Rat
	if set {
		r, err := parseQuantity(q)
		if err != nil {
			return "", fmt.Errorf("%w: resources %s: %v", ErrInvalid, name, err)
		}
		value = r
	} else if scope == "limits" {
		switch name {
		case "cpu":
			value = big.NewRat(node.CPUMillis, 1000)
		case "memory":
			value = big.NewRat(node.Memory, 1)
		case "ephemeral-storage":
			value = big.NewRat(node.EphemeralStorage, 1)
		default:
			value = new(big.Rat)
		}
	} else {
		value = new(big.Rat)
	}
	div := f.Divisor
	if div == "" {
		div = "1"
	}
	d, err := parseQuantity(div)
	if err != nil || d.Sign() <= 0 {
		return "", fmt.Errorf("%w: resourceFieldRef.divisor %q", ErrInvalid, div)
	}
	if kind == "cpu" {
		// kubelet: ceil(milliValue(cpu) / milliValue(divisor)).
		value = ceilRat(new(big.Rat).Mul(value, big.NewRat(1000, 1)))
		d = ceilRat(new(big.Rat).Mul(d, big.NewRat(1000, 1)))
	} else {
		value, d = ceilRat(value), ceilRat(d)
	}
	return strconv.FormatInt(ceilRat(new(big.Rat).Quo(value, d)).Num().Int64(), 10), nil
}

// ceilRat rounds r up to an integer.
func ceilRat(r *big.Rat) *big.Rat {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return new(big.Rat).SetInt(q)
}
