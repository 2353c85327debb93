package auth_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
)

// code is the 6-digit TOTP code of a base32 secret at t shifted by drift steps, computed
// independently of the code under test.
func code(t *testing.T, secretB32 string, at time.Time, drift int) string {
	t.Helper()
	c, err := oathtest.TOTP(secretB32, at, drift)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHOTPMatchesRFC6238Vectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		if got := oathtest.HOTP(key, uint64(v.unix/30), 8); got != v.want {
			t.Fatalf("T=%d: %s, want %s", v.unix, got, v.want)
		}
	}
}

// enable2FA registers email, sets up and verifies TOTP, and returns the token, secret and codes.
func enable2FA(t *testing.T, e env, email string) (string, auth.TOTPSetup) {
	t.Helper()
	ctx := context.Background()
	r := register(t, e, email, "password1")
	setup, err := setupTOTP(e, ctx, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyTOTP(e, ctx, r.Token, code(t, setup.Secret, e.clock.Now(), 0)); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return r.Token, setup
}

func login(e env, email string, totpCode, backupCode *string) (auth.LoginResult, error) {
	return loginFrom(context.Background(), e, email, totpCode, backupCode)
}

func loginFrom(ctx context.Context, e env, email string, totpCode, backupCode *string) (auth.LoginResult, error) {
	return e.svc.Login(ctx, auth.LoginInput{Email: email, Password: "password1", TOTPCode: totpCode, BackupCode: backupCode})
}

func TestTOTPSetupShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	r := register(t, e, "shape@example.com", "password1")
	s, err := setupTOTP(e, context.Background(), r.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := "otpauth://totp/Panguard:shape@example.com?secret=" + s.Secret + "&issuer=Panguard"
	if s.OTPAuthURL != want {
		t.Fatalf("otpauthUrl\n got %s\nwant %s", s.OTPAuthURL, want)
	}
	if _, err := url.Parse(s.OTPAuthURL); err != nil || len(s.Secret) < 32 {
		t.Fatalf("secret %q / url: %v", s.Secret, err)
	}
	if len(s.BackupCodes) != 10 {
		t.Fatalf("%d backup codes", len(s.BackupCodes))
	}
	seen := map[string]bool{}
	for _, c := range s.BackupCodes {
		if !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(c) || seen[c] {
			t.Fatalf("bad or repeated backup code %q", c)
		}
		seen[c] = true
	}
	st, _ := totpStatus(e, context.Background(), r.Token)
	if st.Enabled || !st.Pending {
		t.Fatalf("status after setup: %+v", st)
	}
	// A pending setup is not 2FA yet: login needs no code.
	if lr, err := login(e, "shape@example.com", nil, nil); err != nil || lr.TOTPRequired {
		t.Fatalf("login with pending setup: %+v %v", lr, err)
	}
}

func TestTOTPVerifyDrift(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	cases := []struct {
		drift int
		ok    bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("drift %+d", tc.drift), func(t *testing.T) {
			email := fmt.Sprintf("drift%d@example.com", tc.drift+10)
			r := register(t, e, email, "password1")
			s, err := setupTOTP(e, context.Background(), r.Token)
			if err != nil {
				t.Fatal(err)
			}
			err = verifyTOTP(e, context.Background(), r.Token, code(t, s.Secret, e.clock.Now(), tc.drift))
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				wantCode(t, err, auth.CodeInvalidTOTP)
				if auth.KindOf(err) != auth.KindInvalid {
					t.Fatalf("wrong code at verify must be a 400-kind error, got %v", auth.KindOf(err))
				}
			}
		})
	}
}

func TestTOTPLoginFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		const email = "flow@example.com"
		token, s := enable2FA(t, e, email)
		verifyCode := code(t, s.Secret, e.clock.Now(), 0)

		steps := []struct {
			name    string
			advance time.Duration
			totp    func() *string
			backup  *string
			want    string // "token", "required" or an error code
		}{
			{"no code: second factor required", 0, nil, nil, "required"},
			{"the code used to verify is refused (replay)", 0, func() *string { return &verifyCode }, nil, string(auth.CodeInvalidTOTP)},
			{"a wrong code", 0, func() *string { return ptr("000000") }, nil, string(auth.CodeInvalidTOTP)},
			{"a code that is not six digits", 0, func() *string { return ptr("12345a") }, nil, string(auth.CodeInvalidTOTP)},
			{"the next step's code", 30 * time.Second, func() *string { return ptr(code(t, s.Secret, e.clock.Now(), 0)) }, nil, "token"},
			{"the same code again", 0, func() *string { return ptr(code(t, s.Secret, e.clock.Now(), 0)) }, nil, string(auth.CodeInvalidTOTP)},
			{"an older code still inside the window", 0, func() *string { return ptr(code(t, s.Secret, e.clock.Now(), -1)) }, nil, string(auth.CodeInvalidTOTP)},
			{"a backup code", 0, nil, &s.BackupCodes[0], "token"},
			{"the same backup code again", 0, nil, &s.BackupCodes[0], string(auth.CodeInvalidTOTP)},
			{"a backup code typed in capitals with a dash", 0, nil, ptr(strings.ToUpper(s.BackupCodes[1][:5] + "-" + s.BackupCodes[1][5:])), "token"},
			{"a made-up backup code", 0, nil, ptr("zzzzzzzzzz"), string(auth.CodeInvalidTOTP)},
		}
		for _, st := range steps {
			e.clock.Advance(st.advance)
			var tc *string
			if st.totp != nil {
				tc = st.totp()
			}
			r, err := login(e, email, tc, st.backup)
			switch st.want {
			case "token":
				if err != nil || r.Token == "" {
					t.Fatalf("%s: %+v %v", st.name, r, err)
				}
			case "required":
				if err != nil || !r.TOTPRequired || r.Token != "" {
					t.Fatalf("%s: %+v %v", st.name, r, err)
				}
			default:
				if got := auth.CodeOf(err); string(got) != st.want || auth.KindOf(err) != auth.KindUnauthenticated {
					t.Fatalf("%s: err %v, want %s (401)", st.name, err, st.want)
				}
			}
		}
		st, err := totpStatus(e, ctx, token)
		if err != nil || !st.Enabled || st.BackupCodesRemaining != 8 {
			t.Fatalf("status: %+v %v", st, err)
		}
		if _, err := setupTOTP(e, ctx, token); auth.CodeOf(err) != auth.CodeAlreadyEnabled {
			t.Fatalf("setup while enabled: %v", err)
		}
		if err := verifyTOTP(e, ctx, token, code(t, s.Secret, e.clock.Now(), 0)); auth.CodeOf(err) != auth.CodeAlreadyEnabled {
			t.Fatalf("verify while enabled: %v", err)
		}
	})
}

func TestTOTPDisableAndRegenerate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		const email = "dis@example.com"
		token, s := enable2FA(t, e, email)

		// Re-authentication: the password first (whatever code is sent), then a code.
		_, err := regenerateBackupCodes(e, ctx, token, auth.Reauth{Password: "wrong-password", BackupCode: &s.BackupCodes[5]})
		wantCode(t, err, auth.CodeInvalidPassword)
		_, err = regenerateBackupCodes(e, ctx, token, pw("password1"))
		wantCode(t, err, auth.CodeTOTPRequired)
		_, err = regenerateBackupCodes(e, ctx, token, auth.Reauth{Password: "password1", BackupCode: ptr("zzzzzzzzzz")})
		wantCode(t, err, auth.CodeInvalidTOTP)
		codes, err := regenerateBackupCodes(e, ctx, token, auth.Reauth{Password: "password1", BackupCode: &s.BackupCodes[5]})
		if err != nil || len(codes) != 10 {
			t.Fatalf("regenerate: %v %v", codes, err)
		}
		if _, err := login(e, email, nil, &s.BackupCodes[0]); auth.CodeOf(err) != auth.CodeInvalidTOTP {
			t.Fatalf("old backup code after regenerate: %v", err)
		}
		if r, err := login(e, email, nil, &codes[0]); err != nil || r.Token == "" {
			t.Fatalf("new backup code: %v", err)
		}

		wantCode(t, disableTOTP(e, ctx, token, pw("wrong-password")), auth.CodeInvalidPassword)
		wantCode(t, disableTOTP(e, ctx, token, pw("password1")), auth.CodeTOTPRequired)
		e.clock.Advance(time.Minute) // a step no code has been used at
		if err := disableTOTP(e, ctx, token, auth.Reauth{Password: "password1", TOTPCode: ptr(code(t, s.Secret, e.clock.Now(), 0))}); err != nil {
			t.Fatal(err)
		}
		if r, err := login(e, email, nil, nil); err != nil || r.TOTPRequired || r.Token == "" {
			t.Fatalf("login after disable: %+v %v", r, err)
		}
		wantCode(t, disableTOTP(e, ctx, token, pw("password1")), auth.CodeTOTPNotEnabled)
		if st, _ := totpStatus(e, ctx, token); st.Enabled || st.Pending || st.BackupCodesRemaining != 0 {
			t.Fatalf("status after disable: %+v", st)
		}
		// A later setup issues a fresh secret and fresh codes; the old ones are dead.
		again, err := setupTOTP(e, ctx, token)
		if err != nil || again.Secret == s.Secret || again.BackupCodes[0] == codes[1] {
			t.Fatalf("second setup: %v", err)
		}
		e.clock.Advance(time.Minute)
		if err := verifyTOTP(e, ctx, token, code(t, again.Secret, e.clock.Now(), 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := login(e, email, nil, &codes[1]); auth.CodeOf(err) != auth.CodeInvalidTOTP {
			t.Fatalf("a code from before disable still works: %v", err)
		}
	})
}

func TestTOTPVerifyWithoutSetup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	r := register(t, e, "nosetup@example.com", "password1")
	wantCode(t, verifyTOTP(e, context.Background(), r.Token, "123456"), auth.CodeTOTPNotSetUp)
}

func TestBackupCodeUsedConcurrentlySucceedsOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		_, s := enable2FA(t, e, "race@example.com")
		const n = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, fails := 0, map[auth.Code]int{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each racer from its own address, so the brute-force policy does not interfere.
				r, err := loginFrom(fromIP(fmt.Sprintf("10.1.0.%d", i)), e, "race@example.com", nil, &s.BackupCodes[3])
				mu.Lock()
				defer mu.Unlock()
				if err == nil && r.Token != "" {
					wins++
				} else {
					fails[auth.CodeOf(err)]++
				}
			}()
		}
		wg.Wait()
		// Every loser is refused: as a spent code, or — once the racers' failures exceed the
		// account's second-factor budget — by the lock that budget sets.
		if wins != 1 || fails[auth.CodeInvalidTOTP]+fails[auth.CodeRateLimited] != n-1 {
			t.Fatalf("wins %d, failures %v: want exactly one success and %d refusals", wins, fails, n-1)
		}
	})
}

func TestTOTPCodeOnTwoInstancesSucceedsOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		a := newEnv(t, dbURL)
		b := newEnv(t, dbURL) // a second service with its own connection pool on the same database
		b.clock = a.clock
		_, s := enable2FA(t, a, "two@example.com")
		a.clock.Advance(30 * time.Second)
		c := code(t, s.Secret, a.clock.Now(), 0)
		var wg sync.WaitGroup
		results := make([]error, 10)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := a
				if i%2 == 1 {
					svc = b
				}
				_, results[i] = loginFrom(fromIP(fmt.Sprintf("10.2.0.%d", i)), svc, "two@example.com", &c, nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			if err == nil {
				ok++
			} else if auth.CodeOf(err) != auth.CodeInvalidTOTP {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d logins succeeded with one code, want 1", ok)
		}
	})
}

func TestSealedSecretIsBoundToItsUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	alice := register(t, e, "alice@example.com", "password1")
	mallory := register(t, e, "mallory@example.com", "password1")
	s, err := setupTOTP(e, ctx, alice.Token)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := e.store.UserByEmail(ctx, "alice@example.com")
	if au.TOTPPendingSecret == "" || strings.Contains(au.TOTPPendingSecret, s.Secret) {
		t.Fatalf("secret stored in clear: %q", au.TOTPPendingSecret)
	}
	// Move Alice's ciphertext onto Mallory's row: it must not decrypt there.
	if ok, err := e.store.SetPendingTOTP(ctx, mallory.User.ID, au.TOTPPendingSecret, e.clock.Now()); !ok || err != nil {
		t.Fatal(err)
	}
	if err := verifyTOTP(e, ctx, mallory.Token, code(t, s.Secret, e.clock.Now(), 0)); err == nil {
		t.Fatal("a secret moved to another account verified")
	}
	if st, _ := totpStatus(e, ctx, mallory.Token); st.Enabled {
		t.Fatal("2FA enabled with a foreign secret")
	}
}
