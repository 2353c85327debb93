package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func published(svc *auth.Service) map[string]bool {
	out := map[string]bool{}
	for _, k := range svc.JWKS(context.Background()) {
		out[k.ID] = true
	}
	return out
}

// replica is a second Service on e's database and clock, as another process would be.
func replica(t *testing.T, e env) *auth.Service {
	t.Helper()
	svc, err := auth.New(auth.Config{Store: e.store, Now: e.clock.Now, JWTSecret: []byte(secret), EncryptionKey: encKey, Hash: cheapHash})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestKeysRotateAcrossReplicasWithLeadTimeAndGrace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		b := replica(t, e)
		first := register(t, e, "early@example.com", "password1")
		k1 := kidOf(t, first.Token)
		if !published(e.svc)[k1] || len(e.svc.JWKS(context.Background())) != 1 {
			t.Fatalf("JWKS %v", e.svc.JWKS(context.Background()))
		}
		// Not due yet: nothing happens, on either replica.
		e.clock.Advance(auth.DefaultKeyRotation - auth.KeyLeadTime - time.Minute)
		if k, err := b.RotateKeys(ctx, false); err != nil || k != nil {
			t.Fatalf("early rotation: %v %v", k, err)
		}
		// Due: both replicas rotate at the same moment; exactly one new key results.
		e.clock.Advance(time.Minute)
		var wg sync.WaitGroup
		added := make([]*auth.SigningKey, 2)
		for i, svc := range []*auth.Service{e.svc, b} {
			wg.Go(func() {
				k, err := svc.RotateKeys(ctx, false)
				if err != nil {
					t.Error(err)
				}
				added[i] = k
			})
		}
		wg.Wait()
		if (added[0] == nil) == (added[1] == nil) {
			t.Fatalf("replicas added %v and %v, want exactly one key", added[0], added[1])
		}
		k2 := added[0]
		if k2 == nil {
			k2 = added[1]
		}
		statuses, _ := e.svc.KeyStatuses(ctx)
		if len(statuses) != 2 {
			t.Fatalf("%d keys, want 2", len(statuses))
		}
		// Published at once on both replicas, but not signing for KeyLeadTime.
		for _, svc := range []*auth.Service{e.svc, b} {
			if p := published(svc); !p[k1] || !p[k2.ID] {
				t.Fatalf("JWKS during the lead time: %v", p)
			}
		}
		if k, _ := b.RotateKeys(ctx, false); k != nil {
			t.Fatal("a second key while one waits to activate")
		}
		r := register(t, e, "during-lead@example.com", "password1")
		if kid := kidOf(t, r.Token); kid != k1 {
			t.Fatalf("signed with %s during the lead time, want the old key %s", kid, k1)
		}
		e.clock.Advance(auth.KeyLeadTime)
		late, err := b.Login(ctx, auth.LoginInput{Email: "during-lead@example.com", Password: "password1"})
		if err != nil || kidOf(t, late.Token) != k2.ID {
			t.Fatalf("after the lead time: kid %s, want %s (%v)", kidOf(t, late.Token), k2.ID, err)
		}
		// The token signed with the old key keeps working on both replicas until it expires,
		// and the old key stays published until then.
		for _, svc := range []*auth.Service{e.svc, b} {
			if _, err := svc.Authenticate(ctx, r.Token); err != nil {
				t.Fatalf("old-key token after rotation: %v", err)
			}
		}
		e.clock.Advance(24*time.Hour + 20*time.Second)
		if !published(b)[k1] {
			t.Fatal("old key unpublished while its last token may still be live")
		}
		e.clock.Advance(11 * time.Second)
		if p := published(b); p[k1] || !p[k2.ID] {
			t.Fatalf("JWKS after the old key's last token expired: %v", p)
		}
		// Forced rotation (the operator's `keys rotate`) adds a key at once, published ahead.
		k3, err := e.svc.RotateKeys(ctx, true)
		if err != nil || k3 == nil || !k3.ActivatesAt.Equal(e.clock.Now().Add(auth.KeyLeadTime)) {
			t.Fatalf("forced rotation: %+v %v", k3, err)
		}
		if err := b.LoadKeys(ctx); err != nil || !published(b)[k3.ID] {
			t.Fatalf("forced key not published on the other replica: %v", err)
		}
	})
}

func TestAKeyTheEncryptionKeyCannotOpenStopsTheStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	_, err := auth.New(auth.Config{Store: e.store, Now: e.clock.Now, JWTSecret: []byte(secret), EncryptionKey: []byte("another-encryption-key-32-bytes!"), Hash: cheapHash})
	if err == nil {
		t.Fatal("started with keys it cannot open")
	}
}

func TestIntrospectionIsActiveOnlyForLiveSessionsOfUnsuspendedAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		_, err := e.svc.Introspect(ctx, auth.ServicePrincipal{}, "x")
		wantCode(t, err, auth.CodeUnauthenticated)
		key, _, err := e.svc.CreateServiceKey(ctx, "guard-backend")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.CreateServiceKey(ctx, "guard-backend")
		wantCode(t, err, auth.CodeConflict)
		for _, bad := range []string{"", "Guard", "a b", strings.Repeat("x", 65), "-x"} {
			_, _, err = e.svc.CreateServiceKey(ctx, bad)
			wantCode(t, err, auth.CodeValidation)
		}
		sp, err := e.svc.AuthenticateService(ctx, key)
		if err != nil || sp.Name != "guard-backend" {
			t.Fatalf("service principal %+v %v", sp, err)
		}
		for _, bad := range []string{"", key + "x", strings.Replace(key, "psk_", "pks_", 1), "psk_"} {
			if _, err := e.svc.AuthenticateService(ctx, bad); auth.CodeOf(err) != auth.CodeUnauthenticated {
				t.Fatalf("key %q: %v", bad, err)
			}
		}
		admin := adminOf(t, e, "admin@example.com")
		r := register(t, e, "svc-user@example.com", "password1")
		in, err := e.svc.Introspect(ctx, sp, r.Token)
		if err != nil || !in.Active || in.UserID != r.User.ID || in.Email != "svc-user@example.com" || in.Tier != auth.TierSolo || *in.MachineLimit != 3 || !in.ExpiresAt.Equal(r.ExpiresAt.Truncate(time.Second)) {
			t.Fatalf("introspection %+v %v", in, err)
		}
		if _, err := e.svc.SetPlan(ctx, admin, r.User.ID, auth.PlanInput{Tier: "enterprise"}); err != nil {
			t.Fatal(err)
		}
		if in, _ := e.svc.Introspect(ctx, sp, r.Token); in.Tier != auth.TierEnterprise || in.MachineLimit != nil {
			t.Fatalf("after the plan: %+v", in)
		}
		if _, err := e.svc.SuspendUser(ctx, admin, r.User.ID, "abuse"); err != nil {
			t.Fatal(err)
		}
		if in, err := e.svc.Introspect(ctx, sp, r.Token); err != nil || in.Active || in.UserID != "" {
			t.Fatalf("suspended: %+v %v", in, err)
		}
		if err := e.svc.RevokeServiceKey(ctx, "guard-backend"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.RevokeServiceKey(ctx, "guard-backend"), auth.CodeNotFound)
		keys, _ := e.svc.ListServiceKeys(ctx)
		if len(keys) != 0 {
			t.Fatalf("keys after revoke: %+v", keys)
		}
	})
}
