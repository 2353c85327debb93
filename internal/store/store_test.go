package store_test

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

var t0 = time.Date(2026, 3, 7, 12, 0, 0, 123e6, time.UTC)

func user(id, email string) auth.User {
	trial := t0.Add(auth.TrialLength)
	return auth.User{ID: id, Email: email, Name: "N", PasswordHash: "h", Tier: auth.TierSolo, TrialEndsAt: &trial, CreatedAt: t0, UpdatedAt: t0}
}

func TestMigrationsRunConcurrentlyAndRollBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		// Replicas starting at once all migrate; the lock makes that safe.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := store.Open(ctx, dbURL)
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				errs <- s.Migrate(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
		s := storetest.Open(t, dbURL)
		// Every down undoes its up: roll all the way back, then forward again.
		for {
			if _, err := s.UserByEmail(ctx, "x@example.com"); errors.Is(err, auth.ErrNoRecord) {
				if err := s.Rollback(ctx); err != nil {
					t.Fatalf("rollback: %v", err)
				}
				continue
			}
			break
		}
		if _, err := s.UserByEmail(ctx, "x@example.com"); err == nil || errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("after full rollback the users table should be gone, got %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("re-migrate: %v", err)
		}
		if _, err := s.CreateUser(ctx, user("usr_1", "x@example.com")); err != nil {
			t.Fatalf("after re-migrate: %v", err)
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		u := user("usr_1", "a@example.com")
		if ok, err := s.CreateUser(ctx, u); !ok || err != nil {
			t.Fatalf("create: %v %v", ok, err)
		}
		if ok, err := s.CreateUser(ctx, user("usr_2", "a@example.com")); ok || err != nil {
			t.Fatalf("duplicate email: created=%v err=%v", ok, err)
		}
		got, err := s.UserByEmail(ctx, "a@example.com")
		if err != nil || got.ID != "usr_1" || !got.CreatedAt.Equal(t0) || !got.TrialEndsAt.Equal(*u.TrialEndsAt) || got.Tier != auth.TierSolo {
			t.Fatalf("round trip: %+v %v", got, err)
		}
		if _, err := s.UserByEmail(ctx, "b@example.com"); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("missing user: %v", err)
		}
		for _, id := range []string{"ses_1", "ses_2"} {
			if err := s.CreateSession(ctx, auth.Session{ID: id, UserID: "usr_1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.ActiveSession(ctx, "ses_1", t0.Add(time.Hour)); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("expired session still active: %v", err)
		}
		if ok, err := s.RevokeSession(ctx, "ses_1", t0); !ok || err != nil {
			t.Fatalf("revoke: %v %v", ok, err)
		}
		if ok, _ := s.RevokeSession(ctx, "ses_1", t0); ok {
			t.Fatal("revoking twice reported active")
		}
		if _, _, err := s.ActiveSession(ctx, "ses_1", t0); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("revoked session still active: %v", err)
		}
		if _, got, err := s.ActiveSession(ctx, "ses_2", t0); err != nil || got.ID != "usr_1" {
			t.Fatalf("other session: %+v %v", got, err)
		}
		if _, err := s.RevokeUserSessions(ctx, "usr_1", "", t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ActiveSession(ctx, "ses_2", t0); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("session survived revoking all: %v", err)
		}
	})
}

func TestRunInTxRollsBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		boom := errors.New("boom")
		err := s.RunInTx(ctx, func(ctx context.Context) error {
			if _, err := s.CreateUser(ctx, user("usr_1", "a@example.com")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.UserByEmail(ctx, "a@example.com"); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("insert survived rollback: %v", err)
		}
	})
}

func TestEnsureSettingAgreesUnderRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		storetest.Open(t, dbURL) // migrate once
		const n = 6
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := store.Open(ctx, dbURL)
				if err != nil {
					t.Error(err)
					return
				}
				defer s.Close()
				v, err := s.EnsureSetting(ctx, "jwt_secret", string(rune('a'+i)))
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			}()
		}
		wg.Wait()
		for i := range got {
			if got[i] == "" || got[i] != got[0] {
				t.Fatalf("replicas disagree on the secret: %q", got)
			}
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	t.Parallel()
	if _, err := store.Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("want an error")
	}
}

func TestPurgeDeletesOnlyWhatIsOld(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		if _, err := s.CreateUser(ctx, user("usr_1", "a@example.com")); err != nil {
			t.Fatal(err)
		}
		old, fresh := t0.Add(-48*time.Hour), t0
		for id, exp := range map[string]time.Time{"ses_old": old, "ses_new": fresh.Add(time.Hour)} {
			if err := s.CreateSession(ctx, auth.Session{ID: id, UserID: "usr_1", CreatedAt: old, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		for i, exp := range []time.Time{old, fresh.Add(10 * time.Minute)} {
			g := auth.DeviceGrant{ID: fmt.Sprintf("dev_%d", i), DeviceCodeHash: fmt.Sprintf("h%d", i), UserCode: fmt.Sprintf("BCDFGHJ%d", i),
				ClientID: "panguard-cli", ClientName: "cli", IP: "192.0.2.1", State: auth.DevicePending, CreatedAt: exp.Add(-10 * time.Minute),
				ExpiresAt: exp, Interval: 5 * time.Second}
			if created, err := s.CreateDeviceGrant(ctx, g); err != nil || !created {
				t.Fatalf("create device grant: %v %v", created, err)
			}
		}
		if err := fail(ctx, s, "acct:old@example.com", old); err != nil {
			t.Fatal(err)
		}
		if err := fail(ctx, s, "acct:new@example.com", fresh); err != nil {
			t.Fatal(err)
		}
		if err := s.Purge(ctx, t0.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		count := func(q string) (n int) {
			if err := s.SQLDB().QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("SELECT COUNT(*) FROM sessions"); n != 1 {
			t.Fatalf("%d sessions left, want the unexpired one", n)
		}
		if n := count("SELECT COUNT(*) FROM throttles"); n != 1 {
			t.Fatalf("%d throttles left, want the recent one", n)
		}
		if n := count("SELECT COUNT(*) FROM device_grants WHERE id = 'dev_1'") + 10*count("SELECT COUNT(*) FROM device_grants"); n != 11 {
			t.Fatalf("device grants left: %d (want only the unexpired one)", n)
		}
	})
}

func TestClearFailuresByPrefixHandlesUnicode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		for _, k := range []string{"acct-ip:jörg@bücher.de|10.0.0.1", "acct-ip:jörg@bücher.de|10.0.0.2", "acct-ip:other@x.de|10.0.0.1"} {
			if err := fail(ctx, s, k, t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ClearFailures(ctx, nil, []string{"acct-ip:jörg@bücher.de|"}); err != nil {
			t.Fatal(err)
		}
		th, err := s.Throttles(ctx, "acct-ip:jörg@bücher.de|10.0.0.1", "acct-ip:jörg@bücher.de|10.0.0.2", "acct-ip:other@x.de|10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if th["acct-ip:jörg@bücher.de|10.0.0.1"].Failures != 0 || th["acct-ip:jörg@bücher.de|10.0.0.2"].Failures != 0 || th["acct-ip:other@x.de|10.0.0.1"].Failures != 1 {
			t.Fatalf("after clearing by prefix: %+v", th)
		}
	})
}
