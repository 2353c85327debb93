package verify_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"panguard.ai/auth/sdk/verify"
)

func introspecting(key string, ttl time.Duration) func(*verify.Config) {
	return func(c *verify.Config) {
		c.Introspection = &verify.IntrospectionConfig{ServiceKey: key, CacheTTL: ttl}
	}
}

func TestIntrospection(t *testing.T) {
	status := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}
	}
	tests := []struct {
		name    string
		key     string
		sub     string
		revoke  bool
		answer  http.HandlerFunc
		want    error
		limit   *int
		noLimit bool
	}{
		{name: "an active session", key: serviceKey, sub: "usr_ada", limit: new(10)},
		{name: "an unlimited plan", key: serviceKey, sub: "usr_unlimited", noLimit: true},
		{name: "a revoked session", key: serviceKey, revoke: true, want: verify.ErrRevoked},
		{name: "a wrong service key", key: "psk_wrong", want: verify.ErrServiceKeyRejected},
		{name: "403", key: serviceKey, answer: status(403, `{"ok":false,"error":"no","code":"forbidden"}`), want: verify.ErrServiceKeyRejected},
		{name: "503", key: serviceKey, answer: status(503, `{"ok":false,"error":"down","code":"unavailable"}`), want: verify.ErrIntrospectionUnavailable},
		{name: "429", key: serviceKey, answer: status(429, `{"ok":false,"error":"slow down","code":"rate_limited"}`), want: verify.ErrIntrospectionUnavailable},
		{name: "garbage", key: serviceKey, answer: status(200, `<html>`), want: verify.ErrIntrospectionUnavailable},
		{name: "ok false", key: serviceKey, answer: status(200, `{"ok":false}`), want: verify.ErrIntrospectionUnavailable},
		{name: "active missing", key: serviceKey, answer: status(200, `{"ok":true,"data":{}}`), want: verify.ErrIntrospectionUnavailable},
		{name: "an answer about another session", key: serviceKey,
			answer: status(200, `{"ok":true,"data":{"active":true,"sub":"usr_ada","sid":"ses_other"}}`), want: verify.ErrIntrospectionUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, "k1")
			iss.setIntrospection(tt.answer)
			if tt.revoke {
				iss.revoke("ses_1")
			}
			v := iss.verifier(t, introspecting(tt.key, 0))
			sub := tt.sub
			if sub == "" {
				sub = "usr_ada"
			}
			c, err := v.Verify(context.Background(), iss.token("k1", func(_, c map[string]any) { c["sub"] = sub }))
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.want)
				}
				for _, other := range []error{verify.ErrRevoked, verify.ErrServiceKeyRejected, verify.ErrIntrospectionUnavailable} {
					if other != tt.want && errors.Is(err, other) {
						t.Fatalf("%v is also %v", err, other)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.Introspected || c.UserID != sub || c.SessionID != "ses_1" || c.Email != "ada@example.com" || c.Tier != "pro" {
				t.Fatalf("Caller = %+v", c)
			}
			if tt.noLimit != (c.MachineLimit == nil) || (tt.limit != nil && *c.MachineLimit != *tt.limit) {
				t.Fatalf("MachineLimit = %v", c.MachineLimit)
			}
		})
	}
}

func TestIntrospectionOnlyAfterTheOfflineCheck(t *testing.T) {
	iss := newIssuer(t, "k1")
	v := iss.verifier(t, introspecting(serviceKey, 0))
	forged := iss.token("k1", func(_, c map[string]any) { c["iss"] = "https://evil.example" })
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatal(err)
	}
	if n := iss.introHits.Load(); n != 0 {
		t.Fatalf("a forged token was introspected (%d requests)", n)
	}
}

func TestIntrospectionCache(t *testing.T) {
	ctx := context.Background()
	t.Run("answers are reused for CacheTTL", func(t *testing.T) {
		iss := newIssuer(t, "k1")
		v := iss.verifier(t, introspecting(serviceKey, 0)) // the default, 10 s
		tok := iss.token("k1", nil)
		for range 5 {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := iss.introHits.Load(); n != 1 {
			t.Fatalf("%d requests within the TTL, want 1", n)
		}
		iss.revoke("ses_1")
		iss.clock.Add(9 * time.Second)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("revoked, but still within the TTL: %v", err)
		}
		iss.clock.Add(time.Second)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrRevoked) {
			t.Fatalf("after the TTL: %v", err)
		}
		if n := iss.introHits.Load(); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrRevoked) || iss.introHits.Load() != 2 {
			t.Fatalf("the inactive answer is cached too: %v, %d requests", err, iss.introHits.Load())
		}
	})
	t.Run("a negative CacheTTL asks every time", func(t *testing.T) {
		iss := newIssuer(t, "k1")
		v := iss.verifier(t, introspecting(serviceKey, -1))
		tok := iss.token("k1", nil)
		for range 3 {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := iss.introHits.Load(); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("failures are not cached", func(t *testing.T) {
		iss := newIssuer(t, "k1")
		v := iss.verifier(t, introspecting(serviceKey, time.Minute))
		tok := iss.token("k1", nil)
		iss.setIntrospection(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) })
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrIntrospectionUnavailable) {
			t.Fatal(err)
		}
		iss.setIntrospection(nil)
		if c, err := v.Verify(ctx, tok); err != nil || !c.Introspected {
			t.Fatalf("once it is back: %+v, %v", c, err)
		}
	})
	t.Run("a hanging endpoint fails within the timeout", func(t *testing.T) {
		iss := newIssuer(t, "k1")
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		iss.setIntrospection(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		v := iss.verifier(t, func(c *verify.Config) {
			introspecting(serviceKey, 0)(c)
			c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
		})
		start := time.Now()
		if _, err := v.Verify(ctx, iss.token("k1", nil)); !errors.Is(err, verify.ErrIntrospectionUnavailable) {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
}
