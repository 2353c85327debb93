// Package loadgen is a small load generator, what `make bench` measures with, the service
// and its ceilings alike. Run is a closed loop: a fixed number of workers, each issuing one
// request after another over kept-alive connections, for a fixed time after a warm-up — it
// finds throughput. RunOpen is an open loop: requests arrive at a fixed rate whatever the
// answers do, and latency counts from each request's scheduled time — it finds the latency a
// client sees at a given load, queueing included (no coordinated omission).
package loadgen

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result summarizes one run.
type Result struct {
	Requests int           // completed in the measured window
	Errors   int           // of which failed (the function returned an error)
	Elapsed  time.Duration // the measured window
	P50, P99 time.Duration
}

// RPS is successful requests per second.
func (r Result) RPS() float64 { return float64(r.Requests-r.Errors) / r.Elapsed.Seconds() }

// Client returns an HTTP client that keeps up to conns connections alive per host.
func Client(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
	}
}

// Run calls do from concurrency workers for warmup+duration and measures the requests that
// start after the warm-up. do gets the worker number and a per-worker sequence number.
func Run(ctx context.Context, concurrency int, warmup, duration time.Duration, do func(ctx context.Context, worker, seq int) error) Result {
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()
	lat := make([][]time.Duration, concurrency)
	errs := make([]int, concurrency)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				t0 := time.Now()
				if !t0.Before(end) || ctx.Err() != nil {
					return
				}
				err := do(ctx, w, seq)
				if t0.Before(measureFrom) {
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs[w]++
				}
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	r := Result{Elapsed: duration}
	for w := range concurrency {
		all = append(all, lat[w]...)
		r.Errors += errs[w]
	}
	r.Requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		r.P50 = all[len(all)/2]
		r.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return r
}
