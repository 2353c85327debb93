package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/loadgen"
)

// TestStormPictureIsWellFormedSVG draws two synthetic runs and parses the result as XML: one
// panel each, two lines (p50, p99) each, the storm shaded.
func TestStormPictureIsWellFormedSVG(t *testing.T) {
	var runs []*stormRun
	for _, name := range []string{"before", "after & <co>"} {
		run := loadgen.OpenRun{Rate: 100, Interval: 10 * time.Millisecond, Timeout: time.Second}
		for i := range 300 {
			run.Latency = append(run.Latency, time.Duration(i%50+1)*time.Millisecond)
			run.Failed = append(run.Failed, false)
		}
		runs = append(runs, &stormRun{d: design{name: name, label: "x"}, run: run, stormAt: time.Second, stormTo: 2 * time.Second, hashRate: 10, logins: 9})
	}
	svg := stormSVG(runs)
	d := xml.NewDecoder(strings.NewReader(svg))
	counts := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
		}
	}
	if counts["svg"] != 1 || counts["polyline"] != 4 {
		t.Fatalf("elements %v", counts)
	}
	if !strings.Contains(svg, "after &amp; &lt;co&gt;") {
		t.Fatal("a label is not escaped")
	}
}
