package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

// fail counts one failed attempt at key, as a wrong password would.
func fail(ctx context.Context, s *store.Store, key string, at time.Time) error {
	_, ok, _, err := s.Reserve(ctx, auth.Budget{Key: key, Free: 1000, Backoff: []time.Duration{time.Second}, Decay: time.Hour}, at)
	if err == nil && !ok {
		err = fmt.Errorf("reserve %s refused", key)
	}
	return err
}

var budget = auth.Budget{Key: "k", Free: 3, Backoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, Decay: time.Hour, Enforce: true}

func TestReserveCountsLocksAndRefuses(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		steps := []struct {
			name     string
			at       time.Duration
			granted  bool
			count    int
			lockedBy time.Duration // the lock the attempt set, from its own time; 0 none
		}{
			{"first attempt", 0, true, 1, 0},
			{"second", 0, true, 2, 0},
			{"the last free attempt locks for the first step", 0, true, 3, time.Second},
			{"refused while locked", 500 * time.Millisecond, false, 0, 0},
			{"allowed when the lock has passed, next step", time.Second, true, 4, 2 * time.Second},
			{"refused again", 2 * time.Second, false, 0, 0},
			{"the last step repeats", 3 * time.Second, true, 5, 4 * time.Second},
			{"and again", 7 * time.Second, true, 6, 4 * time.Second},
			{"after the decay the count starts again", 7*time.Second + 2*time.Hour, true, 1, 0},
		}
		for _, st := range steps {
			now := t0.Add(st.at)
			r, ok, th, err := s.Reserve(ctx, budget, now)
			if err != nil {
				t.Fatal(err)
			}
			if ok != st.granted {
				t.Fatalf("%s: granted %v, want %v (state %+v)", st.name, ok, st.granted, th)
			}
			if !ok {
				if !th.LockedUntil.After(now) {
					t.Fatalf("%s: refused but the state shows no lock: %+v", st.name, th)
				}
				continue
			}
			if r.Count != st.count {
				t.Fatalf("%s: count %d, want %d", st.name, r.Count, st.count)
			}
			var want time.Time
			if st.lockedBy > 0 {
				want = now.Add(st.lockedBy)
			}
			if !r.LockedUntil.Equal(want) {
				t.Fatalf("%s: lock %v, want %v", st.name, r.LockedUntil, want)
			}
		}
	})
}

func TestReleaseGivesTheAttemptAndItsLockBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		var last auth.Reservation
		for range 3 {
			r, ok, _, err := s.Reserve(ctx, budget, t0)
			if err != nil || !ok {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			last = r
		}
		if err := s.Release(ctx, last); err != nil {
			t.Fatal(err)
		}
		r, ok, _, err := s.Reserve(ctx, budget, t0)
		if err != nil || !ok {
			t.Fatalf("after a release the lock should be gone: %v %v", ok, err)
		}
		if r.Count != 3 {
			t.Fatalf("count %d after release and a new attempt, want 3", r.Count)
		}
	})
}

func TestUnenforcedBudgetCountsButNeverRefuses(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		b := budget
		b.Enforce = false
		for i := range 6 {
			r, ok, _, err := s.Reserve(ctx, b, t0)
			if err != nil || !ok || r.Count != i+1 {
				t.Fatalf("attempt %d: %+v %v %v", i+1, r, ok, err)
			}
		}
		// The lock it set binds an enforced reservation of the same key.
		if _, ok, _, err := s.Reserve(ctx, budget, t0); err != nil || ok {
			t.Fatalf("enforced attempt under the lock: granted %v, %v", ok, err)
		}
	})
}

func TestCapRefusesWithinThePauseAfterTheLatestAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		b := auth.Budget{Key: "cap", Free: 100, Backoff: []time.Duration{time.Second}, Decay: time.Hour, CapAt: 2, CapPause: time.Minute}
		for i := range 2 {
			if _, ok, _, err := s.Reserve(ctx, b, t0.Add(time.Duration(i)*time.Minute)); err != nil || !ok {
				t.Fatalf("attempt %d: %v %v", i+1, ok, err)
			}
		}
		if _, ok, th, err := s.Reserve(ctx, b, t0.Add(90*time.Second)); err != nil || ok || th.Failures != 2 {
			t.Fatalf("within the pause: granted %v, %+v, %v", ok, th, err)
		}
		if _, ok, _, err := s.Reserve(ctx, b, t0.Add(2*time.Minute)); err != nil || !ok {
			t.Fatalf("after the pause: granted %v, %v", ok, err)
		}
	})
}

// Concurrent attempts never get more than the free budget, however they interleave: the
// count and the lock move in one statement.
func TestConcurrentReservationsNeverExceedTheBudget(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		// A second pool on the same database, as a second replica would have.
		s2, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		var granted atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := s
				if i%2 == 1 {
					st = s2
				}
				err := st.RunInTx(ctx, func(ctx context.Context) error {
					_, ok, _, err := st.Reserve(ctx, budget, t0)
					if ok {
						granted.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := granted.Load(); n != int32(budget.Free) {
			t.Fatalf("%d of 40 concurrent attempts granted, want exactly %d", n, budget.Free)
		}
	})
}

// The activity page query is an index range scan at any table size: the plan of a page after
// a cursor, on a table of 200,000 events of 1,000 users (20,000 on SQLite, whose planner
// needs no statistics to pick the index and whose pure-Go build is slow under -race), is a
// range scan of activity_events_user_at_idx bounded by the cursor.
func TestActivityPagesUseTheIndex(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		db := s.SQLDB()
		fill := `INSERT INTO activity_events (id, user_id, type, at, actor)
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
			SELECT 'evt_' || i, 'usr_' || (i % 1000), 'login', i, 'self' FROM n`
		explain := "EXPLAIN QUERY PLAN "
		if s.Dialect() == store.Postgres {
			fill = `INSERT INTO activity_events (id, user_id, type, at, actor)
				SELECT 'evt_' || i, 'usr_' || (i % 1000), 'login', i, 'self' FROM generate_series(1, 200000) AS i`
			explain = "EXPLAIN "
		}
		if _, err := db.ExecContext(ctx, fill); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		q := `SELECT * FROM activity_events WHERE user_id = 'usr_7' AND (at, id) < (150000, 'evt_150000') ORDER BY at DESC, id DESC LIMIT 51`
		rows, err := db.QueryContext(ctx, explain+q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var plan strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			for i := range vals {
				vals[i] = new(any)
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&plan, *vals[len(vals)-1].(*any))
		}
		t.Logf("%s plan:\n%s", s.Dialect(), plan.String())
		// The cursor must bound the index range, not filter the rows it returns.
		if !strings.Contains(plan.String(), "activity_events_user_at_idx") || strings.Contains(plan.String(), "Filter") {
			t.Fatalf("the page query is not an index range scan:\n%s", plan.String())
		}
		// And the store's own query returns the page in order.
		evs, err := s.Events(ctx, "usr_7", 3, &auth.EventCursor{At: time.UnixMilli(150000), ID: "evt_150000"})
		if err != nil || len(evs) != 3 || evs[0].At.UnixMilli() >= 150000 || !evs[0].At.After(evs[1].At) {
			t.Fatalf("page: %+v %v", evs, err)
		}
	})
}
