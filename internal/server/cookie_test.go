package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/storetest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// rpcJSON calls a Connect procedure with a JSON body and the given headers.
func rpcJSON(t *testing.T, base, proc, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/panguard.auth.v1.AuthService/"+proc, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func sessionCookieOf(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == sessionCookieName {
			return c
		}
	}
	return nil
}

func TestTheDashboardSessionLivesOnlyInAnHttpOnlyCookieForRPCs(t *testing.T) {
	t.Parallel()
	_, a := startWithMail(t, storetest.SQLiteURL(t), "")
	base := startH2C(t, a)
	if _, err := drivers(t, base)["connect"].register(context.Background(), "cookie@example.com", "C", "password1"); err != nil {
		t.Fatal(err)
	}
	login := `{"email":"cookie@example.com","password":"password1"}`
	const cpv = "Connect-Protocol-Version"

	// Without asking: the token in the body, no cookie, as for every other client.
	_, body, h := rpcJSON(t, base, "Login", login, cpv, "1")
	if !strings.Contains(body, `"token":"ey`) || sessionCookieOf(t, h) != nil {
		t.Fatalf("plain login: %s %v", body, h)
	}
	// Asking: the cookie, and no token anywhere a script can read.
	status, body, h := rpcJSON(t, base, "Login", login, cpv, "1", sessionCookieHeader, "cookie")
	ck := sessionCookieOf(t, h)
	if status != 200 || strings.Contains(body, `"token"`) || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 || ck.Secure {
		t.Fatalf("cookie login: %d %s %+v", status, body, ck)
	}
	withCookie := func(extra ...string) []string {
		return append([]string{"Cookie", sessionCookieName + "=" + ck.Value}, extra...)
	}

	cases := []struct {
		name   string
		call   func() (int, string)
		status int
	}{
		{"Connect with the cookie and Connect-Protocol-Version", func() (int, string) {
			s, b, _ := rpcJSON(t, base, "Me", `{}`, withCookie(cpv, "1")...)
			return s, b
		}, 200},
		{"Connect with the cookie but no protocol header (a cross-site simple request)", func() (int, string) {
			s, b, _ := rpcJSON(t, base, "Me", `{}`, withCookie()...)
			return s, b
		}, 401},
		{"a cross-site form POST with the cookie", func() (int, string) {
			req, _ := http.NewRequest(http.MethodPost, base+"/panguard.auth.v1.AuthService/Me", strings.NewReader("a=b"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", sessionCookieName+"="+ck.Value)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode, string(b)
		}, 415},
		{"REST never reads the cookie", func() (int, string) {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/auth/me", nil)
			req.Header.Set("Cookie", sessionCookieName+"="+ck.Value)
			req.Header.Set(cpv, "1")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode, string(b)
		}, 401},
	}
	for _, c := range cases {
		if status, body := c.call(); status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
	}

	// gRPC-web (what a browser's gRPC-web client sends: X-Grpc-Web) works with the cookie.
	web := authv1connect.NewAuthServiceClient(http.DefaultClient, base, connect.WithGRPCWeb())
	req := connect.NewRequest(&authv1.MeRequest{})
	req.Header().Set("X-Grpc-Web", "1")
	req.Header().Set("Cookie", sessionCookieName+"="+ck.Value)
	if res, err := web.Me(context.Background(), req); err != nil || res.Msg.User.Email != "cookie@example.com" {
		t.Fatalf("gRPC-web with the cookie: %v", err)
	}
	// Over plain gRPC the header asks for nothing: the token stays in the body.
	grpc := authv1connect.NewAuthServiceClient(h2cClient(), base, connect.WithGRPC())
	lreq := connect.NewRequest(&authv1.LoginRequest{Email: "cookie@example.com", Password: "password1"})
	lreq.Header().Set(sessionCookieHeader, "cookie")
	if res, err := grpc.Login(context.Background(), lreq); err != nil || res.Msg.Token == "" || res.Header().Get("Set-Cookie") != "" {
		t.Fatalf("gRPC login asking for a cookie: %v", err)
	}

	// Sign-out clears the cookie, and the session is dead.
	status, _, h = rpcJSON(t, base, "Logout", `{}`, withCookie(cpv, "1")...)
	if gone := sessionCookieOf(t, h); status != 200 || gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
		t.Fatalf("logout: %d %+v", status, gone)
	}
	if status, _, _ := rpcJSON(t, base, "Me", `{}`, withCookie(cpv, "1")...); status != 401 {
		t.Fatalf("me after logout: %d", status)
	}
}

func TestTheSessionCookieIsSecureBehindAnHTTPSPublicURL(t *testing.T) {
	t.Parallel()
	cfg := testConfig(storetest.SQLiteURL(t))
	cfg.PublicURL = "https://auth.panguard.test"
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	rpcJSON(t, srv.URL, "Register", `{"email":"s@example.com","name":"S","password":"password1"}`, "Connect-Protocol-Version", "1")
	_, _, h := rpcJSON(t, srv.URL, "Login", `{"email":"s@example.com","password":"password1"}`, "Connect-Protocol-Version", "1", sessionCookieHeader, "cookie")
	if ck := sessionCookieOf(t, h); ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("cookie %+v", ck)
	}
}
