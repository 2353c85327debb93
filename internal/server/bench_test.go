package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"panguard.ai/auth/internal/storetest"
)

// BenchmarkMe measures the hot authenticated path in process (no network), for profiling:
// go test -run '^$' -bench Me -cpuprofile cpu.out ./service
func BenchmarkMe(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			_, a := startServer(b, be.URL(b))
			req := httptest.NewRequest("POST", "/api/auth/register", strings.NewReader(`{"email":"bench@example.com","name":"B","password":"password1"}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, req)
			var env struct {
				Data struct{ Token string } `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Data.Token == "" {
				b.Fatalf("register: %s", rec.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/api/auth/me", nil)
					req.Header.Set("Authorization", "Bearer "+env.Data.Token)
					rec := httptest.NewRecorder()
					a.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("me: %d", rec.Code)
					}
				}
			})
		})
	}
}

// BenchmarkIntrospect measures introspection in process, beside BenchmarkMe: a checked
// service key is trusted for seconds, so each call is one indexed read, as `me` is.
func BenchmarkIntrospect(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			_, a := startServer(b, be.URL(b))
			key, _, err := a.auth.CreateServiceKey(context.Background(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/api/auth/register", strings.NewReader(`{"email":"bench@example.com","name":"B","password":"password1"}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, req)
			var env struct {
				Data struct{ Token string } `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Data.Token == "" {
				b.Fatalf("register: %s", rec.Body)
			}
			body := `{"token":"` + env.Data.Token + `"}`
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/api/auth/introspect", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+key)
					rec := httptest.NewRecorder()
					a.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"active":true`) {
						b.Fatalf("introspect: %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
