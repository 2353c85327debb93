package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

func fromIP(ip string) context.Context { return auth.WithClientIP(context.Background(), ip) }

func retryAfter(err error) time.Duration {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func TestPerIPRateLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, func(c *auth.Config) { c.RateLimit = 20 })
		forgot := func(ip string) error { return e.svc.ForgotPassword(fromIP(ip), "x@example.com") }
		for i := range 20 {
			if err := forgot("198.51.100.7"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		steps := []struct {
			name    string
			advance time.Duration
			ip      string
			limited bool
		}{
			{"the 21st request in the minute", 0, "198.51.100.7", true},
			{"another client is unaffected", 0, "198.51.100.8", false},
			{"still limited a second later", time.Second, "198.51.100.7", true},
			{"one request earned back after 3 s", 2 * time.Second, "198.51.100.7", false},
			{"and spent again", 0, "198.51.100.7", true},
			{"the full budget after a quiet minute", time.Minute, "198.51.100.7", false},
		}
		for _, s := range steps {
			e.clock.Advance(s.advance)
			err := forgot(s.ip)
			if s.limited {
				wantCode(t, err, auth.CodeRateLimited)
				if ra := retryAfter(err); ra < time.Second || ra > 3*time.Second || auth.KindOf(err) != auth.KindRateLimited {
					t.Fatalf("%s: retry after %v", s.name, ra)
				}
			} else if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
	})
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	for i := range 50 {
		if err := e.svc.ForgotPassword(fromIP("203.0.113.1"), "x@example.com"); err != nil {
			t.Fatalf("request %d limited with the limit off: %v", i, err)
		}
	}
}

func TestBruteForceBackoff(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		register(t, e, "victim@example.com", "password1")
		attacker, user := fromIP("192.0.2.66"), fromIP("192.0.2.10")
		try := func(ctx context.Context, pw string) error {
			_, err := e.svc.Login(ctx, auth.LoginInput{Email: "victim@example.com", Password: pw})
			return err
		}
		// Five checks; the fifth, counted before it was checked, locks this client for 1 s,
		// the sixth for 2 s, ...
		for i := range 5 {
			wantCode(t, try(attacker, fmt.Sprintf("guess-%d", i)), auth.CodeInvalidCredentials)
		}
		err := try(attacker, "password1")
		wantCode(t, err, auth.CodeRateLimited) // even the right password waits: no guessing while locked
		if ra := retryAfter(err); ra != time.Second {
			t.Fatalf("retry after %v, want 1s", ra)
		}
		if err := try(user, "password1"); err != nil {
			t.Fatalf("the real user on another IP is blocked: %v", err)
		}
		e.clock.Advance(time.Second)
		wantCode(t, try(attacker, "guess-6"), auth.CodeInvalidCredentials)
		if ra := retryAfter(try(attacker, "guess-7")); ra != 2*time.Second {
			t.Fatalf("second lock %v, want 2s", ra)
		}
		// Unknown accounts behave the same, so locks reveal nothing.
		for i := range 5 {
			if err := e.svc.ForgotPassword(attacker, "nobody@example.com"); err != nil { // another operation, unaffected
				t.Fatal(err)
			}
			_, err := e.svc.Login(attacker, auth.LoginInput{Email: "nobody@example.com", Password: fmt.Sprint(i)})
			wantCode(t, err, auth.CodeInvalidCredentials)
		}
		_, err = e.svc.Login(attacker, auth.LoginInput{Email: "nobody@example.com", Password: "x"})
		wantCode(t, err, auth.CodeRateLimited)
	})
}

func TestAccountWideLockSparesCleanClientsAndResetClearsIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		register(t, e, "target@example.com", "password1")
		settle(t, s, box)
		// A distributed attack: 21 addresses, one guess each, trips the account-wide counter.
		for i := range 21 {
			_, err := e.svc.Login(fromIP(fmt.Sprintf("10.0.0.%d", i)), auth.LoginInput{Email: "target@example.com", Password: "nope"})
			wantCode(t, err, auth.CodeInvalidCredentials)
		}
		_, err := e.svc.Login(fromIP("10.0.0.3"), auth.LoginInput{Email: "target@example.com", Password: "nope"})
		wantCode(t, err, auth.CodeRateLimited)
		if _, err := e.svc.Login(fromIP("192.0.2.10"), auth.LoginInput{Email: "target@example.com", Password: "password1"}); err != nil {
			t.Fatalf("a clean client is blocked by the account-wide lock: %v", err)
		}
		// A password reset clears everything for the account.
		if err := e.svc.ForgotPassword(fromIP("192.0.2.10"), "target@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		if err := e.svc.ResetPassword(fromIP("192.0.2.10"), tokenIn(t, box.take()[0]), "password2"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Login(fromIP("10.0.0.3"), auth.LoginInput{Email: "target@example.com", Password: "password2"}); err != nil {
			t.Fatalf("lock survived the reset: %v", err)
		}
	})
}

func TestSecondFactorFailuresAreThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	token, _ := enable2FA(t, e, "mfa@example.com")
	ctx := fromIP("192.0.2.99")
	for range 4 {
		_, err := e.svc.Login(ctx, auth.LoginInput{Email: "mfa@example.com", Password: "password1", TOTPCode: ptr("000000")})
		wantCode(t, err, auth.CodeInvalidTOTP)
	}
	_, err := e.svc.Login(ctx, auth.LoginInput{Email: "mfa@example.com", Password: "password1", BackupCode: ptr("aaaaaaaaaa")})
	wantCode(t, err, auth.CodeInvalidTOTP)
	_, err = e.svc.Login(ctx, auth.LoginInput{Email: "mfa@example.com", Password: "password1", TOTPCode: ptr("000000")})
	wantCode(t, err, auth.CodeRateLimited)
	// Password checks of authenticated operations count too.
	wantCode(t, disableTOTP(e, ctx, token, pw("wrong-password")), auth.CodeRateLimited)
}

func TestBackoffIsSharedByTwoInstances(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	a := newEnv(t, dbURL)
	b := newEnv(t, dbURL)
	b.clock = a.clock
	register(t, a, "shared@example.com", "password1")
	ctx := fromIP("198.51.100.1")
	for i := range 5 {
		svc := a.svc
		if i%2 == 1 {
			svc = b.svc
		}
		_, err := svc.Login(ctx, auth.LoginInput{Email: "shared@example.com", Password: "nope"})
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	for _, svc := range []*auth.Service{a.svc, b.svc} {
		_, err := svc.Login(ctx, auth.LoginInput{Email: "shared@example.com", Password: "password1"})
		wantCode(t, err, auth.CodeRateLimited)
	}
}

func TestIPv6ClientsAreTheirSlash64(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	register(t, e, "six@example.com", "password1")
	for i := range 5 {
		_, err := e.svc.Login(fromIP(fmt.Sprintf("2001:db8:1:2::%x", i+1)), auth.LoginInput{Email: "six@example.com", Password: "nope"})
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	// Another address of the same /64 is the same client: locked.
	_, err := e.svc.Login(fromIP("2001:db8:1:2:ffff::1"), auth.LoginInput{Email: "six@example.com", Password: "password1"})
	wantCode(t, err, auth.CodeRateLimited)
	// Another /64 is another client.
	if _, err := e.svc.Login(fromIP("2001:db8:1:3::1"), auth.LoginInput{Email: "six@example.com", Password: "password1"}); err != nil {
		t.Fatalf("another /64 blocked: %v", err)
	}
}

func TestSecondFactorGuessesLockEveryClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	_, _ = enable2FA(t, e, "guess@example.com")
	// Someone with the password guesses codes from ever new addresses (one guess each).
	// Ten codes are checked; the tenth, counted before its check, sets the lock.
	for i := range 10 {
		_, err := e.svc.Login(fromIP(fmt.Sprintf("10.9.%d.1", i)), auth.LoginInput{Email: "guess@example.com", Password: "password1", TOTPCode: ptr("000000")})
		wantCode(t, err, auth.CodeInvalidTOTP)
	}
	_, err := e.svc.Login(fromIP("10.9.201.1"), auth.LoginInput{Email: "guess@example.com", Password: "password1", TOTPCode: ptr("111111")})
	wantCode(t, err, auth.CodeRateLimited)
	if ra := retryAfter(err); ra != time.Minute {
		t.Fatalf("second-factor lock %v, want 1m", ra)
	}
	// The password step alone (no code) is not affected: the user learns a code is needed.
	if r, err := e.svc.Login(fromIP("10.9.202.1"), auth.LoginInput{Email: "guess@example.com", Password: "password1"}); err != nil || !r.TOTPRequired {
		t.Fatalf("login without a code: %+v %v", r, err)
	}
	e.clock.Advance(time.Minute)
	_, err = e.svc.Login(fromIP("10.9.203.1"), auth.LoginInput{Email: "guess@example.com", Password: "password1", TOTPCode: ptr("222222")})
	wantCode(t, err, auth.CodeInvalidTOTP)
}

func TestHardAccountCapBindsCleanClientsBriefly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	register(t, e, "hard@example.com", "password1")
	for i := range 101 {
		e.clock.Advance(20 * time.Minute) // past any per-client and account lock, inside the decay
		_, err := e.svc.Login(fromIP(fmt.Sprintf("10.8.%d.%d", i/250, i%250)), auth.LoginInput{Email: "hard@example.com", Password: "nope"})
		if auth.CodeOf(err) != auth.CodeInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err := e.svc.Login(fromIP("192.0.2.200"), auth.LoginInput{Email: "hard@example.com", Password: "password1"})
	wantCode(t, err, auth.CodeRateLimited)
	if ra := retryAfter(err); ra > time.Minute {
		t.Fatalf("a clean client waits %v, want at most 1m", ra)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.Login(fromIP("192.0.2.200"), auth.LoginInput{Email: "hard@example.com", Password: "password1"}); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
}

// resetDuringLogin is a store that lets a password reset commit between Login's password
// check and its transaction, the window a concurrent reset could use.
type resetDuringLogin struct {
	auth.Store
	once func()
}

func (r *resetDuringLogin) RunInTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if r.once != nil {
		f := r.once
		r.once = nil
		f()
	}
	return r.Store.RunInTx(ctx, fn)
}

func TestLoginLosesToAConcurrentReset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		register(t, e, "race-reset@example.com", "password1")
		u, _ := e.store.UserByEmail(context.Background(), "race-reset@example.com")
		wrapped := &resetDuringLogin{Store: e.store}
		svc, err := auth.New(auth.Config{Store: wrapped, Now: e.clock.Now, JWTSecret: []byte(secret), EncryptionKey: encKey, Hash: cheapHash})
		if err != nil {
			t.Fatal(err)
		}
		wrapped.once = func() {
			if err := e.store.UpdatePasswordHash(context.Background(), u.ID, "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		_, err = svc.Login(context.Background(), auth.LoginInput{Email: "race-reset@example.com", Password: "password1"})
		wantCode(t, err, auth.CodeInvalidCredentials)
	})
}

func TestConcurrentResetRequestsLeaveOneLiveToken(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		register(t, e, "two-links@example.com", "password1")
		settle(t, s, box)
		// Several replicas' senders resolve requests for one account at the same moment; the
		// account's email budget lets three of them send.
		const n = 8
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.svc.HandleResetRequest(context.Background(), `{"email":"two-links@example.com","reason":"forgot_password"}`); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		drain(t, s)
		msgs := box.take()
		if len(msgs) != auth.ResetEmailsPerHour {
			t.Fatalf("%d emails, want %d", len(msgs), auth.ResetEmailsPerHour)
		}
		var live int
		if err := e.store.(*store.Store).SQLDB().QueryRow("SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'reset' AND used_at IS NULL").Scan(&live); err != nil {
			t.Fatal(err)
		}
		if live != 1 {
			t.Fatalf("%d of %d reset tokens are live, want exactly 1 (the newest)", live, n)
		}
	})
}

func TestKnownClientsAreNeverLockedOutByOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	register(t, e, "owner@example.com", "password1")
	home := fromIP("192.0.2.10")
	if _, err := e.svc.Login(home, auth.LoginInput{Email: "owner@example.com", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	// A distributed attack past the hard cap: every fresh client must now wait…
	for i := range 101 {
		e.clock.Advance(20 * time.Minute)
		_, err := e.svc.Login(fromIP(fmt.Sprintf("10.7.%d.%d", i/250, i%250)), auth.LoginInput{Email: "owner@example.com", Password: "nope"})
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	_, err := e.svc.Login(fromIP("203.0.113.99"), auth.LoginInput{Email: "owner@example.com", Password: "password1"})
	wantCode(t, err, auth.CodeRateLimited)
	// …but the owner's usual client is not bound by account-wide locks.
	if _, err := e.svc.Login(home, auth.LoginInput{Email: "owner@example.com", Password: "password1"}); err != nil {
		t.Fatalf("the owner's known client is locked out: %v", err)
	}
}
