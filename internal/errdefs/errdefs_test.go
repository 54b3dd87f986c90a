package errdefs

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestCategories(t *testing.T) {
	sentinel := New(ErrNotFound, "container does not exist")
	wrapped := fmt.Errorf("%w: c1", sentinel)
	if wrapped.Error() != "container does not exist: c1" {
		t.Errorf("text %q: the category must not show", wrapped)
	}
	if !errors.Is(wrapped, sentinel) || !IsNotFound(wrapped) {
		t.Error("a wrapped sentinel lost its identity or its category")
	}
	is := []func(error) bool{IsNotFound, IsAlreadyExists, IsFailedPrecondition, IsInvalidArgument, IsUnavailable}
	for i, c := range codes {
		err := Newf(c.category, "x %d", i)
		for j, f := range is {
			if f(err) != (i == j) {
				t.Errorf("%s: Is#%d = %v", c.code, j, f(err))
			}
		}
	}
	dial := &os.PathError{Op: "dial", Path: "/x", Err: os.ErrNotExist}
	if w := Wrap(ErrUnavailable, dial); w.Error() != dial.Error() || !IsUnavailable(w) || !errors.Is(w, os.ErrNotExist) {
		t.Errorf("Wrap: %q lost its text, category or cause", w)
	}
	if Wrap(ErrUnavailable, nil) != nil {
		t.Error("Wrap(nil) is an error")
	}
	if IsNotFound(errors.New("not found")) || IsNotFound(nil) {
		t.Error("a plain error (or nil) is in no category")
	}
}

// An error crossing a wire as (code, message) comes back with its text
// and its category.
func TestWireRoundTrip(t *testing.T) {
	for _, c := range codes {
		sent := fmt.Errorf("pod p: %w", New(c.category, "boom"))
		code := Code(sent)
		if code != c.code {
			t.Errorf("Code = %q, want %q", code, c.code)
		}
		got := FromCode(code, sent.Error())
		if got.Error() != "pod p: boom" || !errors.Is(got, c.category) {
			t.Errorf("%s: got %q (%v)", c.code, got, got)
		}
		if Code(got) != code {
			t.Errorf("%s: re-encoded as %q", c.code, Code(got))
		}
	}
	if Code(errors.New("x")) != "" || Code(nil) != "" {
		t.Error("an uncategorised error has a code")
	}
	if err := FromCode("", "x"); err == nil || err.Error() != "x" || Code(err) != "" {
		t.Errorf("no code: %v", err)
	}
	if err := FromCode("Internal", "x"); err == nil || Code(err) != "" {
		t.Errorf("unknown code: %v", err)
	}
	if FromCode("NotFound", "") != nil {
		t.Error("no message is no error")
	}
}
