package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/argon2"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var cheapHash = auth.HashParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

const secret = "0123456789abcdef0123456789abcdef"

var encKey = []byte("an-encryption-key-of-32-bytes!!!")

type env struct {
	svc   *auth.Service
	clock *clock
	store auth.Store
}

func newEnv(t *testing.T, dbURL string, mod ...func(*auth.Config)) env {
	t.Helper()
	st := storetest.Open(t, dbURL)
	c := &clock{now: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)}
	cfg := auth.Config{Store: st, Now: c.Now, JWTSecret: []byte(secret), EncryptionKey: encKey, Hash: cheapHash}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return env{svc: svc, clock: c, store: st}
}

func register(t *testing.T, e env, email, password string) auth.RegisterResult {
	t.Helper()
	r, err := e.svc.Register(context.Background(), auth.RegisterInput{Email: email, Name: "Alice Chen", Password: password})
	if err != nil || !r.Created {
		t.Fatalf("register %s: created=%v err=%v", email, r.Created, err)
	}
	return r
}

func wantCode(t *testing.T, err error, code auth.Code) {
	t.Helper()
	if got := auth.CodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	cases := []struct {
		name, email, userName, password string
		ok                              bool
	}{
		{"name of 1 character", "n1@example.com", "A", "password", true},
		{"name of 100 characters", "n100@example.com", strings.Repeat("é", 100), "password", true},
		{"name of 101 characters", "n101@example.com", strings.Repeat("é", 101), "password", false},
		{"name empty after trimming", "n0@example.com", "   \t ", "password", false},
		{"name trimmed to 100", "n100t@example.com", "  " + strings.Repeat("a", 100) + "  ", "password", true},
		{"name with control character", "nc@example.com", "Al\x00ice", "password", false},
		{"password of 7 characters", "p7@example.com", "A", "1234567", false},
		{"password of 8 characters", "p8@example.com", "A", "12345678", true},
		{"password of 8 multibyte characters", "p8m@example.com", "A", "密密密密密密密密", true},
		{"password of 7 multibyte characters", "p7m@example.com", "A", "密密密密密密密", false},
		{"password of 128 characters", "p128@example.com", "A", strings.Repeat("x", 128), true},
		{"password of 129 characters", "p129@example.com", "A", strings.Repeat("x", 129), false},
		{"email with spaces and capitals", "  MiXed@Example.COM ", "A", "password", true},
		{"email without at", "nobody.example.com", "A", "password", false},
		{"email without domain dot", "a@localhost", "A", "password", false},
		{"email with display name", "Alice <a@example.com>", "A", "password", false},
		{"email empty", "", "A", "password", false},
		{"email too long", strings.Repeat("a", 250) + "@example.com", "A", "password", false},
		{"email domain with a pipe", "x@a.b|c", "A", "password", false},
		{"email domain of percent signs", "p@%.%", "A", "password", false},
		{"email domain label starting with a hyphen", "x@-a.com", "A", "password", false},
		{"email with an internationalized domain", "jörg@bücher.de", "A", "password", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.svc.Register(context.Background(), auth.RegisterInput{Email: tc.email, Name: tc.userName, Password: tc.password})
			if tc.ok {
				if err != nil || !r.Created {
					t.Fatalf("want created, got %+v, %v", r, err)
				}
				if r.User.Email != strings.ToLower(strings.TrimSpace(tc.email)) || r.User.Name != strings.TrimSpace(tc.userName) {
					t.Fatalf("stored %q/%q, want normalized", r.User.Email, r.User.Name)
				}
				return
			}
			wantCode(t, err, auth.CodeValidation)
		})
	}
}

func TestTrialAndTiers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		r := register(t, e, "trial@example.com", "password1")
		if r.User.Tier != auth.TierSolo || *r.User.MachineLimit != 3 {
			t.Fatalf("new account: tier %s limit %v, want solo 3", r.User.Tier, *r.User.MachineLimit)
		}
		if want := e.clock.Now().Add(14 * 24 * time.Hour); !r.User.TrialEndsAt.Equal(want) {
			t.Fatalf("trialEndsAt %v, want %v", r.User.TrialEndsAt, want)
		}
		steps := []struct {
			name      string
			advance   time.Duration
			wantTier  auth.Tier
			wantLimit int
		}{
			{"one second before the trial ends", 14*24*time.Hour - time.Second, auth.TierSolo, 3},
			{"the moment the trial ends", time.Second, auth.TierCommunity, 1},
			{"long after", 300 * 24 * time.Hour, auth.TierCommunity, 1},
		}
		for _, s := range steps {
			e.clock.Advance(s.advance)
			// A fresh login each step: the token lifetime is shorter than the trial.
			lr, err := e.svc.Login(context.Background(), auth.LoginInput{Email: "trial@example.com", Password: "password1"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := me(e, context.Background(), lr.Token)
			if err != nil {
				t.Fatal(err)
			}
			if p.Tier != s.wantTier || *p.MachineLimit != s.wantLimit || p.TrialEndsAt == nil {
				t.Fatalf("%s: tier %s limit %d, want %s %d", s.name, p.Tier, *p.MachineLimit, s.wantTier, s.wantLimit)
			}
		}
	})
}

func TestMachineLimitPerTier(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tier  auth.Tier
		limit *int
	}{
		{auth.TierCommunity, ptr(1)}, {auth.TierSolo, ptr(3)}, {auth.TierPro, ptr(10)},
		{auth.TierBusiness, ptr(25)}, {auth.TierEnterprise, nil},
	}
	for _, tc := range cases {
		t.Run(string(tc.tier), func(t *testing.T) {
			got := tc.tier.MachineLimit()
			if (got == nil) != (tc.limit == nil) || (got != nil && *got != *tc.limit) {
				t.Fatalf("MachineLimit(%s) = %v, want %v", tc.tier, got, tc.limit)
			}
			// A paid plan has no trial end and keeps its tier forever.
			u := auth.User{Tier: tc.tier}
			if u.EffectiveTier(time.Now().Add(1000*24*time.Hour)) != tc.tier {
				t.Fatal("paid plan lost its tier")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDuplicateRegistration(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		first := register(t, e, "dup@example.com", "password1")
		r, err := e.svc.Register(context.Background(), auth.RegisterInput{Email: " DUP@example.com", Name: "Mallory", Password: "otherpass"})
		if err != nil || r.Created || r.Token != "" || r.Message != auth.MsgRegisterDuplicate {
			t.Fatalf("duplicate: %+v, %v", r, err)
		}
		// The existing account is untouched: old password works, new one does not, name unchanged.
		lr, err := e.svc.Login(context.Background(), auth.LoginInput{Email: "dup@example.com", Password: "password1"})
		if err != nil || lr.User.Name != "Alice Chen" || lr.User.ID != first.User.ID {
			t.Fatalf("original login: %+v, %v", lr, err)
		}
		_, err = e.svc.Login(context.Background(), auth.LoginInput{Email: "dup@example.com", Password: "otherpass"})
		wantCode(t, err, auth.CodeInvalidCredentials)
	})
}

func TestConcurrentRegistrationCreatesOneAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		const n = 16
		var wg sync.WaitGroup
		results := make([]auth.RegisterResult, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = e.svc.Register(context.Background(), auth.RegisterInput{Email: "race@example.com", Name: "Racer", Password: "password1"})
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("registration %d failed: %v", i, errs[i])
			}
			if results[i].Created {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%d accounts created, want exactly 1", created)
		}
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		register(t, e, "login@example.com", "password1")
		cases := []struct {
			name     string
			in       auth.LoginInput
			wantCode auth.Code
		}{
			{"right password", auth.LoginInput{Email: "login@example.com", Password: "password1"}, ""},
			{"email in other case and spaces", auth.LoginInput{Email: " LOGIN@example.com ", Password: "password1"}, ""},
			{"wrong password", auth.LoginInput{Email: "login@example.com", Password: "password2"}, auth.CodeInvalidCredentials},
			{"unknown email", auth.LoginInput{Email: "nobody@example.com", Password: "password1"}, auth.CodeInvalidCredentials},
			{"empty password", auth.LoginInput{Email: "login@example.com"}, auth.CodeValidation},
			{"both second factors", auth.LoginInput{Email: "login@example.com", Password: "password1", TOTPCode: ptr("123456"), BackupCode: ptr("abcdefghij")}, auth.CodeValidation},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r, err := e.svc.Login(context.Background(), tc.in)
				if tc.wantCode != "" {
					wantCode(t, err, tc.wantCode)
					if tc.wantCode == auth.CodeInvalidCredentials && err.Error() != auth.ErrInvalidCredentials.Error() {
						t.Fatalf("message differs: %v", err)
					}
					return
				}
				if err != nil || r.Token == "" || r.TOTPRequired {
					t.Fatalf("login: %+v, %v", r, err)
				}
			})
		}
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, func(c *auth.Config) { c.TokenTTL = time.Hour })
		ctx := context.Background()
		r := register(t, e, "sess@example.com", "password1")
		second, err := e.svc.Login(ctx, auth.LoginInput{Email: "sess@example.com", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := logout(e, ctx, r.Token); err != nil {
			t.Fatal(err)
		}
		_, err = me(e, ctx, r.Token)
		wantCode(t, err, auth.CodeUnauthenticated)
		wantCode(t, logout(e, ctx, r.Token), auth.CodeUnauthenticated)
		if _, err := me(e, ctx, second.Token); err != nil {
			t.Fatalf("other session died with logout: %v", err)
		}
		// Expiry comes from the clock, no sleeping.
		e.clock.Advance(time.Hour + time.Minute)
		_, err = me(e, ctx, second.Token)
		wantCode(t, err, auth.CodeUnauthenticated)
	})
}

func TestPasswordRehashOnLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		weak := auth.HashParams{MemoryKiB: 512, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
		e := newEnv(t, dbURL, func(c *auth.Config) { c.Hash = weak })
		register(t, e, "rehash@example.com", "password1")
		before, _ := e.store.UserByEmail(context.Background(), "rehash@example.com")
		if !strings.HasPrefix(before.PasswordHash, "$argon2id$v=19$m=512,t=1,p=1$") {
			t.Fatalf("unexpected hash %q", before.PasswordHash)
		}
		// The same database, now served with stronger parameters.
		strong, err := auth.New(auth.Config{Store: e.store, Now: e.clock.Now, JWTSecret: []byte(secret), EncryptionKey: encKey, Hash: cheapHash})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strong.Login(context.Background(), auth.LoginInput{Email: "rehash@example.com", Password: "password1"}); err != nil {
			t.Fatal(err)
		}
		after, _ := e.store.UserByEmail(context.Background(), "rehash@example.com")
		if !strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("hash not upgraded: %q", after.PasswordHash)
		}
		if _, err := strong.Login(context.Background(), auth.LoginInput{Email: "rehash@example.com", Password: "password1"}); err != nil {
			t.Fatalf("login after rehash: %v", err)
		}
	})
}

func TestDefaultHashParamsMeetTheMinimum(t *testing.T) {
	t.Parallel()
	p := auth.DefaultHashParams
	if p.MemoryKiB < 19*1024 || p.Iterations < 2 || p.Parallelism < 1 {
		t.Fatalf("defaults %+v weaker than m=19MiB t=2 p=1", p)
	}
}

func TestTokenForgeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	switchedAt := e.clock.Now() // the first Ed25519 key is made with the service
	e.clock.Advance(time.Hour)
	r := register(t, e, "tok@example.com", "password1")
	good, _, _ := jwt.NewParser().ParseUnverified(r.Token, jwt.MapClaims{})
	claims := good.Claims.(jwt.MapClaims)
	kid, priv := e.svc.SigningKeyForTest()
	if good.Method.Alg() != "EdDSA" || good.Header["kid"] != kid {
		t.Fatalf("token header %v", good.Header)
	}
	sign := func(method jwt.SigningMethod, key any, header map[string]any, mutate func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		tok := jwt.NewWithClaims(method, c)
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ed := func(mutate func(jwt.MapClaims)) string {
		return sign(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid}, mutate)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	legacy := func(iat time.Time) string {
		return sign(jwt.SigningMethodHS256, []byte(secret), nil, func(c jwt.MapClaims) {
			c["iss"], c["iat"], c["nbf"] = auth.LegacyIssuer, iat.Unix(), iat.Unix()
		})
	}
	now := e.clock.Now()
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"the real token", r.Token, true},
		{"re-signed with the same key", ed(nil), true},
		{"an HS256 token issued before the switch to Ed25519", legacy(switchedAt.Add(-time.Minute)), true},
		{"an HS256 token issued after the switch", legacy(switchedAt.Add(time.Second)), false},
		{"HS256 with the service's issuer", sign(jwt.SigningMethodHS256, []byte(secret), nil, nil), false},
		{"HS256 with the public key as the secret", sign(jwt.SigningMethodHS256, []byte(pub), map[string]any{"kid": kid}, nil), false},
		{"HS256 with a kid", sign(jwt.SigningMethodHS256, []byte(secret), map[string]any{"kid": kid}, nil), false},
		{"empty", "", false},
		{"garbage", "not.a.jwt", false},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": kid}, nil), false},
		{"RS256 under our kid", sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid}, nil), false},
		{"another Ed25519 key under the kid", sign(jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": kid}, nil), false},
		{"an unknown kid", sign(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": "k0000000000000000"}, nil), false},
		{"no kid", sign(jwt.SigningMethodEdDSA, priv, nil, nil), false},
		{"a jku header", sign(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid, "jku": "https://evil.example/jwks"}, nil), false},
		{"an x5u header", sign(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid, "x5u": "https://evil.example/cert"}, nil), false},
		{"an embedded jwk", sign(jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid, "jwk": map[string]any{"kty": "OKP"}}, nil), false},
		{"expired", ed(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), false},
		{"not yet valid", ed(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), false},
		{"no expiry", ed(func(c jwt.MapClaims) { delete(c, "exp") }), false},
		{"no issued-at", ed(func(c jwt.MapClaims) { delete(c, "iat") }), false},
		{"wrong issuer", ed(func(c jwt.MapClaims) { c["iss"] = "evil" }), false},
		{"the legacy issuer on an Ed25519 token", ed(func(c jwt.MapClaims) { c["iss"] = auth.LegacyIssuer }), false},
		{"wrong audience", ed(func(c jwt.MapClaims) { c["aud"] = "evil" }), false},
		{"unknown session", ed(func(c jwt.MapClaims) { c["sid"] = "ses_nope" }), false},
		{"session of another subject", ed(func(c jwt.MapClaims) { c["sub"] = "usr_other" }), false},
		{"tampered payload", r.Token[:len(r.Token)-3] + "AAA", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := me(e, ctx, tc.token)
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok {
				wantCode(t, err, auth.CodeUnauthenticated)
			}
		})
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	slow := auth.NewHasher(auth.HashParams{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1, SaltLen: 16, KeyLen: 32}, randReader{}, 1, time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := slow.Hash(context.Background(), "password")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	busy := 0
	for err := range errs {
		if errors.Is(err, auth.ErrBusy) {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("four simultaneous slow hashes on one slot with 1ms wait: want at least one ErrBusy")
	}
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// The authenticated operations, called the way a transport calls them: the token is
// authenticated once, at the edge, and the operation gets the principal.

func me(e env, ctx context.Context, token string) (auth.Profile, error) {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return auth.Profile{}, err
	}
	return e.svc.Me(ctx, p)
}

func logout(e env, ctx context.Context, token string) error {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	return e.svc.Logout(ctx, p)
}

func setupTOTP(e env, ctx context.Context, token string) (auth.TOTPSetup, error) {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return auth.TOTPSetup{}, err
	}
	return e.svc.SetupTOTP(ctx, p)
}

func verifyTOTP(e env, ctx context.Context, token, code string) error {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	return e.svc.VerifyTOTP(ctx, p, code)
}

func disableTOTP(e env, ctx context.Context, token string, r auth.Reauth) error {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	return e.svc.DisableTOTP(ctx, p, r)
}

func totpStatus(e env, ctx context.Context, token string) (auth.TOTPStatus, error) {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return auth.TOTPStatus{}, err
	}
	return e.svc.TOTPStatus(ctx, p)
}

func regenerateBackupCodes(e env, ctx context.Context, token string, r auth.Reauth) ([]string, error) {
	p, err := e.svc.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	return e.svc.RegenerateBackupCodes(ctx, p, r)
}

// A Principal comes only from Authenticate: an adapter that forgot to authenticate (and
// passes the zero value, or one it made up) is refused by every authenticated operation.
func TestAuthenticatedOperationsRefuseAPrincipalAuthenticateDidNotMake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	r := register(t, e, "edge@example.com", "password1")
	real, err := e.svc.Authenticate(context.Background(), r.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range []auth.Principal{{}, {UserID: real.UserID, SessionID: real.SessionID, Role: real.Role}} {
		ops := []struct {
			name string
			call func() error
		}{
			{"Me", func() error { _, err := e.svc.Me(ctx, p); return err }},
			{"Logout", func() error { return e.svc.Logout(ctx, p) }},
			{"SetupTOTP", func() error { _, err := e.svc.SetupTOTP(ctx, p); return err }},
			{"VerifyTOTP", func() error { return e.svc.VerifyTOTP(ctx, p, "123456") }},
			{"DisableTOTP", func() error { return e.svc.DisableTOTP(ctx, p, pw("password1")) }},
			{"TOTPStatus", func() error { _, err := e.svc.TOTPStatus(ctx, p); return err }},
			{"RegenerateBackupCodes", func() error { _, err := e.svc.RegenerateBackupCodes(ctx, p, pw("password1")); return err }},
		}
		for _, op := range ops {
			wantCode(t, op.call(), auth.CodeUnauthenticated)
		}
	}
	if _, err := e.svc.Me(ctx, real); err != nil {
		t.Fatalf("the real principal: %v", err)
	}
}

// pw is a re-authentication with a password only.
func pw(password string) auth.Reauth { return auth.Reauth{Password: password} }

// TestAnOverlongPasswordIsWrongNotAFailure: a password longer than any that can be stored
// (JSON turns each invalid byte into a 3-byte U+FFFD, so a 64 KiB body can carry 190 KB)
// verifies as wrong, without reaching a deriver that refuses long input (as the hash workers
// do) and without an error.
func TestAnOverlongPasswordIsWrongNotAFailure(t *testing.T) {
	p := auth.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	h := auth.NewHasher(p, randReader{}, 1, time.Second)
	enc, err := h.Hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	h.SetDeriver(func(ctx context.Context, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
		if len(password) > 4*auth.PasswordMaxChars {
			return nil, errors.New("the deriver saw a password of " + strconv.Itoa(len(password)) + " bytes")
		}
		return argon2.IDKey(password, salt, time, memory, threads, keyLen), nil
	})
	for _, pw := range []string{strings.Repeat("\ufffd", 65000), "password1" + strings.Repeat("x", 4*auth.PasswordMaxChars)} {
		ok, _, err := h.Verify(context.Background(), pw, enc)
		if ok || err != nil {
			t.Fatalf("Verify(%d bytes) = %v, %v; want false, nil", len(pw), ok, err)
		}
	}
	if ok, _, err := h.Verify(context.Background(), "password1", enc); !ok || err != nil {
		t.Fatalf("the right password: %v, %v", ok, err)
	}
}
