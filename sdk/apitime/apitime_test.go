package apitime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWireFormat(t *testing.T) {
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), `"2026-03-07T12:00:00.000Z"`},
		{time.Date(2026, 3, 7, 12, 0, 0, 123456789, time.UTC), `"2026-03-07T12:00:00.123Z"`},
		{time.Date(2026, 3, 7, 13, 0, 0, 0, time.FixedZone("CET", 3600)), `"2026-03-07T12:00:00.000Z"`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(From(tc.in))
		if err != nil || string(b) != tc.want {
			t.Fatalf("%v: %s %v, want %s", tc.in, b, err, tc.want)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(From(tc.in).Time) {
			t.Fatalf("round trip of %s: %v %v", b, back, err)
		}
	}
}

// FuzzUnmarshal: any input either decodes to a time that re-encodes and decodes to itself,
// or is an error; never a panic.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`"2026-03-07T12:00:00.000Z"`, `"2026-03-07T12:00:00+01:00"`, `null`, `""`, `"`, `5`, `"9999-99-99T99:99:99Z"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Time
		if err := v.UnmarshalJSON(b); err != nil {
			return
		}
		out, err := v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Time
		if err := again.UnmarshalJSON(out); err != nil || !again.Equal(v.Truncate(time.Millisecond)) {
			t.Fatalf("%s -> %s -> %v (%v)", b, out, again, err)
		}
	})
}
