package manifest

import (
	"fmt"
	"math/big"
	"strconv"
)

// Quantities follow Kubernetes resource.Quantity syntax: a decimal number
// ("1", "1.5", ".5", "+2") followed by nothing, a binary suffix (Ki Mi Gi Ti
// Pi Ei), a decimal suffix (n u m k M G T P E) or an exponent (e3, E-2).

var binarySuffix = map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}

var decimalSuffix = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

// parseQuantity returns the exact value of a quantity.
func parseQuantity(s string) (*big.Rat, error) {
	if s == "" {
		return nil, fmt.Errorf("empty quantity")
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && !dot {
			dot = true
		} else {
			break
		}
	}
	if digits == 0 {
		return nil, fmt.Errorf("quantity %q: must start with a number", s)
	}
	num, suffix := s[:i], s[i:]
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, fmt.Errorf("quantity %q: bad number", s)
	}
	if m, ok := binarySuffix[suffix]; ok {
		return r.Mul(r, new(big.Rat).SetInt64(m)), nil
	}
	exp, ok := decimalSuffix[suffix]
	if !ok {
		if len(suffix) < 2 || (suffix[0] != 'e' && suffix[0] != 'E') {
			return nil, fmt.Errorf("quantity %q: unknown suffix %q", s, suffix)
		}
		e, err := strconv.Atoi(suffix[1:])
		if err != nil || e < -30 || e > 30 {
			return nil, fmt.Errorf("quantity %q: bad exponent %q", s, suffix)
		}
		exp = e
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
	if exp >= 0 {
		return r.Mul(r, new(big.Rat).SetInt(p)), nil
	}
	return r.Quo(r, new(big.Rat).SetInt(p)), nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// ceilInt64 rounds a non-negative value up, like Quantity.Value().
func ceilInt64(r *big.Rat, s string) (int64, error) {
	if r.Sign() < 0 {
		return 0, fmt.Errorf("quantity %q: must not be negative", s)
	}
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("quantity %q: too large", s)
	}
	return q.Int64(), nil
}

// ParseCPU returns a CPU quantity ("500m", "1.5", "2") in millicores,
// rounded up as Kubernetes' MilliValue does.
func ParseCPU(s string) (int64, error) {
	r, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	return ceilInt64(r.Mul(r, big.NewRat(1000, 1)), s)
}

// ParseBytes returns a byte quantity ("128Mi", "1G", "1e3", "500k") in
// bytes, rounded up.
func ParseBytes(s string) (int64, error) {
	r, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	return ceilInt64(r, s)
}

// Resource names podrun enforces.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	// ResourceEphemeralStorage is accepted (kubelet enforces it by eviction,
	// which podrun does not do) and reported as not enforced by the caller.
	ResourceEphemeralStorage = "ephemeral-storage"
)

// CPULimit is the container's cpu limit in millicores (0 when unset).
func (c *Container) CPULimit() int64 {
	v, _ := quantity(c.Resources.Limits, ResourceCPU, ParseCPU)
	return v
}

// MemoryLimit is the container's memory limit in bytes (0 when unset).
func (c *Container) MemoryLimit() int64 {
	v, _ := quantity(c.Resources.Limits, ResourceMemory, ParseBytes)
	return v
}

func quantity(m map[string]string, k string, parse func(string) (int64, error)) (int64, bool) {
	s, ok := m[k]
	if !ok {
		return 0, false
	}
	v, err := parse(s)
	return v, err == nil
}

// PodLimits sums the containers' limits the way kubelet sizes the pod
// cgroup: a resource is limited at pod level only if every container
// limits it; app containers and sidecars run together and add up, a
// regular init container runs beside the sidecars before it, so the pod
// needs at least that sum. 0 means unlimited.
func (p *Pod) PodLimits() (cpuMilli, memBytes int64) {
	sum := func(get func(*Container) int64) int64 {
		var total, sidecars, initPeak int64
		for i := range p.Spec.InitContainers {
			c := &p.Spec.InitContainers[i]
			v := get(c)
			if v == 0 {
				return 0
			}
			if c.Sidecar() {
				total += v
				sidecars += v
				initPeak = max(initPeak, sidecars)
			} else {
				initPeak = max(initPeak, v+sidecars)
			}
		}
		for i := range p.Spec.Containers {
			v := get(&p.Spec.Containers[i])
			if v == 0 {
				return 0
			}
			total += v
		}
		return max(total, initPeak)
	}
	return sum((*Container).CPULimit), sum((*Container).MemoryLimit)
}
