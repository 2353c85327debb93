package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/mailtest"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNoSecretInLogsOrMetrics(t *testing.T) {
	t.Parallel()
	smtp, smtpURL := mailtest.StartSMTP(t)
	logs := &syncBuffer{}
	cfg := testConfig(storetest.SQLiteURL(t))
	cfg.SMTPURL, cfg.LogLevel = smtpURL, "debug"
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := a.RunBackground(ctx)
	t.Cleanup(func() { cancel(); <-done; a.store.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)

	c, _ := sdk.New(srv.URL)
	const email, password, newPassword = "secret-keeper@example.com", "Pa55-word-never-logged", "An0ther-never-logged"
	var secrets []string
	reg, err := c.Register(ctx, email, "Keeper", password)
	if err != nil {
		t.Fatal(err)
	}
	u := c.WithToken(reg.Session.Token)
	setup, err := u.SetupTotp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verify, _ := oathtest.TOTP(setup.Secret, time.Now(), -1)
	if err := u.VerifyTotp(ctx, verify); err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(ctx, email, password, sdk.WithBackupCode(setup.BackupCodes[0]))
	if err != nil {
		t.Fatal(err)
	}
	c.Login(ctx, email, "wrong-"+password)                    // a failure, logged and counted
	c.Login(ctx, email, password, sdk.WithTOTPCode("000000")) // another
	c.Register(ctx, email, "Dup", password)                   // duplicate: an email
	if _, err := c.ForgotPassword(ctx, email); err != nil {
		t.Fatal(err)
	}
	// The verification email, the duplicate-registration notice and the reset email.
	msgs := mailtest.Wait(t, smtp, 3)
	var resetTokens []string
	for _, m := range msgs {
		if tok := resetTokenRE.FindString(m.Text); tok != "" {
			resetTokens = append(resetTokens, tok)
		}
		if tok := verifyTokenRE.FindString(m.Text); tok != "" {
			secrets = append(secrets, tok)
		}
	}
	// A newer link voids older ones: exactly one of them is live.
	live := 0
	for _, tok := range resetTokens {
		if c.ResetPassword(ctx, tok, newPassword) == nil {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d of %d reset links worked, want 1", live, len(resetTokens))
	}
	secrets = append(secrets, password, newPassword, reg.Session.Token, s.Token, setup.Secret, verify)
	secrets = append(secrets, setup.BackupCodes...)
	secrets = append(secrets, resetTokens...)

	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(res.Body)
	res.Body.Close()
	logText := logs.String()
	if !strings.Contains(logText, `"client_ip":"127.0.0.1"`) {
		t.Fatalf("the access log does not name the client:\n%.1500s", logText)
	}
	if !strings.Contains(logText, `"request_id"`) || !strings.Contains(string(metricsText), `panguard_requests_total{operation="Login",status="200",transport="rest"}`) {
		t.Fatalf("expected request logs and metrics; logs:\n%.2000s\nmetrics:\n%.2000s", logText, metricsText)
	}
	if !strings.Contains(string(metricsText), `panguard_failures_total{operation="Login",reason="invalid_credentials"} 1`) {
		t.Fatalf("login failure not counted by reason:\n%s", metricsText)
	}
	for _, secret := range secrets {
		if secret == "" {
			t.Fatal("a secret was not captured")
		}
		if strings.Contains(logText, secret) {
			t.Errorf("secret %.12s… appears in the logs", secret)
		}
		if strings.Contains(string(metricsText), secret) {
			t.Errorf("secret %.12s… appears in the metrics", secret)
		}
	}
}

func TestHealthReadinessAndRequestID(t *testing.T) {
	t.Parallel()
	srv, a := startServer(t, storetest.SQLiteURL(t))
	get := func(path string, hdr ...string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header, string(b)
	}
	if st, _, _ := get("/healthz"); st != 200 {
		t.Fatalf("healthz %d", st)
	}
	if st, _, b := get("/readyz"); st != 200 || !strings.Contains(b, "ready") {
		t.Fatalf("readyz %d %s", st, b)
	}
	if _, h, _ := get("/api/auth/me", "X-Request-Id", "trace-abc.123"); h.Get("X-Request-Id") != "trace-abc.123" {
		t.Fatalf("request id not echoed: %v", h)
	}
	if _, h, _ := get("/api/auth/me", "X-Request-Id", "bad id with spaces and {braces}"); len(h.Get("X-Request-Id")) != 16 {
		t.Fatalf("a bad request id should be replaced: %q", h.Get("X-Request-Id"))
	}
	a.draining.Store(true)
	if st, _, b := get("/readyz"); st != 503 || !strings.Contains(b, "draining") {
		t.Fatalf("readyz while draining: %d %s", st, b)
	}
	a.store.Close()
	a.draining.Store(false)
	if st, _, _ := get("/readyz"); st != 503 {
		t.Fatalf("readyz with the database closed: %d", st)
	}
	if st, _, _ := get("/healthz"); st != 200 {
		t.Fatalf("healthz must stay up: %d", st)
	}
	// An unreachable database is a 503 to retry, never a 500.
	st, env, hdr := rawCall(t, "POST", srv.URL+"/api/auth/login", "application/json", `{"email":"a@example.com","password":"password1"}`)
	if st != 503 || env["code"] != "unavailable" || hdr.Get("Retry-After") == "" {
		t.Fatalf("login with the database closed: %d %v", st, env)
	}
}

// TestOperationsPortServesProfilesAndMetrics: PANGUARD_METRICS_ADDR's handler answers the
// pprof index and profiles, and the metrics everywhere else.
func TestOperationsPortServesProfilesAndMetrics(t *testing.T) {
	h := operationsHandler(newMetrics())
	for _, c := range []struct{ path, want string }{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/heap?debug=1", "heap profile"},
		{"/debug/pprof/block?debug=1", "contention"},
		{"/metrics", "go_goroutines"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("GET %s: %d, no %q in %.200s", c.path, rec.Code, c.want, rec.Body)
		}
	}
}
