package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/mail"
	"panguard.ai/auth/internal/outbox"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

// inbox records delivered messages.
type inbox struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail error
}

func (b *inbox) Send(_ context.Context, m mail.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.msgs = append(b.msgs, m)
	return nil
}

// take returns and forgets the messages delivered so far.
func (b *inbox) take() []mail.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs
	b.msgs = nil
	return m
}

func newSender(e env, box *inbox) *outbox.Sender {
	return outbox.New(outbox.Config{
		Store: e.store.(*store.Store), Now: e.clock.Now, MaxAttempts: 3,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handlers: map[string]outbox.Handler{
			auth.OutboxResetRequest: e.svc.HandleResetRequest,
			auth.OutboxEmail:        mail.Handler(box),
		},
	})
}

// drain runs the sender until nothing is due.
func drain(t *testing.T, s *outbox.Sender) {
	t.Helper()
	for range 10 {
		n, err := s.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("outbox never drained")
}

// settle delivers what is queued so far (a new account's verification email, a notice) and
// forgets it, so a test counts only the emails that follow.
func settle(t *testing.T, s *outbox.Sender, box *inbox) {
	t.Helper()
	drain(t, s)
	box.take()
}

var tokenRE = regexp.MustCompile(`rst_[0-9a-f]{64}`)

func tokenIn(t *testing.T, m mail.Message) string {
	t.Helper()
	tok := tokenRE.FindString(m.Text)
	if tok == "" || !strings.Contains(m.HTML, tok) {
		t.Fatalf("no reset token in both parts of %q", m.Text)
	}
	return tok
}

func TestForgotPasswordSendsOneEmailOnlyToAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		register(t, e, "known@example.com", "password1")
		settle(t, s, box)
		ctx := context.Background()
		if err := e.svc.ForgotPassword(ctx, " KNOWN@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ForgotPassword(ctx, "unknown@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		msgs := box.take()
		if len(msgs) != 1 || msgs[0].To != "known@example.com" || msgs[0].Subject != "Reset your Panguard password" {
			t.Fatalf("messages: %+v", msgs)
		}
		if !strings.Contains(msgs[0].Text, "http://localhost:3000/reset-password?token=rst_") {
			t.Fatalf("link missing: %s", msgs[0].Text)
		}
		tokenIn(t, msgs[0])
		wantCode(t, e.svc.ForgotPassword(ctx, "not-an-email"), auth.CodeValidation)
	})
}

func TestResetPasswordRules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		reg := register(t, e, "reset@example.com", "password1")
		settle(t, s, box)
		other, _ := e.svc.Login(ctx, auth.LoginInput{Email: "reset@example.com", Password: "password1"})
		request := func() string {
			t.Helper()
			settle(t, s, box) // the notice of an earlier reset
			if err := e.svc.ForgotPassword(ctx, "reset@example.com"); err != nil {
				t.Fatal(err)
			}
			drain(t, s)
			msgs := box.take()
			if len(msgs) != 1 {
				t.Fatalf("%d emails", len(msgs))
			}
			return tokenIn(t, msgs[0])
		}

		first := request()
		second := request()
		wantCode(t, e.svc.ResetPassword(ctx, first, "newpassword1"), auth.CodeInvalidResetToken) // voided by the newer request
		wantCode(t, e.svc.ResetPassword(ctx, second, "short"), auth.CodeValidation)
		wantCode(t, e.svc.ResetPassword(ctx, "rst_nope", "newpassword1"), auth.CodeInvalidResetToken)
		wantCode(t, e.svc.ResetPassword(ctx, "garbage", "newpassword1"), auth.CodeInvalidResetToken)
		if err := e.svc.ResetPassword(ctx, second, "newpassword1"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.ResetPassword(ctx, second, "newpassword2"), auth.CodeInvalidResetToken) // single use

		for _, tok := range []string{reg.Token, other.Token} {
			_, err := me(e, ctx, tok)
			wantCode(t, err, auth.CodeUnauthenticated)
		}
		_, err := e.svc.Login(ctx, auth.LoginInput{Email: "reset@example.com", Password: "password1"})
		wantCode(t, err, auth.CodeInvalidCredentials)
		if _, err := e.svc.Login(ctx, auth.LoginInput{Email: "reset@example.com", Password: "newpassword1"}); err != nil {
			t.Fatalf("new password: %v", err)
		}

		expiring := request()
		e.clock.Advance(time.Hour + time.Second)
		wantCode(t, e.svc.ResetPassword(ctx, expiring, "newpassword3"), auth.CodeInvalidResetToken)
	})
}

func TestDuplicateRegistrationEmailIsThrottled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		register(t, e, "holder@example.com", "password1")
		settle(t, s, box)
		attempt := func() {
			r, err := e.svc.Register(ctx, auth.RegisterInput{Email: "holder@example.com", Name: "<script>alert(1)</script>", Password: "password2"})
			if err != nil || r.Created {
				t.Fatalf("duplicate: %+v %v", r, err)
			}
		}
		attempt()
		attempt()
		drain(t, s)
		msgs := box.take()
		if len(msgs) != 1 || msgs[0].To != "holder@example.com" || !strings.Contains(msgs[0].Subject, "tried to create") {
			t.Fatalf("want one notice, got %+v", msgs)
		}
		tokenIn(t, msgs[0])
		e.clock.Advance(14 * time.Minute)
		attempt()
		drain(t, s)
		if n := len(box.take()); n != 0 {
			t.Fatalf("%d notices inside 15 minutes", n)
		}
		e.clock.Advance(time.Minute)
		attempt()
		drain(t, s)
		if n := len(box.take()); n != 1 {
			t.Fatalf("%d notices after 15 minutes, want 1", n)
		}
	})
}

func TestTemplatesEscapeUserData(t *testing.T) {
	t.Parallel()
	m, err := mail.Render(auth.Email{To: "a@example.com", Template: auth.TemplatePasswordReset, Name: `<script>alert("x")</script>`, Link: "http://x/reset-password?token=rst_1", ExpiresInMinutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Fatalf("name not escaped in HTML: %s", m.HTML)
	}
	if _, err := mail.Render(auth.Email{Template: "nope"}); err == nil {
		t.Fatal("unknown template rendered")
	}
}

func TestOutboxKeepsPermanentFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{fail: errors.New("smtp: connection refused")}
		s := newSender(e, box)
		register(t, e, "fail@example.com", "password1")
		if err := e.svc.ForgotPassword(context.Background(), "fail@example.com"); err != nil {
			t.Fatal(err)
		}
		for range 6 {
			drain(t, s)
			e.clock.Advance(time.Hour) // past any backoff
		}
		st := e.store.(*store.Store)
		pending, failed, err := st.OutboxCounts(context.Background())
		// Two emails: the verification email of the new account and the reset link.
		if err != nil || pending != 0 || failed != 2 {
			t.Fatalf("pending %d failed %d err %v: want the emails kept as failed", pending, failed, err)
		}
		if got := s.Stats(); got.Failed != 2 || got.Retried != 4 {
			t.Fatalf("stats %+v", got)
		}
	})
}
