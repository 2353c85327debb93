// Package apitime holds the timestamp type of the Panguard Auth wire format:
// RFC 3339 in UTC with exactly three fractional digits, e.g. 2026-03-07T12:00:00.000Z.
package apitime

import (
	"errors"
	"fmt"
	"time"
)

// Layout is the wire layout of every Panguard Auth timestamp.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// Time is a time.Time that encodes as RFC 3339 UTC with milliseconds.
type Time struct{ time.Time }

// From wraps t, converted to UTC and truncated to milliseconds.
func From(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// Ptr returns a pointer to From(*t), or nil when t is nil.
func Ptr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	v := From(*t)
	return &v
}

// String formats t in the wire layout.
func (t Time) String() string { return t.UTC().Format(Layout) }

// MarshalJSON encodes t as a JSON string in the wire layout.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(Layout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, Layout)
	return append(b, '"'), nil
}

// ErrFormat is the error (matched with errors.Is) of a JSON value that is not an RFC 3339
// string.
var ErrFormat = errors.New("apitime: want an RFC 3339 time such as 2026-03-07T12:00:00Z")

// UnmarshalJSON decodes any RFC 3339 JSON string. It returns an error matching ErrFormat for
// anything else.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w, got %.32s", ErrFormat, b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	t.Time = v.UTC()
	return nil
}
