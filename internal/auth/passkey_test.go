package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/internal/webauthntest"
)

const (
	rpURL    = "https://auth.panguard.test"
	rpOrigin = "https://auth.panguard.test"
)

func withRP(c *auth.Config) { c.PublicURL = rpURL + "/" }

// honest is an authenticator that does everything right.
var honest = webauthntest.Options{Origin: rpOrigin}

// addPasskey registers a passkey for the account behind token, made with o, and returns it.
func addPasskey(t *testing.T, e env, token string, o webauthntest.Options) (auth.PasskeyInfo, *webauthntest.Credential) {
	t.Helper()
	ctx := context.Background()
	p := principal(t, e, token)
	c, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "password1"})
	if err != nil {
		t.Fatalf("begin registration: %v", err)
	}
	js, cred, err := webauthntest.Create(c.Options, o)
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.svc.FinishPasskeyRegistration(ctx, p, auth.PasskeyRegistration{ChallengeID: c.ChallengeID, Credential: js, Name: "  Laptop  "})
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return info, cred
}

// signIn runs a passkey sign-in on svc with cred, the authenticator behaving as o.
func signIn(svc *auth.Service, cred *webauthntest.Credential, o webauthntest.Options) (auth.LoginResult, error) {
	ctx := context.Background()
	c, err := svc.BeginPasskeyLogin(ctx)
	if err != nil {
		return auth.LoginResult{}, err
	}
	js, err := webauthntest.Get(c.Options, cred, o)
	if err != nil {
		return auth.LoginResult{}, err
	}
	return svc.FinishPasskeyLogin(ctx, c.ChallengeID, js)
}

func TestAPasskeySignsInAsBothFactorsWithASessionOfMethodPasskey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		ctx := context.Background()
		tok, setup := enable2FA(t, e, "pk@example.com")
		p := principal(t, e, tok)
		// With 2FA on, the password alone does not open a registration.
		if _, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "password1"}); auth.CodeOf(err) != auth.CodeTOTPRequired {
			t.Fatalf("without a code: %v", err)
		}
		if _, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "wrong-password"}); auth.CodeOf(err) != auth.CodeInvalidPassword {
			t.Fatalf("wrong password: %v", err)
		}
		e.clock.Advance(30 * time.Second)
		totp := code(t, setup.Secret, e.clock.Now(), 0)
		c, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "password1", TOTPCode: &totp})
		if err != nil {
			t.Fatal(err)
		}
		js, cred, _ := webauthntest.Create(c.Options, honest)
		info, err := e.svc.FinishPasskeyRegistration(ctx, p, auth.PasskeyRegistration{ChallengeID: c.ChallengeID, Credential: js, Name: "  Laptop  "})
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != "Laptop" || info.LastUsedAt != nil || info.ID[:3] != "pk_" {
			t.Fatalf("registered %+v", info)
		}
		e.clock.Advance(time.Minute)
		res, err := signIn(e.svc, cred, honest)
		if err != nil || res.Token == "" || res.User.Email != "pk@example.com" {
			t.Fatalf("sign-in: %+v %v", res, err)
		}
		sessions, err := e.svc.ListSessions(ctx, principal(t, e, res.Token))
		if err != nil || sessions[0].Method != auth.MethodPasskey || !sessions[0].Current {
			t.Fatalf("sessions %+v %v", sessions, err)
		}
		list, err := e.svc.ListPasskeys(ctx, p)
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(e.clock.Now()) {
			t.Fatalf("list %+v %v", list, err)
		}
		renamed, err := e.svc.RenamePasskey(ctx, p, info.ID, "Phone")
		if err != nil || renamed.Name != "Phone" {
			t.Fatalf("rename %+v %v", renamed, err)
		}
		exp, err := e.svc.ExportAccount(ctx, p)
		if err != nil || len(exp.Passkeys) != 1 || exp.Passkeys[0].Name != "Phone" {
			t.Fatalf("export %+v %v", exp.Passkeys, err)
		}
		page, err := e.svc.ListActivity(ctx, p, auth.ActivityQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range page.Events {
			if ev.Type == auth.EventLogin && ev.Detail["method"] == "passkey" {
				types = append(types, "passkey login")
			}
			types = append(types, ev.Type)
		}
		if !contains(types, auth.EventPasskeyAdded) || !contains(types, "passkey login") {
			t.Fatalf("activity %v", types)
		}
		// Removal needs re-authentication too.
		if err := e.svc.DeletePasskey(ctx, p, info.ID, auth.Reauth{Password: "wrong-password"}); auth.CodeOf(err) != auth.CodeInvalidPassword {
			t.Fatalf("remove with a wrong password: %v", err)
		}
		if err := e.svc.DeletePasskey(ctx, p, info.ID, auth.Reauth{Password: "password1"}); auth.CodeOf(err) != auth.CodeTOTPRequired {
			t.Fatalf("remove without a code: %v", err)
		}
		e.clock.Advance(30 * time.Second)
		totp = code(t, setup.Secret, e.clock.Now(), 0)
		if err := e.svc.DeletePasskey(ctx, p, info.ID, auth.Reauth{Password: "password1", TOTPCode: &totp}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * time.Second)
		totp = code(t, setup.Secret, e.clock.Now(), 0)
		if err := e.svc.DeletePasskey(ctx, p, info.ID, auth.Reauth{Password: "password1", TOTPCode: &totp}); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("remove again: %v", err)
		}
		if _, err := signIn(e.svc, cred, honest); !errors.Is(err, auth.ErrInvalidPasskey) {
			t.Fatalf("sign-in with a removed passkey: %v", err)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestPasskeySignInRefusesWhatDoesNotCheckOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		ctx := context.Background()
		alice := register(t, e, "alice@example.com", "password1")
		bob := register(t, e, "bob@example.com", "password1")
		_, bobCred := addPasskey(t, e, bob.Token, honest)
		low := uint32(1)
		cases := []struct {
			name string
			// run signs in with alice's fresh passkey cred; it returns the error of the
			// attempt under test.
			run  func(cred *webauthntest.Credential) error
			want error
		}{
			{"an honest assertion", func(cred *webauthntest.Credential) error { _, err := signIn(e.svc, cred, honest); return err }, nil},
			{"a replayed assertion, to a new challenge", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyLogin(ctx)
				js, _ := webauthntest.Get(c.Options, cred, honest)
				if _, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, js); err != nil {
					return err
				}
				c2, _ := e.svc.BeginPasskeyLogin(ctx)
				_, err := e.svc.FinishPasskeyLogin(ctx, c2.ChallengeID, js)
				return err
			}, auth.ErrInvalidPasskey},
			{"a reused challenge", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyLogin(ctx)
				js, _ := webauthntest.Get(c.Options, cred, honest)
				if _, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, js); err != nil {
					return err
				}
				js, _ = webauthntest.Get(c.Options, cred, honest)
				_, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, js)
				return err
			}, auth.ErrInvalidChallenge},
			{"an expired challenge", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyLogin(ctx)
				e.clock.Advance(auth.ChallengeTTL)
				js, _ := webauthntest.Get(c.Options, cred, honest)
				_, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, js)
				return err
			}, auth.ErrInvalidChallenge},
			{"a challenge that was never issued", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyLogin(ctx)
				js, _ := webauthntest.Get(c.Options, cred, honest)
				_, err := e.svc.FinishPasskeyLogin(ctx, "wch_00000000000000000000000000000000", js)
				return err
			}, auth.ErrInvalidChallenge},
			{"a registration challenge", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyRegistration(ctx, principal(t, e, alice.Token), auth.Reauth{Password: "password1"})
				js, _ := webauthntest.Get(c.Options, cred, honest)
				_, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, js)
				return err
			}, auth.ErrInvalidChallenge},
			{"a lowered sign count", func(cred *webauthntest.Credential) error {
				for range 3 {
					if _, err := signIn(e.svc, cred, honest); err != nil {
						return err
					}
				}
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: rpOrigin, SignCount: &low})
				return err
			}, auth.ErrInvalidPasskey},
			{"a credential of another account, claimed with this account's handle", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, bobCred, webauthntest.Options{Origin: rpOrigin, UserHandle: cred.UserHandle})
				return err
			}, auth.ErrInvalidPasskey},
			{"an unknown credential", func(cred *webauthntest.Credential) error {
				stranger := *cred
				stranger.ID = []byte("not-a-registered-credential-id")
				_, err := signIn(e.svc, &stranger, honest)
				return err
			}, auth.ErrInvalidPasskey},
			{"no user verification", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: rpOrigin, NoUV: true})
				return err
			}, auth.ErrInvalidPasskey},
			{"another origin", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: "https://evil.example"})
				return err
			}, auth.ErrInvalidPasskey},
			{"another RP id", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: rpOrigin, RPID: "evil.example"})
				return err
			}, auth.ErrInvalidPasskey},
			{"a signature over another challenge", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: rpOrigin, Challenge: []byte("0123456789abcdef0123456789abcdef")})
				return err
			}, auth.ErrInvalidPasskey},
			{"a backup-eligibility flag that appears", func(cred *webauthntest.Credential) error {
				_, err := signIn(e.svc, cred, webauthntest.Options{Origin: rpOrigin, BackupEligible: true})
				return err
			}, auth.ErrInvalidPasskey},
			{"malformed JSON", func(cred *webauthntest.Credential) error {
				c, _ := e.svc.BeginPasskeyLogin(ctx)
				_, err := e.svc.FinishPasskeyLogin(ctx, c.ChallengeID, []byte(`{"id": 1}`))
				return err
			}, auth.ErrInvalidPasskey},
			{"a suspended account", func(cred *webauthntest.Credential) error {
				now := e.clock.Now()
				if err := e.store.SetSuspended(ctx, principal(t, e, alice.Token).UserID, &now, "test", now); err != nil {
					return err
				}
				defer e.store.SetSuspended(ctx, alice.User.ID, nil, "", now)
				_, err := signIn(e.svc, cred, honest)
				return err
			}, auth.ErrSuspended},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, cred := addPasskey(t, e, alice.Token, honest)
				if err := tc.run(cred); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				// A fresh client budget for the next case: failures are throttled per IP.
				e.clock.Advance(time.Hour + time.Second)
			})
		}
	})
}

func TestASyncedPasskeyWhoseBackupStateFlipsStillSignsIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		r := register(t, e, "synced@example.com", "password1")
		_, cred := addPasskey(t, e, r.Token, webauthntest.Options{Origin: rpOrigin, BackupEligible: true, ZeroCounter: true})
		for _, st := range []struct {
			name string
			o    webauthntest.Options
			want error
		}{
			{"backed up since registration", webauthntest.Options{Origin: rpOrigin, BackupEligible: true, BackupState: true, ZeroCounter: true}, nil},
			{"backed up again", webauthntest.Options{Origin: rpOrigin, BackupEligible: true, BackupState: true, ZeroCounter: true}, nil},
			{"no longer backed up", webauthntest.Options{Origin: rpOrigin, BackupEligible: true, ZeroCounter: true}, nil},
			{"no longer backup eligible", webauthntest.Options{Origin: rpOrigin, ZeroCounter: true}, auth.ErrInvalidPasskey},
			{"backed up but not eligible", webauthntest.Options{Origin: rpOrigin, BackupState: true, ZeroCounter: true}, auth.ErrInvalidPasskey},
		} {
			_, err := signIn(e.svc, cred, st.o)
			if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
				t.Fatalf("%s: %v, want %v", st.name, err, st.want)
			}
		}
	})
}

func TestAPasskeyCeremonyBegunOnOneReplicaFinishesOnAnother(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		other, err := auth.New(auth.Config{Store: e.store, Now: e.clock.Now, JWTSecret: []byte(secret), EncryptionKey: encKey, Hash: cheapHash, PublicURL: rpURL})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		r := register(t, e, "replica@example.com", "password1")
		p := principal(t, e, r.Token)
		c, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		js, cred, _ := webauthntest.Create(c.Options, honest)
		if _, err := other.FinishPasskeyRegistration(ctx, p, auth.PasskeyRegistration{ChallengeID: c.ChallengeID, Credential: js}); err != nil {
			t.Fatalf("registration finished on the other replica: %v", err)
		}
		lc, err := other.BeginPasskeyLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		as, _ := webauthntest.Get(lc.Options, cred, honest)
		if _, err := e.svc.FinishPasskeyLogin(ctx, lc.ChallengeID, as); err != nil {
			t.Fatalf("sign-in finished on the first replica: %v", err)
		}
		if _, err := other.FinishPasskeyLogin(ctx, lc.ChallengeID, as); !errors.Is(err, auth.ErrInvalidChallenge) {
			t.Fatalf("the same challenge on the other replica: %v", err)
		}
	})
}

func TestPasskeyRegistrationRefusesWhatDoesNotCheckOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		ctx := context.Background()
		alice := register(t, e, "alice@example.com", "password1")
		bob := register(t, e, "bob@example.com", "password1")
		pa, pb := principal(t, e, alice.Token), principal(t, e, bob.Token)
		_, aliceCred := addPasskey(t, e, alice.Token, honest)
		begin := func(p auth.Principal) auth.PasskeyCeremony {
			c, err := e.svc.BeginPasskeyRegistration(ctx, p, auth.Reauth{Password: "password1"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		finish := func(p auth.Principal, c auth.PasskeyCeremony, o webauthntest.Options, name string) error {
			js, _, _ := webauthntest.Create(c.Options, o)
			_, err := e.svc.FinishPasskeyRegistration(ctx, p, auth.PasskeyRegistration{ChallengeID: c.ChallengeID, Credential: js, Name: name})
			return err
		}
		cases := []struct {
			name string
			run  func() error
			code auth.Code
			kind auth.Kind
		}{
			{"no user verification", func() error { return finish(pa, begin(pa), webauthntest.Options{Origin: rpOrigin, NoUV: true}, "") }, auth.CodeInvalidPasskey, auth.KindInvalid},
			{"another origin", func() error {
				return finish(pa, begin(pa), webauthntest.Options{Origin: "http://auth.panguard.test"}, "")
			}, auth.CodeInvalidPasskey, auth.KindInvalid},
			{"another RP id", func() error {
				return finish(pa, begin(pa), webauthntest.Options{Origin: rpOrigin, RPID: "panguard.test"}, "")
			}, auth.CodeInvalidPasskey, auth.KindInvalid},
			{"another account's challenge", func() error { return finish(pa, begin(pb), honest, "") }, auth.CodeInvalidChallenge, auth.KindInvalid},
			{"an expired challenge", func() error {
				c := begin(pa)
				e.clock.Advance(auth.ChallengeTTL + time.Millisecond)
				return finish(pa, c, honest, "")
			}, auth.CodeInvalidChallenge, auth.KindInvalid},
			{"a reused challenge", func() error {
				c := begin(pa)
				if err := finish(pa, c, honest, ""); err != nil {
					return err
				}
				return finish(pa, c, honest, "")
			}, auth.CodeInvalidChallenge, auth.KindInvalid},
			{"a name of 101 characters", func() error { return finish(pa, begin(pa), honest, string(make([]rune, 101))) }, auth.CodeValidation, auth.KindInvalid},
			{"a credential another account registered", func() error {
				return finish(pb, begin(pb), webauthntest.Options{Origin: rpOrigin, CredentialID: aliceCred.ID}, "")
			}, auth.CodeConflict, auth.KindConflict},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run()
				if auth.CodeOf(err) != tc.code || auth.KindOf(err) != tc.kind {
					t.Fatalf("error %v, want %s (kind %d)", err, tc.code, tc.kind)
				}
			})
		}
	})
}

func TestDeletingTheAccountDeletesItsPasskeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, withRP)
		ctx := context.Background()
		r := register(t, e, "gone@example.com", "password1")
		_, cred := addPasskey(t, e, r.Token, honest)
		if err := e.svc.DeleteAccount(ctx, principal(t, e, r.Token), auth.Reauth{Password: "password1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.PasskeyByCredentialID(ctx, cred.ID); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("passkey after deletion: %v", err)
		}
		if _, err := signIn(e.svc, cred, honest); !errors.Is(err, auth.ErrInvalidPasskey) {
			t.Fatalf("sign-in after deletion: %v", err)
		}
	})
}

func TestPasskeysNeedAPublicURLOnADomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), func(c *auth.Config) { c.PublicURL = "http://127.0.0.1:3000" })
	if _, err := e.svc.BeginPasskeyLogin(context.Background()); !errors.Is(err, auth.ErrPasskeysUnavailable) {
		t.Fatalf("begin on an IP address: %v", err)
	}
}

// TestAPasswordResetRemovesPasskeysEnrolledBeforeTheAddressWasProved: someone who registered
// another person's address and added a passkey must not keep signing in after the owner
// proves the mailbox with a reset; passkeys added once the address was proved stay.
func TestAPasswordResetRemovesPasskeysEnrolledBeforeTheAddressWasProved(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                      string
		verifyBefore, verifyAfter bool // the address proved before / after the passkey was added
		kept                      bool
	}{
		{"never proved: the squatter's passkey goes", false, false, false},
		{"proved only after it was added: it goes", false, true, false},
		{"added once the address was proved: it stays", true, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, dbURL string) {
				e := newEnv(t, dbURL, withRP)
				box := &inbox{}
				s := newSender(e, box)
				ctx := context.Background()
				r := register(t, e, "owner@example.com", "password1")
				settle(t, s, box)
				verify := func() {
					e.clock.Advance(time.Minute)
					if _, err := e.store.MarkEmailVerified(ctx, r.User.ID, e.clock.Now()); err != nil {
						t.Fatal(err)
					}
					e.clock.Advance(time.Minute)
				}
				if c.verifyBefore {
					verify()
				}
				info, cred := addPasskey(t, e, r.Token, honest)
				if c.verifyAfter {
					verify()
				}
				settle(t, s, box)
				if err := e.svc.ForgotPassword(ctx, "owner@example.com"); err != nil {
					t.Fatal(err)
				}
				drain(t, s)
				if err := e.svc.ResetPassword(ctx, tokenIn(t, box.take()[0]), "owners-password"); err != nil {
					t.Fatal(err)
				}
				_, err := signIn(e.svc, cred, honest)
				if kept := err == nil; kept != c.kept {
					t.Fatalf("passkey sign-in after the reset: %v, want it kept: %v", err, c.kept)
				}
				if !c.kept && !errors.Is(err, auth.ErrInvalidPasskey) {
					t.Fatalf("sign-in with the removed passkey: %v, want ErrInvalidPasskey", err)
				}
				lr, err := e.svc.Login(ctx, auth.LoginInput{Email: "owner@example.com", Password: "owners-password"})
				if err != nil {
					t.Fatal(err)
				}
				evs, err := e.svc.ListActivity(ctx, principal(t, e, lr.Token), auth.ActivityQuery{})
				if err != nil {
					t.Fatal(err)
				}
				removed := false
				for _, ev := range evs.Events {
					removed = removed || (ev.Type == auth.EventPasskeyRemoved && ev.Detail["passkeyId"] == info.ID && ev.Detail["by"] == "password_reset")
				}
				if removed == c.kept {
					t.Fatalf("passkey_removed by password_reset recorded: %v, want %v", removed, !c.kept)
				}
			})
		})
	}
}
