package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// stormSVG draws me's latency through the login storm: one panel per hashing design, p50 and
// p99 per 250 ms window of scheduled time on a logarithmic axis, the storm shaded and the
// 10 ms target dashed.
func stormSVG(runs []*stormRun) string {
	const (
		w, panelH, left, right, top, gap = 860, 190, 64, 16, 40, 62
		window                           = 250 * time.Millisecond
		lo, hi                           = 0.1, 10000.0 // ms
	)
	plotW := float64(w - left - right)
	h := top + len(runs)*(panelH+gap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">me latency at a fixed %.0f req/s through a %d-login storm (PostgreSQL; p50 blue, p99 red, per 250 ms)</text>`+"\n", left, *openRate, *stormN)
	for i, r := range runs {
		y0 := float64(top + i*(panelH+gap) + 20)
		total := time.Duration(len(r.run.Latency)) * r.run.Interval
		x := func(t time.Duration) float64 { return float64(left) + plotW*t.Seconds()/total.Seconds() }
		y := func(ms float64) float64 {
			ms = math.Min(math.Max(ms, lo), hi)
			return y0 + panelH*(1-(math.Log10(ms)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-22, html.EscapeString(r.d.name+": "+r.d.label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#f4d7a1" opacity="0.6"/>`+"\n", x(r.stormAt), y0, x(r.stormTo)-x(r.stormAt), panelH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#8a5a00">%d logins</text>`+"\n", x(r.stormAt)+4, y0+14, *stormN)
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.0f" height="%d" fill="none" stroke="#999"/>`+"\n", left, y0, plotW, panelH)
		for ms := lo; ms <= hi; ms *= 10 {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, w-right, y(ms), y(ms), left-6, y(ms)+4, fmtMS(ms))
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333" stroke-dasharray="5,4"/>`+"\n", left, w-right, y(10), y(10))
		for s := 0; s <= int(total.Seconds()); s += 5 {
			t := time.Duration(s) * time.Second
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%ds</text>`+"\n", x(t), y0+panelH+15, s)
		}
		pts := r.run.Series(window)
		for _, line := range []struct {
			color string
			of    func(p int) time.Duration
		}{{"#1f5fbf", func(p int) time.Duration { return pts[p].P50 }}, {"#c62828", func(p int) time.Duration { return pts[p].P99 }}} {
			var path strings.Builder
			for p := range pts {
				fmt.Fprintf(&path, "%.1f,%.1f ", x(pts[p].At+window/2), y(float64(line.of(p).Microseconds())/1000))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", line.color, strings.TrimSpace(path.String()))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#444">p99 alone %v · in the storm %v · logins %.1f/s (%.2f × the hash rate just before)</text>`+"\n",
			left, y0-7, r.alone.P99.Round(10*time.Microsecond), r.storm.P99.Round(10*time.Microsecond), r.logins, r.logins/r.hashRate)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%gs", ms/1000)
	}
	return fmt.Sprintf("%gms", ms)
}
