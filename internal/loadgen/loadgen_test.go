package loadgen

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestRunMeasuresOnlyAfterWarmup(t *testing.T) {
	calls := 0
	r := Run(context.Background(), 1, 50*time.Millisecond, 100*time.Millisecond, func(context.Context, int, int) error {
		calls++
		time.Sleep(10 * time.Millisecond)
		if calls%2 == 0 {
			return errors.New("every second call fails")
		}
		return nil
	})
	if r.Requests < 5 || r.Requests > 12 || calls < r.Requests+3 {
		t.Fatalf("measured %d of %d calls", r.Requests, calls)
	}
	if r.Errors < r.Requests/2-1 || r.Errors > r.Requests/2+1 {
		t.Fatalf("errors %d of %d", r.Errors, r.Requests)
	}
	if r.P50 < 10*time.Millisecond || r.P99 < r.P50 || r.RPS() <= 0 {
		t.Fatalf("latencies %v %v rps %v", r.P50, r.P99, r.RPS())
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	rss, err := PeakRSS(os.Getpid())
	if err != nil || rss < 1<<20 || rss > 1<<40 {
		t.Fatalf("PeakRSS = %d, %v", rss, err)
	}
}
