package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/mailtest"

	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk/rest"
)

// startWithMail runs the service with its outbox sender, delivering to smtpURL.
func startWithMail(t *testing.T, dbURL, smtpURL string) (string, *Server) {
	base, a, _ := startWithMailStop(t, dbURL, smtpURL)
	return base, a
}

// startWithMailStop is startWithMail that also returns a function stopping the sender and
// waiting until it has stopped: after it, no email from this instance is in flight.
func startWithMailStop(t *testing.T, dbURL, smtpURL string) (string, *Server, func()) {
	t.Helper()
	cfg := testConfig(dbURL)
	cfg.SMTPURL = smtpURL
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := a.RunBackground(ctx)
	srv := startHTTP(t, a)
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(func() { stop(); a.store.Close() })
	return srv, a, stop
}

// waitOutboxIdle waits until a's outbox has nothing pending: every queued request has been
// resolved and every email handed to the SMTP server.
func waitOutboxIdle(t *testing.T, a *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, failed, err := a.store.OutboxCounts(context.Background())
		if err != nil || failed != 0 {
			t.Fatalf("outbox: %d failed, %v", failed, err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d pending entries", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countRows runs a COUNT query on a's database.
func countRows(t *testing.T, a *Server, query string) (n int) {
	t.Helper()
	if err := a.store.SQLDB().QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	resetTokenRE  = regexp.MustCompile(`rst_[0-9a-f]{64}`)
	verifyTokenRE = regexp.MustCompile(`vfy_[0-9a-f]{64}`)
	emailTokenRE  = regexp.MustCompile(`eml_[0-9a-f]{64}`)
)

func TestPasswordResetByEmail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		smtp, smtpURL := mailtest.StartSMTP(t)
		base, a := startWithMail(t, dbURL, smtpURL)
		c := sdkClient(t, base)
		ctx := context.Background()
		reg, _ := c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: "reset@example.com", Name: "Reset <b>Me</b>", Password: "oldpassword"})
		old := *reg.JSON200.Data.Token

		known, _ := c.ForgotPasswordWithResponse(ctx, rest.ForgotPasswordJSONRequestBody{Email: "reset@example.com"})
		unknown, _ := c.ForgotPasswordWithResponse(ctx, rest.ForgotPasswordJSONRequestBody{Email: "ghost@example.com"})
		if known.StatusCode() != 200 || !bytes.Equal(known.Body, unknown.Body) {
			t.Fatalf("known and unknown differ: %s / %s", known.Body, unknown.Body)
		}
		if known.JSON200.Data.Message != "If an account with that email exists, a reset link has been sent." {
			t.Fatalf("message: %s", known.Body)
		}
		msgs := mailtest.Wait(t, smtp, 2)
		// Once both requests are resolved, only the known address has emails queued: its
		// verification email and the reset link.
		waitOutboxIdle(t, a)
		if n := countRows(t, a, "SELECT COUNT(*) FROM outbox WHERE kind = 'email'"); n != 2 {
			t.Fatalf("%d emails queued, want only the known address's two", n)
		}
		m := msgs[0]
		if !resetTokenRE.MatchString(m.Text) {
			m = msgs[1]
		}
		if m.To != "<reset@example.com>" && m.To != "reset@example.com" {
			t.Fatalf("to %q", m.To)
		}
		if m.Subject != "Reset your Panguard password" || strings.Contains(m.HTML, "<b>Me</b>") {
			t.Fatalf("subject %q / html not escaped: %s", m.Subject, m.HTML)
		}
		token := resetTokenRE.FindString(m.Text)
		if token == "" || !strings.Contains(m.Text, "http://panguard.test/reset-password?token="+token) {
			t.Fatalf("no link in %q", m.Text)
		}

		r, _ := c.ResetPasswordWithResponse(ctx, rest.ResetPasswordJSONRequestBody{Token: token, NewPassword: "newpassword"})
		if r.JSON200 == nil || r.JSON200.Data.Message != "Password reset successfully" {
			t.Fatalf("reset: %d %s", r.StatusCode(), r.Body)
		}
		again, _ := c.ResetPasswordWithResponse(ctx, rest.ResetPasswordJSONRequestBody{Token: token, NewPassword: "newpassword2"})
		if again.StatusCode() != 400 || again.JSON400.Code != "invalid_reset_token" || again.JSON400.Error != "Reset token is invalid or has expired" {
			t.Fatalf("reuse: %d %s", again.StatusCode(), again.Body)
		}
		if me, _ := c.MeWithResponse(ctx, bearer(old)); me.StatusCode() != 401 {
			t.Fatalf("old session alive after reset: %d", me.StatusCode())
		}
		l, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: "reset@example.com", Password: "newpassword"})
		if l.StatusCode() != 200 {
			t.Fatalf("login with new password: %s", l.Body)
		}
	})
}

func TestQueuedEmailSurvivesACrash(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		// First process: answers forgot-password but its sender never runs (it "crashes").
		first, _ := startServer(t, dbURL)
		c := sdkClient(t, first.URL)
		ctx := context.Background()
		c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: "crash@example.com", Name: "C", Password: "password1"})
		if r, _ := c.ForgotPasswordWithResponse(ctx, rest.ForgotPasswordJSONRequestBody{Email: "crash@example.com"}); r.StatusCode() != 200 {
			t.Fatalf("forgot: %s", r.Body)
		}
		first.Close()
		// A new process on the same database delivers what was acknowledged.
		smtp, smtpURL := mailtest.StartSMTP(t)
		startWithMail(t, dbURL, smtpURL)
		// The verification email of the registration and the reset email.
		msgs := mailtest.Wait(t, smtp, 2)
		if !resetTokenRE.MatchString(msgs[0].Text + msgs[1].Text) {
			t.Fatalf("no delivered mail has a reset token: %q", msgs)
		}
	})
}

func TestTwoSendersDeliverEachEmailOnce(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	smtp, smtpURL := mailtest.StartSMTP(t)
	// Queue the work with no sender running, then start two replicas' senders at once.
	first, _ := startServer(t, dbURL)
	c := sdkClient(t, first.URL)
	ctx := context.Background()
	const n = 24
	for i := range n {
		email := fmt.Sprintf("u%d@example.com", i)
		c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: email, Name: "U", Password: "password1"})
		c.ForgotPasswordWithResponse(ctx, rest.ForgotPasswordJSONRequestBody{Email: email})
	}
	var wg sync.WaitGroup
	var stops [2]func()
	for i := range stops {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, stops[i] = startWithMailStop(t, dbURL, smtpURL) }()
	}
	wg.Wait()
	// Each account gets its verification email and its reset email.
	msgs := mailtest.Wait(t, smtp, 2*n)
	// With both senders stopped nothing is in flight: what the server holds is all there is.
	for _, stop := range stops {
		stop()
	}
	seen := map[string]int{}
	for _, m := range append(msgs, mailtest.DecodeAll(t, smtp.Messages())...) {
		kind := "verify"
		if resetTokenRE.MatchString(m.Text) {
			kind = "reset"
		}
		seen[m.To+" "+kind]++
	}
	if len(seen) != 2*n {
		t.Fatalf("%d distinct (recipient, email) pairs, want %d", len(seen), 2*n)
	}
	for to, k := range seen {
		if k != 1 {
			t.Fatalf("%s got %d emails", to, k)
		}
	}
}

// TestTemplateOverridesAndBrandingReachDeliveredEmails: an operator's template and product
// name are what the SMTP server receives, user data escaped.
func TestTemplateOverridesAndBrandingReachDeliveredEmails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	override := `<p>Welcome aboard, {{.Name}}!</p><p><a href="{{.Link}}">Verify</a> — {{.Product}}, {{.Support}}</p>`
	if err := os.WriteFile(filepath.Join(dir, "verify_email.html"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	smtp, smtpURL := mailtest.StartSMTP(t)
	cfg := testConfig(storetest.SQLiteURL(t))
	cfg.SMTPURL, cfg.TemplatesDir, cfg.ProductName, cfg.SupportEmail = smtpURL, dir, "Acme Cloud", "help@acme.example"
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := a.RunBackground(ctx)
	t.Cleanup(func() { cancel(); <-done; a.store.Close() })
	c := sdkClient(t, startHTTP(t, a))
	if reg, err := c.RegisterWithResponse(context.Background(), rest.RegisterJSONRequestBody{Email: "brand@example.com", Name: "<b>Eve</b>", Password: "password1"}); err != nil || reg.StatusCode() != 200 {
		t.Fatalf("register: %v", err)
	}
	m := mailtest.Wait(t, smtp, 1)[0]
	if m.Subject != "Verify your Acme Cloud email address" {
		t.Fatalf("subject %q", m.Subject)
	}
	if !strings.Contains(m.HTML, "Welcome aboard, &lt;b&gt;Eve&lt;/b&gt;!") || !strings.Contains(m.HTML, "— Acme Cloud, help@acme.example") ||
		!verifyTokenRE.MatchString(m.HTML) {
		t.Fatalf("HTML is not the override, escaped: %s", m.HTML)
	}
	// The plain-text part is still the embedded one, branded.
	if !strings.Contains(m.Text, "Welcome to Acme Cloud.") || !strings.Contains(m.Text, "Questions: write to help@acme.example") {
		t.Fatalf("text: %s", m.Text)
	}
}

// TestBrokenTemplatesStopTheStart: New refuses an override it cannot parse or run, or a file
// that is no template, naming the file (and line) before it touches the database.
func TestBrokenTemplatesStopTheStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, content, want string }{
		{"password_reset.txt", "Hello {{.Name}},\n{{if .Link}}\n", "password_reset.txt:3:"},
		{"password_reset.html", "<p>\n{{.Nope}}</p>", "password_reset.html:2:"},
		{"password-reset.txt", "x", "password-reset.txt: not a known template"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig("sqlite://" + filepath.Join(t.TempDir(), "never-created.db"))
		cfg.TemplatesDir = dir
		_, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tc.want)) {
			t.Fatalf("%s: %v, want an error naming %s", tc.file, err, filepath.Join(dir, tc.want))
		}
		if _, err := os.Stat(strings.TrimPrefix(cfg.DatabaseURL, "sqlite://")); !os.IsNotExist(err) {
			t.Fatalf("the database was opened: %v", err)
		}
	}
}
