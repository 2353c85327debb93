package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"panguard.ai/auth/internal/storetest"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	ips, err := newClientIPs([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "203.0.113.5:4444", "", "203.0.113.5"},
		{"direct client spoofing the header", "203.0.113.5:4444", "1.2.3.4", "203.0.113.5"},
		{"through a trusted proxy", "10.1.2.3:80", "198.51.100.9", "198.51.100.9"},
		{"spoofed hop left of the real client", "10.1.2.3:80", "1.2.3.4, 198.51.100.9", "198.51.100.9"},
		{"two trusted proxies", "10.1.2.3:80", "198.51.100.9, 192.0.2.1", "198.51.100.9"},
		{"only trusted hops", "10.1.2.3:80", "10.9.9.9", "10.9.9.9"},
		{"garbage hop", "10.1.2.3:80", "not-an-ip", "10.1.2.3"},
		{"IPv6 client", "[2001:db8::1]:443", "", "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80", "198.51.100.9", "198.51.100.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.xff != "" {
				h.Set("X-Forwarded-For", tc.xff)
			}
			if got := ips.of(tc.remote, h); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := newClientIPs([]string{"nope"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}

func TestRateLimitOverHTTP(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		name := map[bool]string{false: "no trusted proxy", true: "behind a trusted proxy"}[trusted]
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(storetest.SQLiteURL(t))
			cfg.RateLimit = 20
			if trusted {
				cfg.TrustedProxies = []string{"127.0.0.1/32"}
			}
			a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.store.Close() })
			srv := httptest.NewServer(a.handler)
			t.Cleanup(srv.Close)
			call := func(xff string) (int, map[string]any, http.Header) {
				return rawCall(t, "POST", srv.URL+"/api/auth/forgot-password", "application/json", `{"email":"a@example.com"}`, "X-Forwarded-For", xff)
			}
			for i := range 20 {
				// A new spoofed address every time: it must not buy more requests.
				if st, env, _ := call("203.0.113." + strings.Repeat("1", 1+i%2)); st != 200 {
					t.Fatalf("request %d: %d %v", i+1, st, env)
				}
			}
			st, env, hdr := call("203.0.113.1")
			if !trusted {
				if st != 429 || env["code"] != "rate_limited" || hdr.Get("Retry-After") == "" {
					t.Fatalf("21st request: %d %v %v", st, env, hdr)
				}
				return
			}
			// Behind a trusted proxy the header names the client: 203.0.113.1 has made 10
			// requests, 203.0.113.11 10, and a new client is fine.
			if st != 200 {
				t.Fatalf("trusted proxy: %d %v", st, env)
			}
			if st, _, _ := call("198.51.100.1"); st != 200 {
				t.Fatalf("another client behind the proxy was limited: %d", st)
			}
		})
	}
}
