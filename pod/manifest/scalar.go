package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// IntOrString is intstr.IntOrString: a port given as a number (8080) or as
// the name of a container port ("http"). JSON round-trips in the form given.
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// FromInt returns an IntOrString holding a number.
func FromInt(i int32) IntOrString { return IntOrString{IntVal: i} }

// FromString returns an IntOrString holding a name.
func FromString(s string) IntOrString { return IntOrString{IsString: true, StrVal: s} }

// String is the number in decimal or the name.
func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// MarshalJSON writes a JSON number or string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

// UnmarshalJSON accepts a JSON number (an int32) or a string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = FromString(s)
		return nil
	}
	var i int32
	if err := json.Unmarshal(b, &i); err != nil {
		return fmt.Errorf("must be an integer or a string")
	}
	*v = FromInt(i)
	return nil
}

// Time is metav1.Time: RFC 3339 in UTC with second precision in JSON.
// Use *Time with omitempty for optional timestamps.
type Time struct{ time.Time }

// NewTime wraps t (nil-safe helper for pointer fields).
func NewTime(t time.Time) *Time { return &Time{t} }

// MarshalJSON writes RFC 3339 in UTC, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// UnmarshalJSON reads RFC 3339 (fractions accepted) or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be an RFC 3339 time string")
	}
	pt, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("must be an RFC 3339 time: %q", s)
	}
	t.Time = pt.Local()
	return nil
}
