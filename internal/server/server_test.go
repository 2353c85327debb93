package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk/rest"
)

// testConfig is a configuration with cheap hashing for tests; production minimums are
// enforced by loadConfig, which tests of the config cover separately.
func testConfig(dbURL string) Config {
	return Config{
		Addr: "127.0.0.1:0", DatabaseURL: dbURL, TokenTTL: 24 * time.Hour, LogLevel: "error",
		HashMemoryKiB: 1024, HashIterations: 1, HashParallelism: 1, HashQueueTimeout: 2 * time.Second, RequestTimeout: 10 * time.Second, OutboxLease: time.Minute, ShutdownTimeout: 5 * time.Second, TOTPIssuer: "Panguard", PublicURL: "http://panguard.test", MailFrom: "Panguard <no-reply@panguard.test>",
	}
}

// startServer runs the whole service over dbURL on an httptest server.
func startServer(t testing.TB, dbURL string) (*httptest.Server, *Server) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(context.Background(), testConfig(dbURL), log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); a.store.Close() })
	return srv, a
}

// startHTTP serves a's handler on an httptest server and returns its URL.
func startHTTP(t *testing.T, a *Server) string {
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func sdkClient(t *testing.T, base string) *rest.ClientWithResponses {
	c, err := rest.NewClientWithResponses(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bearer(token string) rest.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func TestAccountLifecycleThroughSDK(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		srv, _ := startServer(t, dbURL)
		c := sdkClient(t, srv.URL)
		ctx := context.Background()

		reg, err := c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: "  Alice@Example.com ", Name: " Alice Chen ", Password: "secureP@ssw0rd"})
		if err != nil || reg.JSON200 == nil || reg.JSON200.Data.Token == nil {
			t.Fatalf("register: %v %s", err, reg.Body)
		}
		u := reg.JSON200.Data.User
		if u.Email != "alice@example.com" || u.Name != "Alice Chen" || u.Tier != rest.Solo || !strings.HasPrefix(u.Id, "usr_") ||
			u.TrialEndsAt == nil || u.TrialEndsAt.Sub(u.CreatedAt.Time) != 14*24*time.Hour {
			t.Fatalf("registered user: %+v", u)
		}
		if d := reg.JSON200.Data.ExpiresAt.Sub(u.CreatedAt.Time); d != 24*time.Hour {
			t.Fatalf("expiresAt - createdAt = %v", d)
		}
		first := *reg.JSON200.Data.Token

		me, err := c.MeWithResponse(ctx, bearer(first))
		if err != nil || me.JSON200 == nil {
			t.Fatalf("me: %v %s", err, me.Body)
		}
		if p := me.JSON200.Data; p.Id != u.Id || *p.MachineLimit != 3 || p.TotpEnabled || p.Tier != rest.Solo {
			t.Fatalf("me: %+v", p)
		}

		login, err := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: "ALICE@example.com", Password: "secureP@ssw0rd"})
		if err != nil || login.JSON200 == nil {
			t.Fatalf("login: %v %s", err, login.Body)
		}
		env, err := login.JSON200.AsLoginEnvelope()
		if err != nil || !bool(env.Ok) || env.Data.Token == "" || env.Data.User.Id != u.Id {
			t.Fatalf("login envelope: %+v %v", env, err)
		}
		second := env.Data.Token

		out, err := c.LogoutWithResponse(ctx, bearer(first))
		if err != nil || out.JSON200 == nil || out.JSON200.Data.Message != "Logged out successfully" {
			t.Fatalf("logout: %v %s", err, out.Body)
		}
		if me, _ := c.MeWithResponse(ctx, bearer(first)); me.StatusCode() != 401 || me.JSON401 == nil || me.JSON401.Code != "unauthenticated" {
			t.Fatalf("me with logged-out token: %d %s", me.StatusCode(), me.Body)
		}
		if out, _ := c.LogoutWithResponse(ctx, bearer(first)); out.StatusCode() != 401 {
			t.Fatalf("logout twice: %d", out.StatusCode())
		}
		if me, _ := c.MeWithResponse(ctx, bearer(second)); me.StatusCode() != 200 {
			t.Fatalf("second session died: %d %s", me.StatusCode(), me.Body)
		}

		bad, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: "alice@example.com", Password: "wrong-password"})
		unknown, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: "bob@example.com", Password: "wrong-password"})
		if bad.StatusCode() != 401 || unknown.StatusCode() != 401 || !bytes.Equal(bad.Body, unknown.Body) {
			t.Fatalf("wrong password and unknown email differ: %s / %s", bad.Body, unknown.Body)
		}
	})
}

func TestDuplicateAndConcurrentRegistrationOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		srv, _ := startServer(t, dbURL)
		c := sdkClient(t, srv.URL)
		ctx := context.Background()
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		tokens, statuses := 0, map[int]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: "same@example.com", Name: "S", Password: "password1"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				statuses[r.StatusCode()]++
				if r.JSON200 != nil && r.JSON200.Data.Token != nil {
					tokens++
				}
			}()
		}
		wg.Wait()
		if statuses[200] != n || tokens != 1 {
			t.Fatalf("statuses %v, tokens %d: want all 200 and exactly one token", statuses, tokens)
		}
		dup, _ := c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: "SAME@example.com", Name: "Other", Password: "password2"})
		if dup.JSON200 == nil || dup.JSON200.Data.Token != nil || dup.JSON200.Data.User != nil || dup.JSON200.Data.Message == nil {
			t.Fatalf("duplicate: %s", dup.Body)
		}
		if l, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: "same@example.com", Password: "password2"}); l.StatusCode() != 401 {
			t.Fatalf("duplicate registration changed the password: %s", l.Body)
		}
	})
}

// rawCall sends a raw request and decodes the envelope.
func rawCall(t *testing.T, method, url, contentType, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: body is not a JSON envelope: %q", method, url, raw)
	}
	return res.StatusCode, env, res.Header
}

func TestBadInputGetsClear4xx(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	api := srv.URL + "/api/auth"
	const js = "application/json"
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
		hdr                             []string
	}{
		{"malformed JSON", "POST", "/login", js, `{"email":`, 400, "invalid_json", nil},
		{"empty body", "POST", "/login", js, ``, 400, "invalid_json", nil},
		{"null body", "POST", "/register", js, `null`, 400, "validation_failed", nil},
		{"array body", "POST", "/register", js, `[]`, 400, "invalid_json", nil},
		{"number for email", "POST", "/register", js, `{"email":5,"name":"a","password":"password1"}`, 400, "invalid_json", nil},
		{"object for password", "POST", "/login", js, `{"email":"a@b.co","password":{}}`, 400, "invalid_json", nil},
		{"number for totpCode", "POST", "/login", js, `{"email":"a@b.co","password":"password1","totpCode":123456}`, 400, "invalid_json", nil},
		{"boolean for backupCode", "POST", "/login", js, `{"email":"a@b.co","password":"password1","backupCode":true}`, 400, "invalid_json", nil},
		{"both codes", "POST", "/login", js, `{"email":"a@b.co","password":"password1","totpCode":"123456","backupCode":"abcdefghij"}`, 400, "validation_failed", nil},
		{"form content type", "POST", "/register", "application/x-www-form-urlencoded", `email=a`, 415, "unsupported_media_type", nil},
		{"text content type", "POST", "/login", "text/plain", `{}`, 415, "unsupported_media_type", nil},
		{"no content type with a JSON body", "POST", "/login", "", `{"email":"a@b.co","password":"password1"}`, 415, "unsupported_media_type", nil},
		{"no content type on register", "POST", "/register", "", `{"email":"a@b.co","name":"a","password":"password1"}`, 415, "unsupported_media_type", nil},
		{"text/plain with a JSON body", "POST", "/register", "text/plain;charset=UTF-8", `{"email":"a@b.co","name":"a","password":"password1"}`, 415, "unsupported_media_type", nil},
		{"form with a JSON body", "POST", "/login", "application/x-www-form-urlencoded", `{"email":"a@b.co","password":"password1"}`, 415, "unsupported_media_type", nil},
		{"multipart form", "POST", "/forgot-password", "multipart/form-data; boundary=x", "--x\r\n\r\n{}\r\n--x--", 415, "unsupported_media_type", nil},
		{"no content type on an authenticated write", "POST", "/totp/setup", "", `{}`, 415, "unsupported_media_type", []string{"Authorization", "Bearer x.y.z"}},
		{"oversized body", "POST", "/register", js, `{"name":"` + strings.Repeat("a", 70000) + `"}`, 413, "payload_too_large", nil},
		{"unknown path", "GET", "/nope", "", ``, 404, "not_found", nil},
		// Climbing out of /api/auth lands on the cleaned path; one under /api/ is still the API's 404
		// (one outside it is the dashboard's page: TestDashboardNeverShadowsTheAPI).
		{"unknown root path", "GET", "/../nope/../../api/etc/passwd", "", ``, 404, "not_found", nil},
		{"wrong method", "GET", "/login", "", ``, 405, "method_not_allowed", nil},
		{"wrong method on me", "DELETE", "/me", "", ``, 405, "method_not_allowed", nil},
		{"me without token", "GET", "/me", "", ``, 401, "unauthenticated", nil},
		{"me with basic auth", "GET", "/me", "", ``, 401, "unauthenticated", []string{"Authorization", "Basic YTpi"}},
		{"me with garbage bearer", "GET", "/me", "", ``, 401, "unauthenticated", []string{"Authorization", "Bearer x.y.z"}},
		{"logout without token", "POST", "/logout", "", ``, 401, "unauthenticated", nil},
		{"invalid UTF-8 name", "POST", "/register", js, "{\"email\":\"u@example.com\",\"name\":\"\xff\xfe\",\"password\":\"password1\"}", 400, "validation_failed", nil},
		{"NUL in name", "POST", "/register", js, `{"email":"u@example.com","name":"a\u0000b","password":"password1"}`, 400, "validation_failed", nil},
		{"NUL in login email (found by FuzzHTTP)", "POST", "/login", js, `{"email":"\u0000@b.co","password":"password1"}`, 400, "validation_failed", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, env, hdr := rawCall(t, tc.method, api+tc.path, tc.ctype, tc.body, tc.hdr...)
			if status != tc.status || env["ok"] != false || env["code"] != tc.code || env["error"] == "" {
				t.Fatalf("got %d %v, want %d %s", status, env, tc.status, tc.code)
			}
			if hdr.Get("Content-Type") != "application/json" || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers: %v", hdr)
			}
		})
	}
}

func TestRESTBodyOfUnknownLengthNeedsJSONType(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	send := func(method, path, ctype, body string) (int, map[string]any) {
		t.Helper()
		// A reader of unknown length makes the client send the body chunked.
		req, _ := http.NewRequest(method, srv.URL+"/api/auth"+path, io.MultiReader(strings.NewReader(body)))
		if req.ContentLength != 0 {
			t.Fatalf("request has a known length %d", req.ContentLength)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var env map[string]any
		if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, env
	}
	if st, env := send("POST", "/login", "", `{"email":"a@b.co","password":"password1"}`); st != 415 || env["code"] != "unsupported_media_type" {
		t.Fatalf("chunked body without a type: %d %v", st, env)
	}
	if st, env := send("POST", "/login", "application/json", `{"email":"a@b.co","password":"password1"}`); st != 401 || env["code"] != "invalid_credentials" {
		t.Fatalf("chunked JSON body: %d %v", st, env)
	}
	// An empty chunked body is no body: a bodyless call needs no Content-Type.
	if st, env := send("GET", "/me", "", ""); st != 401 || env["code"] != "unauthenticated" {
		t.Fatalf("empty chunked body: %d %v", st, env)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"defaults", map[string]string{}, true},
		{"short JWT secret", map[string]string{"PANGUARD_JWT_SECRET": "short"}, false},
		{"weak hashing", map[string]string{"PANGUARD_HASH_MEMORY_KIB": "1024"}, false},
		{"bad duration", map[string]string{"PANGUARD_TOKEN_TTL": "soon"}, false},
		{"tiny token lifetime", map[string]string{"PANGUARD_TOKEN_TTL": "1s"}, false},
		{"hash queue longer than the request deadline", map[string]string{"PANGUARD_HASH_QUEUE_TIMEOUT": "20s"}, false},
		{"bad trusted proxy", map[string]string{"PANGUARD_TRUSTED_PROXIES": "10.0.0.0/8,nope"}, false},
		{"trusted proxies", map[string]string{"PANGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}, true},
		{"negative rate limit", map[string]string{"PANGUARD_RATE_LIMIT": "-1"}, false},
		{"rate limit off", map[string]string{"PANGUARD_RATE_LIMIT": "0"}, true},
		{"short encryption key", map[string]string{"PANGUARD_ENCRYPTION_KEY": "abcd"}, false},
		{"hex encryption key", map[string]string{"PANGUARD_ENCRYPTION_KEY": strings.Repeat("ab", 32)}, true},
		{"previous encryption key during a rotation", map[string]string{"PANGUARD_ENCRYPTION_KEY": strings.Repeat("ab", 32), "PANGUARD_ENCRYPTION_KEY_PREVIOUS": strings.Repeat("cd", 32)}, true},
		{"short previous encryption key", map[string]string{"PANGUARD_ENCRYPTION_KEY": strings.Repeat("ab", 32), "PANGUARD_ENCRYPTION_KEY_PREVIOUS": "abcd"}, false},
		{"previous encryption key without the new one", map[string]string{"PANGUARD_ENCRYPTION_KEY_PREVIOUS": strings.Repeat("cd", 32)}, false},
		{"previous encryption key equal to the new one", map[string]string{"PANGUARD_ENCRYPTION_KEY": strings.Repeat("ab", 32), "PANGUARD_ENCRYPTION_KEY_PREVIOUS": strings.Repeat("AB", 32)}, false},
		{"public URL not http", map[string]string{"PANGUARD_PUBLIC_URL": "ftp://x"}, false},
		{"TLS cert without key", map[string]string{"PANGUARD_TLS_CERT_FILE": "/x.pem"}, false},
		{"blank product name", map[string]string{"PANGUARD_PRODUCT_NAME": "  "}, false},
		{"product name over two lines", map[string]string{"PANGUARD_PRODUCT_NAME": "Acme\nBcc: x@example.com"}, false},
		{"no outbox attempts", map[string]string{"PANGUARD_OUTBOX_MAX_ATTEMPTS": "0"}, false},
		{"one outbox attempt", map[string]string{"PANGUARD_OUTBOX_MAX_ATTEMPTS": "1"}, true},
		{"product name", map[string]string{"PANGUARD_PRODUCT_NAME": "Acme Cloud"}, true},
		{"support address", map[string]string{"PANGUARD_SUPPORT_EMAIL": "help@acme.example"}, true},
		{"support address with a display name", map[string]string{"PANGUARD_SUPPORT_EMAIL": "Help <help@acme.example>"}, false},
		{"support address that is not one", map[string]string{"PANGUARD_SUPPORT_EMAIL": "help"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(tc.env)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.name == "defaults" && (c.Addr != ":3000" || c.TokenTTL != 24*time.Hour || c.HashMemoryKiB != 19456 || c.ProductName != "Panguard") {
				t.Fatalf("defaults: %+v", c)
			}
		})
	}
}
