package sdk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/servertest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/internal/webauthntest"
	"panguard.ai/auth/sdk"
)

// testClock is a settable clock shared by the replicas of one test.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// origin is the servertest service's public URL: the only origin passkeys are accepted from.
const origin = "http://panguard.test"

var honestKey = webauthntest.Options{Origin: origin}

// replicas starts two services on one database with one clock, and returns a client of each.
func replicas(t *testing.T, dbURL string, clk *testClock) (*sdk.Client, *sdk.Client, *syncBuffer) {
	t.Helper()
	var log syncBuffer
	var out []*sdk.Client
	for range 2 {
		cfg := servertest.Config(dbURL)
		cfg.Now = clk.Now
		srv, err := servertest.Start(cfg, slog.New(slog.NewJSONHandler(io.MultiWriter(&log), nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		c, err := sdk.New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out[0], out[1], &log
}

// addPasskeyVia registers a passkey through c (bearing a session), begun on c and finished on
// finisher (bearing the same session).
func addPasskeyVia(t *testing.T, c, finisher *sdk.Client, o webauthntest.Options) (*sdk.Passkey, *webauthntest.Credential) {
	t.Helper()
	ctx := context.Background()
	cer, err := c.BeginPasskeyRegistration(ctx, testPassword)
	if err != nil {
		t.Fatalf("begin registration: %v", err)
	}
	js, cred, err := webauthntest.Create(cer.Options, o)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := finisher.FinishPasskeyRegistration(ctx, cer.ChallengeID, js, "Work laptop")
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return pk, cred
}

// passkeySignIn begins on begin and finishes on finish.
func passkeySignIn(begin, finish *sdk.Client, cred *webauthntest.Credential, o webauthntest.Options) (*sdk.Session, error) {
	ctx := context.Background()
	cer, err := begin.BeginPasskeyLogin(ctx)
	if err != nil {
		return nil, err
	}
	js, err := webauthntest.Get(cer.Options, cred, o)
	if err != nil {
		return nil, err
	}
	return finish.FinishPasskeyLogin(ctx, cer.ChallengeID, js)
}

func TestPasskeysThroughTheSDKOnEveryDatabaseAndAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clk := &testClock{now: time.Now().UTC()}
		a, b, log := replicas(t, dbURL, clk)
		register := func(email string) (*sdk.Client, *sdk.Client) {
			reg, err := a.Register(ctx, email, "Passkey User", testPassword)
			if err != nil || reg.Session == nil {
				t.Fatalf("register: %v", err)
			}
			return a.WithToken(reg.Session.Token), b.WithToken(reg.Session.Token)
		}
		aliceA, aliceB := register("alice-pk@example.com")
		bobA, bobB := register("bob-pk@example.com")

		// Registration needs the password; begun on one replica, it finishes on the other.
		if _, err := aliceA.BeginPasskeyRegistration(ctx, "wrong-password"); !errors.Is(err, sdk.ErrInvalidPassword) {
			t.Fatalf("begin with a wrong password: %v", err)
		}
		pk, cred := addPasskeyVia(t, aliceA, aliceB, honestKey)
		if pk.Name != "Work laptop" || !strings.HasPrefix(pk.ID, "pk_") {
			t.Fatalf("passkey %+v", pk)
		}
		_, bobCred := addPasskeyVia(t, bobB, bobA, honestKey)

		// Signing in: begun on B, finished on A; both factors at once, a passkey session.
		s, err := passkeySignIn(b, a, cred, honestKey)
		if err != nil || s.Token == "" || s.User.Email != "alice-pk@example.com" {
			t.Fatalf("sign-in: %+v %v", s, err)
		}
		sessions, err := a.WithToken(s.Token).ListSessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		current := 0
		for _, ses := range sessions {
			if ses.Current {
				current++
				if ses.Method != "passkey" {
					t.Fatalf("the passkey session's method is %q", ses.Method)
				}
			}
		}
		if current != 1 {
			t.Fatalf("%d current sessions in %+v", current, sessions)
		}

		low := uint32(1)
		cases := []struct {
			name string
			run  func() error
			want *sdk.Error
		}{
			{"an honest sign-in", func() error { _, err := passkeySignIn(a, b, cred, honestKey); return err }, nil},
			{"a replayed assertion", func() error {
				cer, _ := a.BeginPasskeyLogin(ctx)
				js, _ := webauthntest.Get(cer.Options, cred, honestKey)
				if _, err := a.FinishPasskeyLogin(ctx, cer.ChallengeID, js); err != nil {
					return err
				}
				again, _ := b.BeginPasskeyLogin(ctx)
				_, err := b.FinishPasskeyLogin(ctx, again.ChallengeID, js)
				return err
			}, sdk.ErrInvalidPasskey},
			{"a reused challenge, on the other replica", func() error {
				cer, _ := a.BeginPasskeyLogin(ctx)
				js, _ := webauthntest.Get(cer.Options, cred, honestKey)
				if _, err := a.FinishPasskeyLogin(ctx, cer.ChallengeID, js); err != nil {
					return err
				}
				js, _ = webauthntest.Get(cer.Options, cred, honestKey)
				_, err := b.FinishPasskeyLogin(ctx, cer.ChallengeID, js)
				return err
			}, sdk.ErrInvalidChallenge},
			{"an expired challenge", func() error {
				cer, _ := a.BeginPasskeyLogin(ctx)
				clk.Advance(5*time.Minute + time.Second)
				js, _ := webauthntest.Get(cer.Options, cred, honestKey)
				_, err := b.FinishPasskeyLogin(ctx, cer.ChallengeID, js)
				return err
			}, sdk.ErrInvalidChallenge},
			{"a lowered sign count", func() error {
				_, err := passkeySignIn(a, b, cred, webauthntest.Options{Origin: origin, SignCount: &low})
				return err
			}, sdk.ErrInvalidPasskey},
			{"a credential registered to another user", func() error {
				_, err := passkeySignIn(a, b, bobCred, webauthntest.Options{Origin: origin, UserHandle: cred.UserHandle})
				return err
			}, sdk.ErrInvalidPasskey},
			{"no user verification", func() error {
				_, err := passkeySignIn(a, b, cred, webauthntest.Options{Origin: origin, NoUV: true})
				return err
			}, sdk.ErrInvalidPasskey},
			{"a phishing origin", func() error {
				_, err := passkeySignIn(a, b, cred, webauthntest.Options{Origin: "http://panguard.test.evil.example"})
				return err
			}, sdk.ErrInvalidPasskey},
			{"another RP id", func() error {
				_, err := passkeySignIn(a, b, cred, webauthntest.Options{Origin: origin, RPID: "evil.example"})
				return err
			}, sdk.ErrInvalidPasskey},
			{"a challenge id never issued", func() error {
				_, err := a.FinishPasskeyLogin(ctx, "wch_nope", []byte(`{}`))
				return err
			}, sdk.ErrInvalidChallenge},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run()
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				// Failures are throttled per client like wrong passwords: let them decay.
				clk.Advance(time.Hour + time.Second)
			})
		}

		// A synced passkey whose backup state flips keeps working.
		clk.Advance(time.Hour)
		_, synced := addPasskeyVia(t, bobA, bobB, webauthntest.Options{Origin: origin, BackupEligible: true, ZeroCounter: true})
		for _, bs := range []bool{true, false, true} {
			if _, err := passkeySignIn(a, b, synced, webauthntest.Options{Origin: origin, BackupEligible: true, BackupState: bs, ZeroCounter: true}); err != nil {
				t.Fatalf("synced passkey with backup state %v: %v", bs, err)
			}
		}

		// Manage: rename, list, export, remove (re-authenticated), and the notice email.
		fresh, err := a.Login(ctx, "alice-pk@example.com", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		alice := a.WithToken(fresh.Token)
		if _, err := alice.RenamePasskey(ctx, pk.ID, "Phone"); err != nil {
			t.Fatal(err)
		}
		if _, err := bobA.WithToken(mustToken(t, a, "bob-pk@example.com")).RenamePasskey(ctx, pk.ID, "Mine now"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("renaming another account's passkey: %v", err)
		}
		list, err := alice.ListPasskeys(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "Phone" || list[0].LastUsedAt == nil {
			t.Fatalf("list: %+v %v", list, err)
		}
		x, err := alice.ExportAccount(ctx)
		if err != nil || len(x.Passkeys) != 1 || x.Passkeys[0].ID != pk.ID || strings.Contains(string(x.JSON), "publicKey") {
			t.Fatalf("export: %+v %v", x.Passkeys, err)
		}
		if err := alice.DeletePasskey(ctx, pk.ID, "wrong-password"); !errors.Is(err, sdk.ErrInvalidPassword) {
			t.Fatalf("remove with a wrong password: %v", err)
		}
		if err := alice.DeletePasskey(ctx, pk.ID, testPassword); err != nil {
			t.Fatal(err)
		}
		if _, err := passkeySignIn(a, b, cred, honestKey); !errors.Is(err, sdk.ErrInvalidPasskey) {
			t.Fatalf("sign-in with a removed passkey: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(log.String(), "A passkey was just added to your Panguard account") {
			if time.Now().After(deadline) {
				t.Fatal("no passkey-added notice in the log")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func mustToken(t *testing.T, c *sdk.Client, email string) string {
	t.Helper()
	s, err := c.Login(context.Background(), email, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return s.Token
}
