package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk/verify"
)

// testClock is a settable clock shared by the service and the verifier.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// startAtOwnURL serves the service at a URL known before it starts, so its public URL (the
// tokens' iss) is the one verifiers reach it at.
func startAtOwnURL(t *testing.T, dbURL string, clock *testClock) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := testConfig(dbURL)
	cfg.PublicURL, cfg.Now = base, clock.Now
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.store.Close() })
	return base, a
}

// The SDK's verifier against the live service: offline checks with the published keys,
// across a key rotation, and instant revocation through introspection.
func TestTheSDKVerifierAgainstTheLiveService(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
		base, a := startAtOwnURL(t, dbURL, clock)
		ctx := context.Background()
		key, _, err := a.auth.CreateServiceKey(ctx, "resource-server")
		if err != nil {
			t.Fatal(err)
		}
		offline, err := verify.New(verify.Config{Issuer: base, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		online, err := verify.New(verify.Config{Issuer: base, Now: clock.Now, Introspection: &verify.IntrospectionConfig{ServiceKey: key, CacheTTL: -1}})
		if err != nil {
			t.Fatal(err)
		}
		d := drivers(t, base)["rest-sdk"]
		tok, err := d.register(ctx, "verified@example.com", "V", "password1")
		if err != nil {
			t.Fatal(err)
		}
		me, _ := a.auth.Authenticate(ctx, tok)
		c, err := offline.Verify(ctx, tok)
		if err != nil || c.UserID != me.UserID || c.SessionID != me.SessionID || c.Introspected {
			t.Fatalf("offline: %+v %v", c, err)
		}
		c, err = online.Verify(ctx, tok)
		if err != nil || !c.Introspected || c.Email != "verified@example.com" || c.Tier != "solo" || c.MachineLimit == nil || *c.MachineLimit != 3 {
			t.Fatalf("online: %+v %v", c, err)
		}

		// Forgeries the service itself would refuse are refused by the verifier too.
		parts := strings.Split(tok, ".")
		pubs := a.auth.JWKS(ctx)
		hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": base, "aud": "panguard", "sub": me.UserID, "sid": me.SessionID,
			"iat": clock.Now().Unix(), "nbf": clock.Now().Unix(), "exp": clock.Now().Add(time.Hour).Unix()}).SignedString([]byte(pubs[0].Key))
		for name, forged := range map[string]string{
			"tampered payload":           parts[0] + "." + parts[1] + "x." + parts[2],
			"HS256 with the public key":  hs,
			"signature of another token": parts[0] + "." + parts[1] + "." + strings.Split(mustLogin(t, d, "verified@example.com"), ".")[2],
			"garbage":                    "not-a-token",
		} {
			if _, err := offline.Verify(ctx, forged); !errors.Is(err, verify.ErrInvalidToken) && !errors.Is(err, verify.ErrUnknownKey) {
				t.Errorf("%s: %v", name, err)
			}
		}

		// Rotation: a new key is published ten minutes before it signs; the verifier meets
		// its kid for the first time and fetches the keys again; old tokens keep working.
		k2, err := a.auth.RotateKeys(ctx, true)
		if err != nil || k2 == nil {
			t.Fatal(err)
		}
		clock.Advance(auth.KeyLeadTime + time.Second)
		tok2 := mustLogin(t, d, "verified@example.com")
		if kidOf(t, tok2) != k2.ID {
			t.Fatalf("token after rotation signed by %s, want %s", kidOf(t, tok2), k2.ID)
		}
		for _, tk := range []string{tok2, tok} {
			if _, err := offline.Verify(ctx, tk); err != nil {
				t.Fatalf("after rotation: %v", err)
			}
		}

		// Logout: still a well-signed token offline, revoked for the introspecting verifier.
		if err := d.logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := online.Verify(ctx, tok); !errors.Is(err, verify.ErrRevoked) {
			t.Fatalf("revoked token with introspection: %v", err)
		}
		if _, err := offline.Verify(ctx, tok); err != nil {
			t.Fatalf("offline verification of a revoked token (expected to pass until exp): %v", err)
		}

		// A service key that was revoked makes introspection fail closed.
		if err := a.auth.RevokeServiceKey(ctx, "resource-server"); err != nil {
			t.Fatal(err)
		}
		stale, _ := verify.New(verify.Config{Issuer: base, Now: clock.Now, Introspection: &verify.IntrospectionConfig{ServiceKey: key, CacheTTL: -1}})
		time.Sleep(5100 * time.Millisecond) // the service trusts a checked key for 5 s
		if _, err := stale.Verify(ctx, tok2); !errors.Is(err, verify.ErrServiceKeyRejected) {
			t.Fatalf("revoked service key: %v", err)
		}
	})
}

func mustLogin(t *testing.T, d driver, email string) string {
	t.Helper()
	tok, err := d.login(context.Background(), email, "password1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}
