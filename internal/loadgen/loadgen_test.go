package loadgen

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
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

func TestRunOpenKeepsTheScheduleWhateverTheAnswers(t *testing.T) {
	// 200 arrivals/s for 0.5 s; every tenth request takes 100 ms. A closed loop would stall
	// behind those; the open loop still sends all 100 on time, and the slow ones show in p99.
	var mu sync.Mutex
	sent := map[int]time.Time{}
	start := time.Now()
	run := RunOpen(context.Background(), 200, 500*time.Millisecond, time.Second, func(_ context.Context, seq int) error {
		mu.Lock()
		sent[seq] = time.Now()
		mu.Unlock()
		if seq%10 == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if seq%25 == 1 {
			return errors.New("fails")
		}
		return nil
	})
	r := run.Between(0, 500*time.Millisecond)
	if r.Offered != 100 || r.Completed != 100 || r.Errors != 4 {
		t.Fatalf("offered %d completed %d errors %d", r.Offered, r.Completed, r.Errors)
	}
	for seq, at := range sent {
		if late := at.Sub(start.Add(time.Duration(seq) * 5 * time.Millisecond)); late > 50*time.Millisecond {
			t.Fatalf("request %d sent %v after its schedule", seq, late)
		}
	}
	if r.P50 > 20*time.Millisecond || r.P99 < 100*time.Millisecond || r.Max > 500*time.Millisecond {
		t.Fatalf("p50 %v p99 %v max %v", r.P50, r.P99, r.Max)
	}
	if s := run.Series(100 * time.Millisecond); len(s) != 5 || s[0].Requests != 20 || s[0].P99 < 100*time.Millisecond || s[4].At != 400*time.Millisecond {
		t.Fatalf("series %+v", s)
	}
	// A window of the run: requests 20–59 (scheduled 100–300 ms), of which 20, 30, 40 and 50
	// are slow and 26 and 51 fail.
	if w := run.Between(100*time.Millisecond, 300*time.Millisecond); w.Offered != 40 || w.Errors != 2 || w.P90 < 100*time.Millisecond {
		t.Fatalf("window %+v", w)
	}
}

func TestRunOpenCountsFromTheScheduleNotTheSend(t *testing.T) {
	// One request blocks the only "connection" for 200 ms; requests scheduled behind it wait,
	// and that wait is their latency even though their own service takes no time.
	var conn sync.Mutex
	r := RunOpen(context.Background(), 100, 300*time.Millisecond, time.Second, func(_ context.Context, seq int) error {
		conn.Lock()
		defer conn.Unlock()
		if seq == 0 {
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}).Between(0, 300*time.Millisecond)
	if r.P50 < 50*time.Millisecond || r.Max < 190*time.Millisecond {
		t.Fatalf("p50 %v max %v: the queueing behind the slow request is missing", r.P50, r.Max)
	}
}

func TestRunOpenCountsUnansweredAsTimeouts(t *testing.T) {
	r := RunOpen(context.Background(), 100, 100*time.Millisecond, 50*time.Millisecond, func(ctx context.Context, seq int) error {
		if seq == 3 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}).Between(0, 100*time.Millisecond)
	if r.Offered != 10 || r.Completed != 9 || r.Errors != 1 || r.Max != 50*time.Millisecond {
		t.Fatalf("%+v", r)
	}
}

func TestCPUTimeOfThisProcessGrowsWithWork(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUTime(os.Getpid())
	if err != nil || after-before < 50*time.Millisecond {
		t.Fatalf("CPUTime %v → %v, %v", before, after, err)
	}
}

// TestFamilyCountsChildren: a child process is part of the family, its memory in the sum.
func TestFamilyCountsChildren(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux only")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	fam := Family(os.Getpid())
	if fam[0] != os.Getpid() || !slices.Contains(fam, cmd.Process.Pid) {
		t.Fatalf("Family = %v, want this process then the child %d", fam, cmd.Process.Pid)
	}
	own, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	child, err := PeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	all, err := FamilyPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if all < own+child {
		t.Fatalf("FamilyPeakRSS = %d, want at least %d + %d", all, own, child)
	}
}
