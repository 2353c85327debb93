package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
)

// burst runs n attempts at once and counts their answers by code ("" for success).
func burst(n int, try func(i int) error) map[auth.Code]int {
	var mu sync.Mutex
	got := map[auth.Code]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := try(i)
			mu.Lock()
			got[auth.CodeOf(err)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// Every attempt is counted before it is checked, so however many guesses arrive at once,
// and on however many instances, no more are checked than the budget allows.
func TestConcurrentGuessesNeverOutrunTheBudget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		twoFA   bool
		n       int
		ip      func(i int) string
		wrong   auth.Code
		checked int // the budget: answers that were really checked
		// afterLock: once the lock has passed, another burst gets exactly one check.
		afterLock time.Duration
	}{
		{"wrong passwords from one address", false, 20, func(int) string { return "198.51.100.20" }, auth.CodeInvalidCredentials, 5, time.Second},
		{"wrong TOTP codes from many addresses", true, 40, func(i int) string { return fmt.Sprintf("10.40.%d.1", i) }, auth.CodeInvalidTOTP, 10, time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, dbURL string) {
				// Two instances on one database, as two replicas behind a load balancer.
				a := newEnv(t, dbURL)
				b := newEnv(t, dbURL)
				b.clock = a.clock
				if c.twoFA {
					enable2FA(t, a, "burst@example.com")
				} else {
					register(t, a, "burst@example.com", "password1")
				}
				try := func(i int) error {
					in := auth.LoginInput{Email: "burst@example.com", Password: "wrong-password"}
					if c.twoFA {
						in.Password, in.TOTPCode = "password1", ptr("000000")
					}
					svc := a.svc
					if i%2 == 1 {
						svc = b.svc
					}
					_, err := svc.Login(fromIP(c.ip(i)), in)
					return err
				}
				got := burst(c.n, try)
				if got[c.wrong] != c.checked || got[auth.CodeRateLimited] != c.n-c.checked {
					t.Fatalf("answers %v: want %d × %s and the rest rate_limited", got, c.checked, c.wrong)
				}
				a.clock.Advance(c.afterLock)
				got = burst(c.n, func(i int) error { return try(i + c.n) })
				if got[c.wrong] != 1 || got[auth.CodeRateLimited] != c.n-1 {
					t.Fatalf("burst after the lock passed: %v, want one check", got)
				}
			})
		})
	}
}

// A reset through the mailbox lifts password locks, but someone holding the password and the
// mailbox is exactly who the second factor must still stop.
func TestResetKeepsTheSecondFactorBudget(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		enable2FA(t, e, "mfa-reset@example.com")
		settle(t, s, box)
		u, err := e.store.UserByEmail(ctx, "mfa-reset@example.com")
		if err != nil {
			t.Fatal(err)
		}
		// A verified address keeps its second factors through a reset.
		if _, err := e.store.MarkEmailVerified(ctx, u.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			_, err := e.svc.Login(fromIP(fmt.Sprintf("10.41.%d.1", i)), auth.LoginInput{Email: "mfa-reset@example.com", Password: "password1", TOTPCode: ptr("000000")})
			wantCode(t, err, auth.CodeInvalidTOTP)
		}
		if err := e.svc.ForgotPassword(fromIP("10.41.100.1"), "mfa-reset@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		if err := e.svc.ResetPassword(fromIP("10.41.100.1"), tokenIn(t, box.take()[0]), "password2"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Login(fromIP("10.41.101.1"), auth.LoginInput{Email: "mfa-reset@example.com", Password: "password2", TOTPCode: ptr("111111")})
		wantCode(t, err, auth.CodeRateLimited)
		// The password step is not second-factor work: it still answers.
		if r, err := e.svc.Login(fromIP("10.41.102.1"), auth.LoginInput{Email: "mfa-reset@example.com", Password: "password2"}); err != nil || !r.TOTPRequired {
			t.Fatalf("password step after the reset: %+v %v", r, err)
		}
	})
}

// Registering someone else's address and turning 2FA on must not lock the real owner out:
// the owner's reset through the mailbox proves the address and removes what the squatter
// enrolled. An address already proved keeps its second factors.
func TestResetThroughTheMailboxRemovesSecondFactorsOfAnUnprovedAddress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		verified  bool
		keeps2FA  bool
		loginNeed bool // login after the reset asks for a code
	}{
		{"never verified: the squatter's TOTP and backup codes go", false, false, false},
		{"already verified: second factors stay", true, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, dbURL string) {
				e := newEnv(t, dbURL)
				box := &inbox{}
				s := newSender(e, box)
				ctx := context.Background()
				enable2FA(t, e, "owner@example.com") // the squatter
				settle(t, s, box)
				u, err := e.store.UserByEmail(ctx, "owner@example.com")
				if err != nil {
					t.Fatal(err)
				}
				if c.verified {
					if _, err := e.store.MarkEmailVerified(ctx, u.ID, e.clock.Now()); err != nil {
						t.Fatal(err)
					}
				}
				if err := e.svc.ForgotPassword(ctx, "owner@example.com"); err != nil {
					t.Fatal(err)
				}
				drain(t, s)
				if err := e.svc.ResetPassword(ctx, tokenIn(t, box.take()[0]), "owners-password"); err != nil {
					t.Fatal(err)
				}
				r, err := e.svc.Login(ctx, auth.LoginInput{Email: "owner@example.com", Password: "owners-password"})
				if err != nil {
					t.Fatal(err)
				}
				if r.TOTPRequired != c.loginNeed {
					t.Fatalf("login asks for a code: %v, want %v", r.TOTPRequired, c.loginNeed)
				}
				after, err := e.store.UserByEmail(ctx, "owner@example.com")
				if err != nil {
					t.Fatal(err)
				}
				if after.EmailVerifiedAt == nil {
					t.Fatal("the reset through the mailbox did not mark the address verified")
				}
				codes, err := e.store.CountBackupCodes(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if kept := after.TOTPEnabled || after.TOTPSecret != "" || codes > 0; kept != c.keeps2FA {
					t.Fatalf("second factors kept: %v (totp %v, %d backup codes), want %v", kept, after.TOTPEnabled, codes, c.keeps2FA)
				}
			})
		})
	}
}

// forgot-password cannot bomb a mailbox or keep voiding the owner's link.
func TestForgotPasswordSendsAtMostThreeEmailsAnHour(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		register(t, e, "bombed@example.com", "password1")
		settle(t, s, box)
		forgot := func(n int) {
			for i := range n {
				if err := e.svc.ForgotPassword(fromIP(fmt.Sprintf("10.42.%d.1", i%3)), "bombed@example.com"); err != nil {
					t.Fatal(err)
				}
			}
			drain(t, s)
		}
		forgot(3)
		msgs := box.take()
		if len(msgs) != 3 {
			t.Fatalf("%d emails for the first 3 requests, want 3", len(msgs))
		}
		forgot(20)
		if n := len(box.take()); n != 0 {
			t.Fatalf("%d more emails within the hour, want none", n)
		}
		// The owner's newest link survived the flood (each sent link voided the one before).
		working := 0
		for _, m := range msgs {
			if e.svc.ResetPassword(context.Background(), tokenIn(t, m), "password2") == nil {
				working++
			}
		}
		if working != 1 {
			t.Fatalf("%d of the sent links work after the flood, want the newest one", working)
		}
		settle(t, s, box) // the password-reset notice
		e.clock.Advance(time.Hour)
		forgot(5)
		if n := len(box.take()); n != 1 {
			t.Fatalf("%d emails an hour later, want 1", n)
		}
	})
}

// One account cannot load the service with authenticated writes.
func TestAuthenticatedWritesHaveAPerAccountBudget(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, func(c *auth.Config) { c.AccountWriteLimit = 5 })
		r := register(t, e, "busy@example.com", "password1")
		other := register(t, e, "calm@example.com", "password1")
		for i := range 5 {
			if _, err := setupTOTP(e, fromIP(fmt.Sprintf("10.43.0.%d", i)), r.Token); err != nil {
				t.Fatalf("setup %d: %v", i+1, err)
			}
		}
		_, err := setupTOTP(e, fromIP("10.43.1.1"), r.Token)
		wantCode(t, err, auth.CodeRateLimited)
		if ra := retryAfter(err); ra < time.Second || ra > 12*time.Second {
			t.Fatalf("retry after %v", ra)
		}
		_, err = regenerateBackupCodes(e, fromIP("10.43.1.2"), r.Token, pw("password1"))
		wantCode(t, err, auth.CodeRateLimited)
		if _, err := setupTOTP(e, fromIP("10.43.1.1"), other.Token); err != nil {
			t.Fatalf("another account is affected: %v", err)
		}
		e.clock.Advance(12 * time.Second)
		if _, err := setupTOTP(e, fromIP("10.43.1.1"), r.Token); err != nil {
			t.Fatalf("budget not earned back: %v", err)
		}
	})
}

// The squatter rule holds even when the owner clicked the verification link the squatter's
// registration sent them: 2FA turned on before the address was proved goes at the owner's
// reset; 2FA turned on after it stays.
func TestSecondFactorsEnrolledBeforeTheAddressWasProvedGoAtReset(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		before   bool // the address is proved before 2FA is turned on
		keeps2FA bool
	}{
		{"owner clicks the verify link after the squatter turned 2FA on", false, false},
		{"2FA turned on after the address was verified", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, dbURL string) {
				e := newEnv(t, dbURL)
				box := &inbox{}
				s := newSender(e, box)
				ctx := context.Background()
				r := register(t, e, "proved@example.com", "password1")
				drain(t, s)
				var verifyLink string
				for _, m := range box.take() {
					if tok := verifyTokenRE.FindString(m.Text); tok != "" {
						verifyLink = tok
					}
				}
				verify := func() {
					e.clock.Advance(time.Minute)
					if err := e.svc.VerifyEmail(ctx, verifyLink); err != nil {
						t.Fatal(err)
					}
					e.clock.Advance(time.Minute)
				}
				if c.before {
					verify()
				}
				setup, err := setupTOTP(e, ctx, r.Token)
				if err != nil {
					t.Fatal(err)
				}
				if err := verifyTOTP(e, ctx, r.Token, code(t, setup.Secret, e.clock.Now(), 0)); err != nil {
					t.Fatal(err)
				}
				if !c.before {
					verify()
				}
				if err := e.svc.ForgotPassword(ctx, "proved@example.com"); err != nil {
					t.Fatal(err)
				}
				drain(t, s)
				if err := e.svc.ResetPassword(ctx, tokenIn(t, box.take()[0]), "password2"); err != nil {
					t.Fatal(err)
				}
				res, err := e.svc.Login(ctx, auth.LoginInput{Email: "proved@example.com", Password: "password2"})
				if err != nil || res.TOTPRequired != c.keeps2FA {
					t.Fatalf("login after reset: TOTPRequired %v (want %v), %v", res.TOTPRequired, c.keeps2FA, err)
				}
			})
		})
	}
}

// A password reset voids a pending email change: whoever started it (the reason the owner
// followed the notice's "this wasn't me" link) cannot complete it afterwards.
func TestResetVoidsAPendingEmailChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		r := register(t, e, "victim@example.com", "password1")
		drain(t, s)
		box.take()
		p := principal(t, e, r.Token)
		if err := e.svc.ChangeEmail(ctx, p, auth.ChangeEmailInput{NewEmail: "attacker@example.net", Reauth: pw("password1")}); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		var changeLink string
		for _, m := range box.take() {
			if tok := emailChangeTokenRE.FindString(m.Text); tok != "" {
				changeLink = tok
			}
		}
		if err := e.svc.ForgotPassword(ctx, "victim@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		var resetLink string
		for _, m := range box.take() {
			if tok := tokenRE.FindString(m.Text); tok != "" {
				resetLink = tok
			}
		}
		if err := e.svc.ResetPassword(ctx, resetLink, "password2"); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.ConfirmEmail(ctx, changeLink)
		wantCode(t, err, auth.CodeInvalidToken)
	})
}
