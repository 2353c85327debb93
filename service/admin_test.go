package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
)

// The operator's journey with the real binary: the first admin is granted by the subcommand
// on the database two replicas serve, and every admin action taken through one replica holds
// on the other at once.
func TestAdminJourneyAcrossReplicasOfTheRealBinary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		env := []string{"PANGUARD_DATABASE_URL=" + dbURL, "PANGUARD_RATE_LIMIT=0"}
		a, b := startProcess(t, env...), startProcess(t, env...)
		ctx := context.Background()
		onA, onB := client(t, a.base), client(t, b.base)
		if _, err := onA.Register(ctx, "ops@example.com", "Olga Ops", "ops-password"); err != nil {
			t.Fatal(err)
		}
		reg, err := onB.Register(ctx, "customer@example.com", "Cory Customer", "customer-password")
		if err != nil || reg.Session == nil {
			t.Fatalf("register: %v", err)
		}
		userTok := reg.Session.Token

		if code, out, errOut := runCLI(t, env, "admin", "grant", "ops@example.com"); code != 0 || !strings.Contains(out, "is now an admin") {
			t.Fatalf("grant: exit %d %q %q", code, out, errOut)
		}
		s, err := onB.Login(ctx, "ops@example.com", "ops-password")
		if err != nil {
			t.Fatal(err)
		}
		adminA, adminB := onA.WithToken(s.Token).Admin(), onB.WithToken(s.Token).Admin()
		adminID := s.User.ID
		if s.User.Role != "admin" {
			t.Fatalf("role after grant: %q", s.User.Role)
		}

		page, err := adminA.ListUsers(ctx, sdk.UserQuery{Query: "CORY"})
		if err != nil || len(page.Users) != 1 {
			t.Fatalf("search: %+v %v", page, err)
		}
		id := page.Users[0].ID

		until := time.Now().Add(30 * 24 * time.Hour)
		if _, err := adminA.SetPlan(ctx, id, "pro", &until); err != nil {
			t.Fatal(err)
		}
		me, err := onB.WithToken(userTok).Me(ctx)
		if err != nil || me.Tier != "pro" || me.MachineLimit == nil || *me.MachineLimit != 10 || me.TrialEndsAt != nil || me.PlanExpiresAt == nil {
			t.Fatalf("me on the other replica after the plan: %+v %v", me, err)
		}

		if _, err := adminA.SuspendUser(ctx, id, "chargeback fraud"); err != nil {
			t.Fatal(err)
		}
		if _, err := onB.WithToken(userTok).Me(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
			t.Fatalf("suspended token on the other replica: %v", err)
		}
		var se *sdk.Error
		if _, err := onB.Login(ctx, "customer@example.com", "customer-password"); !errors.As(err, &se) || se.Reason != "account_suspended" || se.Status != 403 {
			t.Fatalf("login while suspended: %v", err)
		}
		if _, err := adminB.UnsuspendUser(ctx, id); err != nil {
			t.Fatal(err)
		}
		s2, err := onA.Login(ctx, "customer@example.com", "customer-password")
		if err != nil {
			t.Fatalf("login after unsuspend: %v", err)
		}

		setup, err := onA.WithToken(s2.Token).SetupTotp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := oathtest.TOTP(setup.Secret, time.Now(), 0)
		if err := onA.WithToken(s2.Token).VerifyTotp(ctx, code); err != nil {
			t.Fatal(err)
		}
		if _, err := onB.Login(ctx, "customer@example.com", "customer-password"); !errors.Is(err, sdk.ErrTOTPRequired) {
			t.Fatalf("login with 2FA on: %v", err)
		}
		if _, err := adminB.ResetUserTotp(ctx, id, "lost phone; identity checked"); err != nil {
			t.Fatal(err)
		}
		if _, err := onA.Login(ctx, "customer@example.com", "customer-password"); err != nil {
			t.Fatalf("login after the 2FA reset: %v", err)
		}

		audit, err := adminA.ListAudit(ctx, sdk.AuditQuery{UserID: id})
		if err != nil {
			t.Fatal(err)
		}
		byAdmin := map[string]bool{}
		for _, e := range audit.Events {
			if e.Actor == "admin:"+adminID {
				byAdmin[e.Type] = true
			}
		}
		for _, typ := range []string{"plan_changed", "suspended", "unsuspended", "totp_reset_by_admin"} {
			if !byAdmin[typ] {
				t.Errorf("audit lacks %s by admin:%s: %+v", typ, adminID, audit.Events)
			}
		}
		grants, err := adminB.ListAudit(ctx, sdk.AuditQuery{Type: "role_changed"})
		if err != nil || len(grants.Events) != 1 || grants.Events[0].UserID != adminID || grants.Events[0].Actor != "system" {
			t.Fatalf("the grant in the audit: %+v %v", grants, err)
		}
	})
}
