// Package errdefs holds the few categories podrun's errors fall into, so a
// caller (the CLI, a client across the supervisor's socket) can tell a
// missing object from a refused operation without matching texts. Each
// package keeps its own sentinels (runtime.ErrNotExist, pod.ErrExist, ...)
// and makes them match a category with New; errors.Is then holds for both.
// Modelled on containerd's errdefs, with only the categories podrun uses
// and no dependency (containerd's pulls its gRPC mapping along).
package errdefs

import (
	"errors"
	"fmt"
)

// The categories.
var (
	// ErrNotFound: the object (container, pod, image, volume) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object of that name or id exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrFailedPrecondition: the object is not in a state the operation
	// needs (a stopped container, an image or volume in use).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrInvalidArgument: the request itself is wrong (a bad id, manifest,
	// profile).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: the service that would answer is not there (a pod's
	// supervisor that is not running or is finishing).
	ErrUnavailable = errors.New("unavailable")
)

// categorized is an error reading msg that matches its category.
type categorized struct {
	msg      string
	category error
}

func (e *categorized) Error() string { return e.msg }
func (e *categorized) Unwrap() error { return e.category }

// New returns an error reading msg that matches category (one of the
// variables above) with errors.Is. Packages make their sentinels with it.
func New(category error, msg string) error {
	return &categorized{msg: msg, category: category}
}

// Newf is New with a formatted message; %w in format is not supported
// (wrap a sentinel made with New instead).
func Newf(category error, format string, args ...any) error {
	return New(category, fmt.Sprintf(format, args...))
}

// Wrap makes err also match category, keeping its text and what it wraps
// (e.g. a dial error that means a service is Unavailable). Nil stays nil.
func Wrap(category, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{err: err, category: category}
}

type wrapped struct{ err, category error }

func (e *wrapped) Error() string   { return e.err.Error() }
func (e *wrapped) Unwrap() []error { return []error{e.err, e.category} }

// IsNotFound reports whether err is in the NotFound category.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is in the AlreadyExists category.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsFailedPrecondition reports whether err is in the FailedPrecondition
// category.
func IsFailedPrecondition(err error) bool { return errors.Is(err, ErrFailedPrecondition) }

// IsInvalidArgument reports whether err is in the InvalidArgument category.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsUnavailable reports whether err is in the Unavailable category.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// codes names each category on the wire (gRPC's code names, as
// containerd's mapping uses).
var codes = []struct {
	code     string
	category error
}{
	{"NotFound", ErrNotFound},
	{"AlreadyExists", ErrAlreadyExists},
	{"FailedPrecondition", ErrFailedPrecondition},
	{"InvalidArgument", ErrInvalidArgument},
	{"Unavailable", ErrUnavailable},
}

// Code is err's category as sent on a wire: "NotFound", ..., or "" for an
// error in none of them (or nil).
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.category) {
			return c.code
		}
	}
	return ""
}

// FromCode rebuilds a received error: msg, matching the category code
// names. An empty or unknown code (a peer of another version) gives a plain
// error; an empty msg gives nil.
func FromCode(code, msg string) error {
	if msg == "" {
		return nil
	}
	for _, c := range codes {
		if c.code == code {
			return New(c.category, msg)
		}
	}
	return errors.New(msg)
}
