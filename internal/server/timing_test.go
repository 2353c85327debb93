package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/storetest"
)

// median of the durations.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestEqualTiming: the answers that must not reveal whether an account exists take the same
// median time. Each pair runs alternately many times (so drift and noise hit both sides
// alike); a real leak fails every attempt, so one comparison is retried twice before failing.
func TestEqualTiming(t *testing.T) {
	cfg := testConfig(storetest.SQLiteURL(t))
	// Production hashing cost: the point is that the expensive work is the same on both paths.
	cfg.HashMemoryKiB, cfg.HashIterations = 19456, 2
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	seq := 0
	call := func(path, body string) time.Duration {
		seq++
		req := httptest.NewRequest("POST", "/api/auth/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		// A different client each time, so the brute-force policy stays out of the measurement.
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", seq>>16&255, seq>>8&255, seq&255)
		rec := httptest.NewRecorder()
		start := time.Now()
		a.handler.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != http.StatusOK && rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return d
	}
	call("register", `{"email":"known@example.com","name":"Known","password":"password1"}`)

	pairs := []struct {
		name   string
		n      int
		a, b   func(i int) time.Duration
		aN, bN string
	}{
		{"login: unknown email vs wrong password", 15,
			func(i int) time.Duration {
				return call("login", fmt.Sprintf(`{"email":"nobody%d@example.com","password":"password1"}`, i))
			},
			func(i int) time.Duration {
				return call("login", `{"email":"known@example.com","password":"wrong-password"}`)
			},
			"unknown", "wrong password"},
		{"register: new vs duplicate", 15,
			func(i int) time.Duration {
				return call("register", fmt.Sprintf(`{"email":"new%d-%d@example.com","name":"N","password":"password1"}`, i, seq))
			},
			func(i int) time.Duration {
				return call("register", `{"email":"known@example.com","name":"N","password":"password1"}`)
			},
			"new", "duplicate"},
		{"forgot-password: known vs unknown", 61,
			func(i int) time.Duration { return call("forgot-password", `{"email":"known@example.com"}`) },
			func(i int) time.Duration {
				return call("forgot-password", fmt.Sprintf(`{"email":"ghost%d@example.com"}`, i))
			},
			"known", "unknown"},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			var ratio float64
			var ma, mb time.Duration
			for attempt := range 3 {
				var da, db []time.Duration
				for i := range p.n {
					if i%2 == 0 {
						da, db = append(da, p.a(i)), append(db, p.b(i))
					} else {
						db, da = append(db, p.b(i)), append(da, p.a(i))
					}
				}
				ma, mb = median(da), median(db)
				ratio = float64(ma) / float64(mb)
				t.Logf("attempt %d: median %s %v, %s %v, ratio %.3f", attempt+1, p.aN, ma, p.bN, mb, ratio)
				if ratio >= 0.8 && ratio <= 1.25 {
					return
				}
			}
			t.Fatalf("median %s %v vs %s %v: ratio %.3f outside ±20%%", p.aN, ma, p.bN, mb, ratio)
		})
	}
}
