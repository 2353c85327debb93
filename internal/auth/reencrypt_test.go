package auth_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

var (
	newKey   = []byte("the-new-encryption-key-32-bytes!")
	wrongKey = []byte("a-wrong-encryption-key-32-bytes!")
)

// withKeys builds another Service on e's database and clock, as a replica restarted with
// these encryption keys would be (previous nil: no rotation).
func withKeys(e env, key, previous []byte) (*auth.Service, error) {
	return withKeysOn(e, e.store, key, previous)
}

func withKeysOn(e env, st auth.Store, key, previous []byte) (*auth.Service, error) {
	return auth.New(auth.Config{Store: st, Now: e.clock.Now, JWTSecret: []byte(secret), Hash: cheapHash,
		EncryptionKey: key, PreviousEncryptionKey: previous})
}

func mustWithKeys(t *testing.T, e env, key, previous []byte) env {
	t.Helper()
	svc, err := withKeys(e, key, previous)
	if err != nil {
		t.Fatalf("start with the keys: %v", err)
	}
	return env{svc: svc, clock: e.clock, store: e.store}
}

// sealedState is every sealed value in e's database, to show that nothing changed.
func sealedState(t *testing.T, e env) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	users, err := e.store.SealedUsers(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		out = append(out, u.UserID+" "+u.Secret+" "+u.Pending)
	}
	keys, err := e.store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		out = append(out, k.ID+" "+k.PrivateSealed)
	}
	code, err := e.store.Setting(ctx, "code_key")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, code)
}

func TestRotatingTheEncryptionKeyKeepsEverySecretWorking(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		e := newEnv(t, dbURL)
		// Before: two accounts with 2FA and backup codes, one with a setup not yet confirmed,
		// one without any, and two signing keys.
		aliceToken, alice := enable2FA(t, e, "alice@example.com")
		_, bob := enable2FA(t, e, "bob@example.com")
		carol := register(t, e, "carol@example.com", "password1")
		carolSetup, err := setupTOTP(e, ctx, carol.Token)
		if err != nil {
			t.Fatal(err)
		}
		register(t, e, "dave@example.com", "password1")
		if _, err := e.svc.RotateKeys(ctx, true); err != nil {
			t.Fatal(err)
		}

		// During: every replica runs with the new key and the old one as previous; what is
		// still under the old key keeps working.
		during := mustWithKeys(t, e, newKey, encKey)
		during.svc.SetReencryptBatchForTest(2)
		if lr, err := login(during, "bob@example.com", nil, &bob.BackupCodes[0]); err != nil || lr.Token == "" {
			t.Fatalf("backup code during the rotation: %+v %v", lr, err)
		}
		got, err := during.svc.ReencryptSecrets(ctx)
		want := auth.ReencryptReport{
			TOTPSecrets: auth.ReencryptCount{Resealed: 2}, PendingSecrets: auth.ReencryptCount{Resealed: 1},
			SigningKeys: auth.ReencryptCount{Resealed: 2}, CodeKey: auth.ReencryptCount{Resealed: 1},
		}
		if err != nil || got != want {
			t.Fatalf("rotation: %+v, %v; want %+v", got, err, want)
		}

		// After: only the new key.
		after := mustWithKeys(t, e, newKey, nil)
		e.clock.Advance(30 * time.Second) // the code enabling 2FA was this step's
		for _, tc := range []struct {
			name  string
			check func() error
		}{
			{"a TOTP code logs in", func() error {
				c := code(t, alice.Secret, e.clock.Now(), 0)
				_, err := login(after, "alice@example.com", &c, nil)
				return err
			}},
			{"a backup code logs in", func() error {
				_, err := login(after, "alice@example.com", nil, &alice.BackupCodes[3])
				return err
			}},
			{"a backup code used before the rotation stays used", func() error {
				if _, err := login(after, "bob@example.com", nil, &bob.BackupCodes[0]); auth.CodeOf(err) != auth.CodeInvalidTOTP {
					return errors.New("accepted again")
				}
				return nil
			}},
			{"a pending setup is confirmed", func() error {
				return verifyTOTP(after, ctx, carol.Token, code(t, carolSetup.Secret, e.clock.Now(), 0))
			}},
			{"a token issued before still verifies", func() error {
				_, err := after.svc.Authenticate(ctx, aliceToken)
				return err
			}},
			{"the signing keys load", func() error { return after.svc.LoadKeys(ctx) }},
			{"the old key alone opens nothing any more", func() error {
				if _, err := withKeys(e, encKey, nil); !errors.Is(err, auth.ErrKeyUnsealable) {
					return errors.New("started with the old key")
				}
				return nil
			}},
		} {
			if err := tc.check(); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}

		// Running it again changes nothing: everything is under the new key already.
		before := sealedState(t, e)
		again, err := mustWithKeys(t, e, newKey, encKey).svc.ReencryptSecrets(ctx)
		want = auth.ReencryptReport{
			TOTPSecrets: auth.ReencryptCount{Current: 3}, SigningKeys: auth.ReencryptCount{Current: 2},
			CodeKey: auth.ReencryptCount{Current: 1},
		}
		if err != nil || again != want {
			t.Fatalf("second run: %+v, %v; want %+v", again, err, want)
		}
		if after := sealedState(t, e); !reflect.DeepEqual(before, after) {
			t.Fatal("the second run rewrote values")
		}
	})
}

func TestReencryptionRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		e := newEnv(t, dbURL)
		enable2FA(t, e, "erin@example.com")
		stray := register(t, e, "stray@example.com", "password1")
		for _, tc := range []struct {
			name string
			// prepare changes the database before the rotation is started with key and previous.
			prepare       func(t *testing.T)
			key, previous []byte
			// wantStart is a failing start's message parts; wantRun a failing rotation's.
			wantStart, wantRun []string
			wantIs             error
		}{
			{name: "without a previous key", key: encKey,
				wantRun: []string{"PANGUARD_ENCRYPTION_KEY_PREVIOUS is not set"}, wantIs: auth.ErrNoPreviousKey},
			{name: "with a wrong previous key", key: newKey, previous: wrongKey,
				wantStart: []string{"the backup-code key (settings row code_key)", "neither PANGUARD_ENCRYPTION_KEY nor PANGUARD_ENCRYPTION_KEY_PREVIOUS"},
				wantIs:    auth.ErrKeyUnsealable},
			{name: "with a value neither key opens", key: newKey, previous: encKey,
				prepare: func(t *testing.T) {
					u, _ := e.store.UserByEmail(ctx, "stray@example.com")
					if _, err := e.store.SetPendingTOTP(ctx, u.ID, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", time.Now()); err != nil {
						t.Fatal(err)
					}
				},
				wantRun: []string{"the pending TOTP secret of user " + stray.User.ID, "neither", "nothing was re-sealed"},
				wantIs:  auth.ErrKeyUnsealable},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.prepare != nil {
					tc.prepare(t)
				}
				before := sealedState(t, e)
				svc, err := withKeys(e, tc.key, tc.previous)
				if err == nil {
					_, err = svc.ReencryptSecrets(ctx)
					if tc.wantStart != nil {
						t.Fatalf("started: want %q", tc.wantStart)
					}
					for _, w := range tc.wantRun {
						if err == nil || !strings.Contains(err.Error(), w) {
							t.Fatalf("rotation: %v; want %q", err, w)
						}
					}
				} else {
					for _, w := range tc.wantStart {
						if !strings.Contains(err.Error(), w) {
							t.Fatalf("start: %v; want %q", err, w)
						}
					}
				}
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("error %v is not %v", err, tc.wantIs)
				}
				if strings.Contains(err.Error(), "AAAAAAAA") {
					t.Fatalf("the message shows a sealed value: %v", err)
				}
				if after := sealedState(t, e); !reflect.DeepEqual(before, after) {
					t.Fatal("a refused rotation changed sealed values")
				}
			})
		}
	})
}

// setupBeforeTx is a store that runs once before its next transaction: a change another
// replica commits between the rotation's read and its compare-and-set.
type setupBeforeTx struct {
	auth.Store
	once func()
}

func (s *setupBeforeTx) RunInTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if f := s.once; f != nil {
		s.once = nil
		f()
	}
	return s.Store.RunInTx(ctx, fn)
}

func TestReencryptionKeepsASetupMadeMeanwhile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		e := newEnv(t, dbURL)
		frank := register(t, e, "frank@example.com", "password1")
		if _, err := setupTOTP(e, ctx, frank.Token); err != nil {
			t.Fatal(err)
		}
		wrapped := &setupBeforeTx{Store: e.store}
		rotating, err := withKeysOn(e, wrapped, newKey, encKey)
		if err != nil {
			t.Fatal(err)
		}
		replica := mustWithKeys(t, e, newKey, encKey)
		var second auth.TOTPSetup
		wrapped.once = func() {
			// Frank starts over on another replica: a new pending secret, under the new key.
			if second, err = setupTOTP(replica, ctx, frank.Token); err != nil {
				t.Error(err)
			}
		}
		got, err := rotating.ReencryptSecrets(ctx)
		if err != nil || got.PendingSecrets != (auth.ReencryptCount{Current: 1}) {
			t.Fatalf("rotation: %+v, %v; want the pending secret found under the new key", got, err)
		}
		if second.Secret == "" {
			t.Fatal("the concurrent setup did not run")
		}
		after := mustWithKeys(t, e, newKey, nil)
		if err := verifyTOTP(after, ctx, frank.Token, code(t, second.Secret, e.clock.Now(), 0)); err != nil {
			t.Fatalf("the setup made during the rotation was lost: %v", err)
		}
	})
}

func TestADatabaseFromBeforeTheCodeKeyKeepsItsBackupCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// key and previous are the first start with a stored code key; rotate says whether a
		// rotation follows.
		key, previous []byte
		rotate        bool
	}{
		{name: "upgraded with the same key", key: encKey},
		{name: "upgraded during a rotation", key: newKey, previous: encKey, rotate: true},
		{name: "upgraded with a stray previous key", key: encKey, previous: wrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, storetest.SQLiteURL(t))
			_, setup := enable2FA(t, e, "grace@example.com")
			// Before this version, the code key was not stored: derived from the encryption key.
			if _, err := e.store.(*store.Store).SQLDB().Exec("DELETE FROM settings WHERE key = 'code_key'"); err != nil {
				t.Fatal(err)
			}
			first := mustWithKeys(t, e, tc.key, tc.previous)
			if _, err := login(first, "grace@example.com", nil, &setup.BackupCodes[0]); err != nil {
				t.Fatalf("backup code after the upgrade: %v", err)
			}
			last := first
			if tc.rotate {
				if _, err := first.svc.ReencryptSecrets(ctx); err != nil {
					t.Fatal(err)
				}
				last = mustWithKeys(t, e, tc.key, nil)
			}
			if _, err := login(last, "grace@example.com", nil, &setup.BackupCodes[1]); err != nil {
				t.Fatalf("backup code after a restart: %v", err)
			}
		})
	}
}
