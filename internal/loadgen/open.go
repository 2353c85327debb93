package loadgen

import (
	"context"
	"slices"
	"sync"
	"time"
)

// OpenRun is the record of an open-loop run: requests arrived on a fixed schedule whatever
// the answers did, and each latency runs from the request's scheduled time, so the time a
// request spent waiting to be sent (behind a slow answer, or a generator that fell behind)
// counts: the figures are free of coordinated omission.
type OpenRun struct {
	Rate     float64       // offered arrivals per second
	Interval time.Duration // between scheduled arrivals
	Timeout  time.Duration // an unanswered request counts as failed with this latency
	// Latency and Failed are indexed by arrival: request i was scheduled at i×Interval.
	Latency []time.Duration
	Failed  []bool
}

// OpenResult summarizes the requests of an open-loop run scheduled in a time window.
type OpenResult struct {
	Offered   int           // arrivals scheduled in the window
	Completed int           // of which answered (successfully or not) before their timeout
	Errors    int           // of which failed or were never answered
	Elapsed   time.Duration // the window
	// Latency percentiles, an unanswered request counting as the timeout.
	P50, P90, P99, P999, Max time.Duration
}

// Throughput is answered, successful requests per second in the window.
func (r OpenResult) Throughput() float64 {
	return float64(r.Completed-r.Errors) / r.Elapsed.Seconds()
}

// Point is one window of an open-loop run's series.
type Point struct {
	At            time.Duration // the window's start, from the run's start
	Requests      int
	P50, P99, Max time.Duration
}

// RunOpen offers rate requests per second for d: request i is scheduled at start + i/rate and
// sent then (or at once, if the generator is late), each on its own goroutine, never waiting
// for earlier answers. A request still unanswered timeout after its schedule has its context
// cancelled and counts as failed with latency timeout. Cancelling ctx stops the arrivals; the
// rest count as failed.
func RunOpen(ctx context.Context, rate float64, d, timeout time.Duration, do func(ctx context.Context, seq int) error) OpenRun {
	r := OpenRun{Rate: rate, Interval: time.Duration(float64(time.Second) / rate), Timeout: timeout}
	total := int(d / r.Interval)
	r.Latency, r.Failed = make([]time.Duration, total), make([]bool, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * r.Interval)
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			for j := i; j < total; j++ {
				r.Latency[j], r.Failed[j] = timeout, true
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithDeadline(ctx, at.Add(timeout))
			defer cancel()
			err := do(rctx, i)
			r.Latency[i] = min(time.Since(at), timeout)
			r.Failed[i] = err != nil || rctx.Err() != nil
		}()
	}
	wg.Wait()
	return r
}

// Between summarizes the requests scheduled from from (inclusive) to to (exclusive), both
// measured from the run's start.
func (r OpenRun) Between(from, to time.Duration) OpenResult {
	lo, hi := r.index(from), r.index(to)
	res := OpenResult{Elapsed: to - from}
	ds := slices.Clone(r.Latency[lo:hi])
	for i := lo; i < hi; i++ {
		res.Offered++
		if r.Failed[i] {
			res.Errors++
		}
		if r.Latency[i] < r.Timeout {
			res.Completed++
		}
	}
	res.P50, res.P90, res.P99, res.P999, res.Max = percentiles(ds)
	return res
}

// Series is the run's latency percentiles per window of scheduled time.
func (r OpenRun) Series(window time.Duration) []Point {
	per := max(1, int(window/r.Interval))
	var out []Point
	for lo := 0; lo < len(r.Latency); lo += per {
		ds := slices.Clone(r.Latency[lo:min(lo+per, len(r.Latency))])
		p50, _, p99, _, mx := percentiles(ds)
		out = append(out, Point{At: time.Duration(lo) * r.Interval, Requests: len(ds), P50: p50, P99: p99, Max: mx})
	}
	return out
}

func (r OpenRun) index(at time.Duration) int {
	return min(max(0, int(at/r.Interval)), len(r.Latency))
}

// percentiles sorts ds and returns its 50th, 90th, 99th and 99.9th percentiles and maximum.
func percentiles(ds []time.Duration) (p50, p90, p99, p999, mx time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*q))] }
	return at(0.50), at(0.90), at(0.99), at(0.999), ds[len(ds)-1]
}
