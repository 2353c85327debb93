package auth_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/mail"
	"panguard.ai/auth/internal/storetest"
)

// Subjects of the emails these tests look for.
const (
	subjVerify        = "Verify your Panguard email address"
	subjConfirmChange = "Confirm your new Panguard email address"
	subjChangeNotice  = "A change of your Panguard email address was requested"
	subjEmailChanged  = "Your Panguard email address was changed"
)

var (
	verifyTokenRE      = regexp.MustCompile(`vfy_[0-9a-f]{64}`)
	emailChangeTokenRE = regexp.MustCompile(`eml_[0-9a-f]{64}`)
)

// only returns the messages with this subject sent to to.
func only(msgs []mail.Message, subject, to string) []mail.Message {
	var out []mail.Message
	for _, m := range msgs {
		if m.Subject == subject && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// linkIn returns the token of the one link of path in both parts of m.
func linkIn(t *testing.T, m mail.Message, path string, re *regexp.Regexp) string {
	t.Helper()
	tok := re.FindString(m.Text)
	if tok == "" || !strings.Contains(m.Text, "http://localhost:3000/"+path+"?token="+tok) || !strings.Contains(m.HTML, tok) {
		t.Fatalf("no %s link in both parts of %q", path, m.Text)
	}
	return tok
}

// oneLink drains the outbox and returns the token of the single email with subject to to.
func oneLink(t *testing.T, box *inbox, sender func(), subject, to, path string, re *regexp.Regexp) string {
	t.Helper()
	sender()
	got := only(box.take(), subject, to)
	if len(got) != 1 {
		t.Fatalf("%d emails %q to %s, want 1", len(got), subject, to)
	}
	return linkIn(t, got[0], path, re)
}

// hasEvent reports whether the caller's activity holds an event of typ, returning its detail.
func hasEvent(t *testing.T, e env, token, typ string) (map[string]string, bool) {
	t.Helper()
	page, err := e.svc.ListActivity(context.Background(), principal(t, e, token), auth.ActivityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range page.Events {
		if ev.Type == typ {
			return ev.Detail, true
		}
	}
	return nil, false
}

func TestRegistrationSendsAVerifyLinkThatWorksOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		reg := register(t, e, "verify@example.com", "password1")
		if reg.User.EmailVerified {
			t.Fatal("a new account is verified before following its link")
		}
		tok := oneLink(t, box, func() { drain(t, s) }, subjVerify, "verify@example.com", "verify-email", verifyTokenRE)

		steps := []struct {
			name         string
			token        string
			want         auth.Code
			wantVerified bool
		}{
			{"the link marks the address verified", tok, "", true},
			{"the link works once", tok, auth.CodeInvalidToken, true},
		}
		for _, st := range steps {
			err := e.svc.VerifyEmail(ctx, st.token)
			if st.want == "" && err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if st.want != "" {
				wantCode(t, err, st.want)
			}
			p, err := me(e, ctx, reg.Token)
			if err != nil || p.EmailVerified != st.wantVerified {
				t.Fatalf("%s: emailVerified %v (%v), want %v", st.name, p.EmailVerified, err, st.wantVerified)
			}
		}
		if _, ok := hasEvent(t, e, reg.Token, auth.EventEmailVerified); !ok {
			t.Fatal("no email_verified event")
		}
	})
}

func TestVerifyEmailRefusesTokensThatAreNotLiveVerifyLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		run := func() { drain(t, s) }
		ctx := context.Background()
		early := register(t, e, "early@example.com", "password1")
		run()
		box.take() // the verification email
		if err := e.svc.ForgotPassword(ctx, "early@example.com"); err != nil {
			t.Fatal(err)
		}
		resetLink := oneLink(t, box, run, "Reset your Panguard password", "early@example.com", "reset-password", tokenRE)
		if err := e.svc.ChangeEmail(ctx, principal(t, e, early.Token), auth.ChangeEmailInput{NewEmail: "moved@example.com", Reauth: pw("password1")}); err != nil {
			t.Fatal(err)
		}
		emlLink := oneLink(t, box, run, subjConfirmChange, "moved@example.com", "confirm-email", emailChangeTokenRE)

		cases := []struct {
			name  string
			token string
		}{
			{"a reset token", resetLink},
			{"an email-change token", emlLink},
			{"an email-change token renamed as a verify token", "vfy_" + strings.TrimPrefix(emlLink, "eml_")},
			{"an unknown verify token", "vfy_" + strings.Repeat("0", 64)},
			{"garbage", "not-a-token"},
			{"empty", ""},
			{"an overlong token", "vfy_" + strings.Repeat("a", 200)},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, e.svc.VerifyEmail(ctx, c.token), auth.CodeInvalidToken)
			})
		}
		// The email-change link was not spent by the attempts above.
		if _, err := e.svc.ConfirmEmail(ctx, emlLink); err != nil {
			t.Fatalf("email-change link after being tried as a verify link: %v", err)
		}
	})
}

func TestVerifyLinkExpiresAfter24Hours(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		register(t, e, "punctual@example.com", "password1")
		register(t, e, "late@example.com", "password1")
		drain(t, s)
		msgs := box.take()
		links := map[string]string{}
		for _, to := range []string{"punctual@example.com", "late@example.com"} {
			got := only(msgs, subjVerify, to)
			if len(got) != 1 {
				t.Fatalf("%d verification emails to %s", len(got), to)
			}
			links[to] = linkIn(t, got[0], "verify-email", verifyTokenRE)
		}
		steps := []struct {
			name    string
			advance time.Duration
			email   string
			want    auth.Code
		}{
			{"a second before 24 hours the link works", 24*time.Hour - time.Second, "punctual@example.com", ""},
			{"at 24 hours it has expired", time.Second, "late@example.com", auth.CodeInvalidToken},
		}
		for _, st := range steps {
			e.clock.Advance(st.advance)
			err := e.svc.VerifyEmail(ctx, links[st.email])
			if auth.CodeOf(err) != st.want && !(st.want == "" && err == nil) {
				t.Fatalf("%s: error %v, want %q", st.name, err, st.want)
			}
			p, err := me(e, ctx, loginAs(t, e, ctx, st.email, "password1"))
			if err != nil || p.EmailVerified != (st.want == "") {
				t.Fatalf("%s: emailVerified %v (%v)", st.name, p.EmailVerified, err)
			}
		}
	})
}

func TestResendVerificationSendsAtMostOneEmailEvery5Minutes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		register(t, e, "resend@example.com", "password1")
		first := oneLink(t, box, func() { drain(t, s) }, subjVerify, "resend@example.com", "verify-email", verifyTokenRE)

		steps := []struct {
			name    string
			advance time.Duration
			verify  bool // follow the newest link before resending
			want    int  // verification emails sent
		}{
			{"right after the registration email", 0, false, 0},
			{"a second short of 5 minutes after it", 5*time.Minute - time.Second, false, 0},
			{"5 minutes after it", time.Second, false, 1},
			{"again at once", 0, false, 0},
			{"4 minutes later", 4 * time.Minute, false, 0},
			{"once verified, even 5 minutes later", 5 * time.Minute, true, 0},
		}
		var newest string
		for _, st := range steps {
			e.clock.Advance(st.advance)
			// Sessions outlive these minutes, but a fresh login keeps the step independent.
			tok := loginAs(t, e, ctx, "resend@example.com", "password1")
			if st.verify {
				if err := e.svc.VerifyEmail(ctx, newest); err != nil {
					t.Fatalf("%s: verify: %v", st.name, err)
				}
			}
			if err := e.svc.ResendVerification(ctx, principal(t, e, tok)); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			drain(t, s)
			got := only(box.take(), subjVerify, "resend@example.com")
			if len(got) != st.want {
				t.Fatalf("%s: %d verification emails, want %d", st.name, len(got), st.want)
			}
			if len(got) == 1 {
				newest = linkIn(t, got[0], "verify-email", verifyTokenRE)
			}
		}
		// The resent link voided the one sent at registration.
		wantCode(t, e.svc.VerifyEmail(ctx, first), auth.CodeInvalidToken)
	})
}

func TestChangeEmailSendsTheLinkToTheNewAddressAndANoticeToTheOld(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		reg := register(t, e, "old@example.com", "password1")
		register(t, e, "holder@example.com", "password1")
		drain(t, s)
		box.take()
		p := principal(t, e, reg.Token)

		cases := []struct {
			name, newEmail, wantTo, wantMasked string
			wantLink                           bool
		}{
			{"a free address gets the link", "  Jane.New@Example.com ", "jane.new@example.com", "j***@example.com", true},
			{"a taken address gets nothing, with the same answer", "holder@example.com", "holder@example.com", "h***@example.com", false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.clock.Advance(time.Second) // so this case's event is the newest
				if err := e.svc.ChangeEmail(ctx, p, auth.ChangeEmailInput{NewEmail: c.newEmail, Reauth: pw("password1")}); err != nil {
					t.Fatalf("change email: %v", err)
				}
				confirmQueued := queued(t, e, auth.TemplateConfirmEmailChange, c.wantTo)
				noticeQueued := queued(t, e, auth.TemplateEmailChangeRequested, "old@example.com")
				if confirmQueued != c.wantLink || !noticeQueued {
					t.Fatalf("outbox: confirmation link queued %v (want %v), notice queued %v", confirmQueued, c.wantLink, noticeQueued)
				}
				drain(t, s)
				msgs := box.take()
				links := only(msgs, subjConfirmChange, c.wantTo)
				if len(links) != map[bool]int{true: 1, false: 0}[c.wantLink] {
					t.Fatalf("%d confirmation links to %s", len(links), c.wantTo)
				}
				if c.wantLink {
					linkIn(t, links[0], "confirm-email", emailChangeTokenRE)
				}
				if n := len(only(msgs, subjVerify, c.wantTo)) + len(only(msgs, subjEmailChanged, c.wantTo)); n != 0 {
					t.Fatalf("%d other emails to the new address", n)
				}
				notices := only(msgs, subjChangeNotice, "old@example.com")
				if len(notices) != 1 {
					t.Fatalf("%d notices to the old address, want 1", len(notices))
				}
				n := notices[0]
				for _, part := range []string{n.Text, n.HTML} {
					if !strings.Contains(part, c.wantMasked) || strings.Contains(part, c.wantTo) {
						t.Fatalf("notice does not name %s masked as %s: %s", c.wantTo, c.wantMasked, part)
					}
					if !strings.Contains(part, "http://localhost:3000/forgot-password") {
						t.Fatalf("notice lacks the this-wasn't-me link: %s", part)
					}
				}
				detail, ok := hasEvent(t, e, reg.Token, auth.EventEmailChangeRequested)
				if !ok || detail["to"] != c.wantMasked {
					t.Fatalf("email_change_requested event: %v %v", detail, ok)
				}
			})
		}
		// Nothing changed until the link is followed.
		if got, err := me(e, ctx, reg.Token); err != nil || got.Email != "old@example.com" {
			t.Fatalf("address changed before confirmation: %+v %v", got, err)
		}
	})
}

func TestChangeEmailValidatesAndReauthenticates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		plain := principal(t, e, register(t, e, "plain@example.com", "password1").Token)
		token, setup := enable2FA(t, e, "twofa@example.com")
		twoFA := principal(t, e, token)
		cases := []struct {
			name string
			p    auth.Principal
			in   auth.ChangeEmailInput
			want auth.Code
		}{
			{"malformed address", plain, auth.ChangeEmailInput{NewEmail: "not-an-email", Reauth: pw("password1")}, auth.CodeValidation},
			{"the current address", plain, auth.ChangeEmailInput{NewEmail: " PLAIN@example.com", Reauth: pw("password1")}, auth.CodeValidation},
			{"wrong password", plain, auth.ChangeEmailInput{NewEmail: "a1@example.com", Reauth: pw("wrong-pass")}, auth.CodeInvalidPassword},
			{"no password", plain, auth.ChangeEmailInput{NewEmail: "a1@example.com"}, auth.CodeValidation},
			{"2FA on, wrong password and a code", twoFA, auth.ChangeEmailInput{NewEmail: "a2@example.com", Reauth: auth.Reauth{Password: "wrong-pass", BackupCode: &setup.BackupCodes[0]}}, auth.CodeInvalidPassword},
			{"2FA on, no code", twoFA, auth.ChangeEmailInput{NewEmail: "a2@example.com", Reauth: pw("password1")}, auth.CodeTOTPRequired},
			{"2FA on, wrong code", twoFA, auth.ChangeEmailInput{NewEmail: "a2@example.com", Reauth: auth.Reauth{Password: "password1", TOTPCode: ptr("000000")}}, auth.CodeInvalidTOTP},
			{"2FA on, a backup code", twoFA, auth.ChangeEmailInput{NewEmail: "a2@example.com", Reauth: auth.Reauth{Password: "password1", BackupCode: &setup.BackupCodes[1]}}, ""},
			{"password only without 2FA", plain, auth.ChangeEmailInput{NewEmail: "a1@example.com", Reauth: pw("password1")}, ""},
			{"not authenticated", auth.Principal{}, auth.ChangeEmailInput{NewEmail: "a3@example.com", Reauth: pw("password1")}, auth.CodeUnauthenticated},
		}
		for _, c := range cases {
			err := e.svc.ChangeEmail(ctx, c.p, c.in)
			if c.want == "" {
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				continue
			}
			if auth.CodeOf(err) != c.want {
				t.Fatalf("%s: error %v, want %s", c.name, err, c.want)
			}
		}
		// Refused requests queued nothing for their new address.
		if queued(t, e, auth.TemplateConfirmEmailChange, "a3@example.com") {
			t.Fatal("an unauthenticated request queued a link")
		}
	})
}

func TestConfirmEmailMovesTheAccountAndVoidsOutstandingLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		run := func() { drain(t, s) }
		ctx := context.Background()
		reg := register(t, e, "before@example.com", "password1")
		verifyLink := oneLink(t, box, run, subjVerify, "before@example.com", "verify-email", verifyTokenRE)
		if err := e.svc.ForgotPassword(ctx, "before@example.com"); err != nil {
			t.Fatal(err)
		}
		resetLink := oneLink(t, box, run, "Reset your Panguard password", "before@example.com", "reset-password", tokenRE)
		p := principal(t, e, reg.Token)
		change := func(to string) string {
			t.Helper()
			if err := e.svc.ChangeEmail(ctx, p, auth.ChangeEmailInput{NewEmail: to, Reauth: pw("password1")}); err != nil {
				t.Fatal(err)
			}
			return oneLink(t, box, run, subjConfirmChange, to, "confirm-email", emailChangeTokenRE)
		}
		older := change("elsewhere@example.com")
		link := change("after@example.com")

		wantCode(t, func() error { _, err := e.svc.ConfirmEmail(ctx, older); return err }(), auth.CodeInvalidToken) // voided by the newer request
		wantCode(t, func() error { _, err := e.svc.ConfirmEmail(ctx, verifyLink); return err }(), auth.CodeInvalidToken)
		wantCode(t, func() error { _, err := e.svc.ConfirmEmail(ctx, resetLink); return err }(), auth.CodeInvalidToken)

		prof, err := e.svc.ConfirmEmail(ctx, " "+link+" ")
		if err != nil {
			t.Fatalf("confirm: %v", err)
		}
		if prof.Email != "after@example.com" || !prof.EmailVerified || prof.ID != reg.User.ID {
			t.Fatalf("profile after confirm: %+v", prof)
		}
		checks := []struct {
			name string
			err  error
			want auth.Code
		}{
			{"the link works once", func() error { _, err := e.svc.ConfirmEmail(ctx, link); return err }(), auth.CodeInvalidToken},
			{"the old reset link is void", e.svc.ResetPassword(ctx, resetLink, "password9"), auth.CodeInvalidResetToken},
			{"the old verify link is void", e.svc.VerifyEmail(ctx, verifyLink), auth.CodeInvalidToken},
			{"the old address no longer signs in", func() error {
				_, err := e.svc.Login(ctx, auth.LoginInput{Email: "before@example.com", Password: "password1"})
				return err
			}(), auth.CodeInvalidCredentials},
		}
		for _, c := range checks {
			if auth.CodeOf(c.err) != c.want {
				t.Fatalf("%s: error %v, want %s", c.name, c.err, c.want)
			}
		}
		newToken := loginAs(t, e, ctx, "after@example.com", "password1")
		if got, err := me(e, ctx, newToken); err != nil || got.Email != "after@example.com" || !got.EmailVerified {
			t.Fatalf("me with the new address: %+v %v", got, err)
		}
		detail, ok := hasEvent(t, e, newToken, auth.EventEmailChanged)
		if !ok || detail["from"] != "b***@example.com" || detail["to"] != "a***@example.com" {
			t.Fatalf("email_changed event: %v %v", detail, ok)
		}
		run()
		msgs := box.take()
		for _, to := range []string{"after@example.com", "before@example.com"} {
			if n := len(only(msgs, subjEmailChanged, to)); n != 1 {
				t.Fatalf("%d email-changed notices to %s, want 1", n, to)
			}
		}
		// The old address is free again at once.
		register(t, e, "before@example.com", "password2")
	})
}

func TestConfirmEmailLinkExpiresAfterAnHour(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		reg := register(t, e, "slow@example.com", "password1")
		if err := e.svc.ChangeEmail(ctx, principal(t, e, reg.Token), auth.ChangeEmailInput{NewEmail: "slower@example.com", Reauth: pw("password1")}); err != nil {
			t.Fatal(err)
		}
		link := oneLink(t, box, func() { drain(t, s) }, subjConfirmChange, "slower@example.com", "confirm-email", emailChangeTokenRE)
		e.clock.Advance(time.Hour)
		_, err := e.svc.ConfirmEmail(ctx, link)
		wantCode(t, err, auth.CodeInvalidToken)
	})
}

func TestConfirmEmailWhenTheAddressWasTakenMeanwhile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		reg := register(t, e, "mover@example.com", "password1")
		if err := e.svc.ChangeEmail(ctx, principal(t, e, reg.Token), auth.ChangeEmailInput{NewEmail: "contested@example.com", Reauth: pw("password1")}); err != nil {
			t.Fatal(err)
		}
		link := oneLink(t, box, func() { drain(t, s) }, subjConfirmChange, "contested@example.com", "confirm-email", emailChangeTokenRE)
		register(t, e, "contested@example.com", "password2")

		_, err := e.svc.ConfirmEmail(ctx, link)
		wantCode(t, err, auth.CodeEmailTaken)
		if got, err := me(e, ctx, reg.Token); err != nil || got.Email != "mover@example.com" {
			t.Fatalf("account after a refused confirm: %+v %v", got, err)
		}
		if _, ok := hasEvent(t, e, reg.Token, auth.EventEmailChanged); ok {
			t.Fatal("email_changed recorded for a refused confirm")
		}
		loginAs(t, e, ctx, "mover@example.com", "password1")
		loginAs(t, e, ctx, "contested@example.com", "password2")
	})
}

func TestAccountEmailTemplatesEscapeUserData(t *testing.T) {
	t.Parallel()
	templates := []string{
		auth.TemplateVerifyEmail, auth.TemplateConfirmEmailChange, auth.TemplateEmailChangeRequested,
		auth.TemplateEmailChanged, auth.TemplatePasswordChanged, auth.TemplatePasswordResetDone,
		auth.TemplateTOTPDisabled, auth.TemplateBackupCodesRegenerated, auth.TemplateAccountDeleted,
	}
	for _, tmpl := range templates {
		t.Run(tmpl, func(t *testing.T) {
			m, err := mail.Render(auth.Email{
				To: "a@example.com", Template: tmpl, Name: "<b>Mallory</b>", Address: `<b>x</b>@example.com`,
				Link: "http://localhost:3000/x?token=t&a=<b>", ExpiresInMinutes: 60,
			})
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject == "" || m.To != "a@example.com" {
				t.Fatalf("message %+v", m)
			}
			if strings.Contains(m.HTML, "<b>") || !strings.Contains(m.HTML, "&lt;b&gt;Mallory&lt;/b&gt;") {
				t.Fatalf("name not escaped in HTML: %s", m.HTML)
			}
			if !strings.Contains(m.Text, "<b>Mallory</b>") {
				t.Fatalf("plain text should carry the name as is: %s", m.Text)
			}
		})
	}
	// Through the service: a name with markup arrives inert in the verification email.
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		if _, err := e.svc.Register(context.Background(), auth.RegisterInput{Email: "markup@example.com", Name: "<b>Eve</b>", Password: "password1"}); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		got := only(box.take(), subjVerify, "markup@example.com")
		if len(got) != 1 || strings.Contains(got[0].HTML, "<b>") || !strings.Contains(got[0].HTML, "&lt;b&gt;Eve") {
			t.Fatalf("verification email: %+v", got)
		}
		if !strings.Contains(got[0].Text, "24 hours") {
			t.Fatalf("lifetime not spelled in hours: %s", got[0].Text)
		}
	})
}

func TestConcurrentConfirmsOfOneAddressMoveExactlyOneAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		const n = 4
		links := make([]string, n)
		for i := range n {
			from := fmt.Sprintf("racer%d@example.com", i)
			reg := register(t, e, from, "password1")
			if err := e.svc.ChangeEmail(ctx, principal(t, e, reg.Token), auth.ChangeEmailInput{NewEmail: "prize@example.com", Reauth: pw("password1")}); err != nil {
				t.Fatal(err)
			}
		}
		drain(t, s)
		got := only(box.take(), subjConfirmChange, "prize@example.com")
		if len(got) != n {
			t.Fatalf("%d confirmation links, want %d", len(got), n)
		}
		for i, m := range got {
			links[i] = linkIn(t, m, "confirm-email", emailChangeTokenRE)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = e.svc.ConfirmEmail(ctx, links[i]) }()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case auth.CodeOf(err) != auth.CodeEmailTaken:
				t.Fatalf("a losing confirm: %v, want email_taken", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d confirms succeeded, want exactly 1", won)
		}
		loginAs(t, e, ctx, "prize@example.com", "password1")
	})
}
