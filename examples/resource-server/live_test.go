package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"panguard.ai/auth/internal/servertest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
	"panguard.ai/auth/sdk/verify"
)

// The example against the real auth service, in-process: a token from a login is accepted,
// its owner shown; after logout the introspecting variant refuses it.
func TestResourceServerAgainstTheRealAuthService(t *testing.T) {
	t.Parallel()
	cfg := servertest.Config(storetest.SQLiteURL(t))
	authSrv, err := servertest.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(authSrv.Close)
	ctx := context.Background()
	key, _, err := authSrv.Auth().CreateServiceKey(ctx, "resource-server")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := sdk.New(authSrv.URL)
	reg, err := c.Register(ctx, "ada@example.com", "Ada", "correct horse")
	if err != nil || reg.Session == nil {
		t.Fatalf("register: %v", err)
	}
	tok := reg.Session.Token
	// The tokens' iss is the auth service's public URL; here it is reached at another address.
	v, err := verify.New(verify.Config{
		Issuer: cfg.PublicURL, JWKSURL: authSrv.URL + "/.well-known/jwks.json",
		Introspection: &verify.IntrospectionConfig{URL: authSrv.URL + "/api/auth/introspect", ServiceKey: key, CacheTTL: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(newHandler(v))
	t.Cleanup(rs.Close)

	status, body := get(t, rs.URL+"/whoami", tok)
	data, _ := body["data"].(map[string]any)
	if status != 200 || data["userId"] != reg.Session.User.ID || data["email"] != "ada@example.com" || data["tier"] != "solo" || data["introspected"] != true {
		t.Fatalf("whoami: %d %v", status, body)
	}
	if status, body := get(t, rs.URL+"/whoami", ""); status != 401 || body["code"] != "unauthenticated" {
		t.Fatalf("no token: %d %v", status, body)
	}
	if err := c.WithToken(tok).Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, rs.URL+"/whoami", tok); status != 401 || body["code"] != "unauthenticated" {
		t.Fatalf("after logout: %d %v", status, body)
	}
}
