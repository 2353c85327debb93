package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/storetest"
)

// adminOf registers email, grants it the admin role as the operator would, and returns its
// principal.
func adminOf(t *testing.T, e env, email string) auth.Principal {
	t.Helper()
	r := register(t, e, email, "password1")
	if _, err := e.svc.SetRole(context.Background(), email, auth.RoleAdmin); err != nil {
		t.Fatalf("grant %s: %v", email, err)
	}
	return principal(t, e, r.Token)
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestEveryAdminOperationRefusesNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	user := principal(t, e, register(t, e, "user@example.com", "password1").Token)
	target := register(t, e, "target@example.com", "password1").User.ID
	// Bad input too: a non-admin learns nothing about what the input would have done.
	for name, call := range map[string]func(auth.Principal) error{
		"ListUsers": func(p auth.Principal) error {
			_, err := e.svc.ListUsers(ctx, p, auth.UserQuery{Tier: "gold"})
			return err
		},
		"GetUser": func(p auth.Principal) error { _, err := e.svc.GetUser(ctx, p, target); return err },
		"SetPlan": func(p auth.Principal) error {
			_, err := e.svc.SetPlan(ctx, p, target, auth.PlanInput{Tier: "gold"})
			return err
		},
		"SuspendUser":        func(p auth.Principal) error { _, err := e.svc.SuspendUser(ctx, p, target, ""); return err },
		"UnsuspendUser":      func(p auth.Principal) error { _, err := e.svc.UnsuspendUser(ctx, p, "bad"); return err },
		"RevokeUserSessions": func(p auth.Principal) error { _, err := e.svc.RevokeUserSessions(ctx, p, target); return err },
		"ResetUserTotp":      func(p auth.Principal) error { _, err := e.svc.ResetUserTotp(ctx, p, target, "lost phone"); return err },
		"DeleteUser":         func(p auth.Principal) error { return e.svc.DeleteUser(ctx, p, target) },
		"ListAudit": func(p auth.Principal) error {
			_, err := e.svc.ListAudit(ctx, p, auth.AuditQuery{Type: "nope"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, call(user), auth.CodeForbidden)
			wantCode(t, call(auth.Principal{}), auth.CodeUnauthenticated)
		})
	}
	if _, err := e.svc.GetUser(ctx, user, target); auth.KindOf(err) != auth.KindForbidden {
		t.Fatalf("kind %v", auth.KindOf(err))
	}
}

func TestRolesAreReadAtRequestTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		first := adminOf(t, e, "first@example.com")
		r := register(t, e, "second@example.com", "password1")
		e.clock.Advance(time.Second)
		if _, err := e.svc.SetRole(ctx, "second@example.com", auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		second := principal(t, e, r.Token)
		if second.Role != auth.RoleAdmin {
			t.Fatalf("role %q", second.Role)
		}
		if me, _ := e.svc.Me(ctx, second); me.Role != auth.RoleAdmin {
			t.Fatalf("me role %q", me.Role)
		}
		if _, err := e.svc.ListUsers(ctx, second, auth.UserQuery{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		if _, err := e.svc.SetRole(ctx, "SECOND@example.com", auth.RoleUser); err != nil {
			t.Fatal(err)
		}
		// The same token, the next request: no admin power left.
		_, err := e.svc.ListUsers(ctx, principal(t, e, r.Token), auth.UserQuery{})
		wantCode(t, err, auth.CodeForbidden)
		// The last admin stays.
		_, err = e.svc.SetRole(ctx, "first@example.com", auth.RoleUser)
		wantCode(t, err, auth.CodeConflict)
		_, err = e.svc.SetRole(ctx, "nobody@example.com", auth.RoleAdmin)
		wantCode(t, err, auth.CodeNotFound)
		_, err = e.svc.SetRole(ctx, "first@example.com", auth.Role("root"))
		wantCode(t, err, auth.CodeValidation)
		page, err := e.svc.ListAudit(ctx, first, auth.AuditQuery{Type: auth.EventRoleChanged})
		if err != nil || len(page.Events) != 3 || page.Events[0].Actor != auth.ActorSystem || page.Events[0].Detail["role"] != "user" {
			t.Fatalf("role events %+v %v", page.Events, err)
		}
	})
}

func TestConcurrentRevokesNeverRemoveTheLastAdmin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		emails := []string{"a1@example.com", "a2@example.com", "a3@example.com"}
		for _, m := range emails {
			adminOf(t, e, m)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(emails))
		for i, m := range emails {
			wg.Go(func() { _, errs[i] = e.svc.SetRole(ctx, m, auth.RoleUser) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if auth.CodeOf(err) != auth.CodeConflict {
				t.Fatalf("revoke: %v", err)
			}
		}
		if ok != len(emails)-1 {
			t.Fatalf("%d of %d revokes succeeded, want %d", ok, len(emails), len(emails)-1)
		}
	})
}

func TestPlansSetTheTierUntilTheirEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		r := register(t, e, "buyer@example.com", "password1")
		id := r.User.ID
		now := e.clock.Now()
		for _, c := range []struct {
			name string
			in   auth.PlanInput
			code auth.Code
		}{
			{"unknown tier", auth.PlanInput{Tier: "gold"}, auth.CodeValidation},
			{"empty tier", auth.PlanInput{}, auth.CodeValidation},
			{"an end in the past", auth.PlanInput{Tier: "pro", PlanExpiresAt: ptrTime(now.Add(-time.Hour))}, auth.CodeValidation},
			{"an end right now", auth.PlanInput{Tier: "pro", PlanExpiresAt: ptrTime(now)}, auth.CodeValidation},
			{"community with an end", auth.PlanInput{Tier: "community", PlanExpiresAt: ptrTime(now.Add(time.Hour))}, auth.CodeValidation},
		} {
			_, err := e.svc.SetPlan(ctx, admin, id, c.in)
			wantCode(t, err, c.code)
		}
		_, err := e.svc.SetPlan(ctx, admin, "usr_nope", auth.PlanInput{Tier: "pro"})
		wantCode(t, err, auth.CodeValidation)
		_, err = e.svc.SetPlan(ctx, admin, "usr_000000000000000000000000", auth.PlanInput{Tier: "pro"})
		wantCode(t, err, auth.CodeNotFound)

		end := now.Add(30 * 24 * time.Hour)
		got, err := e.svc.SetPlan(ctx, admin, id, auth.PlanInput{Tier: "business", PlanExpiresAt: &end})
		if err != nil {
			t.Fatal(err)
		}
		if got.Tier != auth.TierBusiness || got.TrialEndsAt != nil || got.PlanExpiresAt == nil || !got.PlanExpiresAt.Equal(end) || *got.MachineLimit != 25 {
			t.Fatalf("after plan: %+v", got.Profile)
		}
		// The owner's next read sees it: no cache, no job.
		me, _ := e.svc.Me(ctx, principal(t, e, r.Token))
		if me.Tier != auth.TierBusiness || *me.MachineLimit != 25 || me.TrialEndsAt != nil {
			t.Fatalf("me after plan: %+v", me)
		}
		// When the plan ends, community — computed on read.
		e.clock.Advance(30*24*time.Hour - time.Minute)
		tok := loginAs(t, e, ctx, "buyer@example.com", "password1")
		e.clock.Advance(time.Minute - time.Millisecond)
		if me, _ := e.svc.Me(ctx, principal(t, e, tok)); me.Tier != auth.TierBusiness {
			t.Fatalf("a millisecond before the end: %s", me.Tier)
		}
		e.clock.Advance(time.Millisecond)
		if me, _ := e.svc.Me(ctx, principal(t, e, tok)); me.Tier != auth.TierCommunity || *me.MachineLimit != 1 || me.PlanExpiresAt == nil {
			t.Fatalf("at the end: %+v", me)
		}
		// Enterprise with no end: unlimited machines.
		got, err = e.svc.SetPlan(ctx, principal(t, e, loginAs(t, e, ctx, "admin@example.com", "password1")), id, auth.PlanInput{Tier: "enterprise"})
		if err != nil || got.Tier != auth.TierEnterprise || got.MachineLimit != nil || got.PlanExpiresAt != nil {
			t.Fatalf("enterprise: %+v %v", got.Profile, err)
		}
		// Community with no end removes the plan, and the trial does not come back.
		got, err = e.svc.SetPlan(ctx, principal(t, e, loginAs(t, e, ctx, "admin@example.com", "password1")), id, auth.PlanInput{Tier: "community"})
		if err != nil || got.Tier != auth.TierCommunity || got.TrialEndsAt != nil || got.PlanExpiresAt != nil {
			t.Fatalf("community: %+v %v", got.Profile, err)
		}
		events, _ := e.store.Events(ctx, id, 0, nil)
		n := 0
		for _, ev := range events {
			if ev.Type == auth.EventPlanChanged {
				n++
				if ev.Actor != "admin:"+admin.UserID {
					t.Fatalf("actor %q", ev.Actor)
				}
			}
		}
		if n != 3 {
			t.Fatalf("%d plan_changed events, want 3", n)
		}
	})
}

func TestSuspensionEndsEverySessionAndSignIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		sender := newSender(e, box)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		r := register(t, e, "abuser@example.com", "password1")
		other := loginAs(t, e, ctx, "abuser@example.com", "password1")
		if err := e.svc.ForgotPassword(ctx, "abuser@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, sender)
		var resetLink string
		for _, m := range box.take() {
			if strings.Contains(m.Text, "reset-password?token=") {
				resetLink = tokenIn(t, m)
			}
		}

		for _, reason := range []string{"", "   ", strings.Repeat("x", 501)} {
			_, err := e.svc.SuspendUser(ctx, admin, r.User.ID, reason)
			wantCode(t, err, auth.CodeValidation)
		}
		_, err := e.svc.SuspendUser(ctx, admin, admin.UserID, "testing")
		wantCode(t, err, auth.CodeConflict)
		e.clock.Advance(time.Second)
		got, err := e.svc.SuspendUser(ctx, admin, r.User.ID, strings.Repeat("é", 500))
		if err != nil || !got.Suspended() || got.SessionCount != 0 {
			t.Fatalf("suspend: %+v %v", got, err)
		}
		for _, tok := range []string{r.Token, other} {
			if _, err := e.svc.Authenticate(ctx, tok); auth.CodeOf(err) != auth.CodeUnauthenticated {
				t.Fatalf("token of a suspended account: %v", err)
			}
		}
		// The right password learns of the suspension; a wrong one learns nothing.
		e.clock.Advance(time.Second)
		_, err = e.svc.Login(ctx, auth.LoginInput{Email: "abuser@example.com", Password: "password1"})
		wantCode(t, err, auth.CodeSuspended)
		_, err = e.svc.Login(ctx, auth.LoginInput{Email: "abuser@example.com", Password: "wrong-password"})
		wantCode(t, err, auth.CodeInvalidCredentials)
		// No reset emails, and the link already out there is dead.
		if err := e.svc.ForgotPassword(ctx, "abuser@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, sender)
		if msgs := box.take(); len(msgs) != 0 {
			t.Fatalf("emails to a suspended account: %+v", msgs)
		}
		wantCode(t, e.svc.ResetPassword(ctx, resetLink, "new-password1"), auth.CodeInvalidResetToken)

		e.clock.Advance(time.Second)
		got, err = e.svc.UnsuspendUser(ctx, admin, r.User.ID)
		if err != nil || got.Suspended() {
			t.Fatalf("unsuspend: %+v %v", got, err)
		}
		if _, err := e.svc.Authenticate(ctx, r.Token); err == nil {
			t.Fatal("a session revoked by the suspension came back")
		}
		e.clock.Advance(time.Second)
		loginAs(t, e, ctx, "abuser@example.com", "password1")
		page, err := e.svc.ListAudit(ctx, admin, auth.AuditQuery{UserID: r.User.ID})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range page.Events {
			types = append(types, ev.Type)
			if (ev.Type == auth.EventSuspended || ev.Type == auth.EventUnsuspended) && ev.Actor != auth.ActorAdmin(admin.UserID) {
				t.Fatalf("actor of %s: %q", ev.Type, ev.Actor)
			}
			if ev.UserID != r.User.ID {
				t.Fatalf("event of %s in %s's audit", ev.UserID, r.User.ID)
			}
		}
		if got := strings.Join(types[:4], ","); got != "login,unsuspended,login_failed,suspended" {
			t.Fatalf("audit %v", types)
		}
	})
}

func TestAdminResetOfTheSecondFactor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		tok, _ := enable2FA(t, e, "lost@example.com")
		id := principal(t, e, tok).UserID
		plain := register(t, e, "plain@example.com", "password1").User.ID

		_, err := e.svc.ResetUserTotp(ctx, admin, id, "")
		wantCode(t, err, auth.CodeValidation)
		_, err = e.svc.ResetUserTotp(ctx, admin, plain, "lost phone")
		wantCode(t, err, auth.CodeTOTPNotEnabled)
		got, err := e.svc.ResetUserTotp(ctx, admin, id, "lost phone, identity checked by video call")
		if err != nil || got.TOTPEnabled {
			t.Fatalf("reset: %+v %v", got, err)
		}
		if !queued(t, e, auth.TemplateTOTPResetByAdmin, "lost@example.com") {
			t.Fatal("no notice to the owner")
		}
		res, err := login(e, "lost@example.com", nil, nil)
		if err != nil || res.TOTPRequired {
			t.Fatalf("login after reset: %+v %v", res, err)
		}
		st, _ := e.svc.TOTPStatus(ctx, principal(t, e, res.Token))
		if st.Enabled || st.Pending || st.BackupCodesRemaining != 0 {
			t.Fatalf("status %+v", st)
		}
		page, _ := e.svc.ListAudit(ctx, admin, auth.AuditQuery{Type: auth.EventTOTPResetByAdmin})
		if len(page.Events) != 1 || page.Events[0].Detail["reason"] != "lost phone, identity checked by video call" {
			t.Fatalf("audit %+v", page.Events)
		}
	})
}

func TestAdminDeletionIsTheSameErasure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		r := register(t, e, "gone@example.com", "password1")
		wantCode(t, e.svc.DeleteUser(ctx, admin, admin.UserID), auth.CodeConflict)
		if err := e.svc.DeleteUser(ctx, admin, r.User.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.DeleteUser(ctx, admin, r.User.ID), auth.CodeNotFound)
		if _, err := e.svc.Authenticate(ctx, r.Token); err == nil {
			t.Fatal("token of a deleted account works")
		}
		if !queued(t, e, auth.TemplateAccountDeleted, "gone@example.com") {
			t.Fatal("no goodbye email")
		}
		events, _ := e.store.Events(ctx, r.User.ID, 0, nil)
		if len(events) != 1 || events[0].Type != auth.EventAccountDeleted || events[0].Actor != auth.ActorAdmin(admin.UserID) || events[0].IP != "" {
			t.Fatalf("remaining events %+v", events)
		}
		register(t, e, "gone@example.com", "password1") // the address is free at once
	})
}

func TestUserSearchTakesTheQueryLiterally(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		names := map[string]string{
			"pct@example.com":     "100% Real",
			"under@example.com":   "snake_case",
			"quote@example.com":   "O'Brien \"Bob\"",
			"sql@example.com":     "x' OR 1=1 --",
			"bang@example.com":    "Hey!",
			"upper@example.com":   "ALICE Liddell",
			"alice_2@example.com": "Plain",
		}
		for email, name := range names {
			if _, err := e.svc.Register(ctx, auth.RegisterInput{Email: email, Name: name, Password: "password1"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct{ query, want string }{
			{"%", "pct@example.com"},
			{"_", "alice_2@example.com,under@example.com"},
			{"'", "quote@example.com,sql@example.com"},
			{`"bob"`, "quote@example.com"},
			{"' OR 1=1 --", "sql@example.com"},
			{"!", "bang@example.com"},
			{"alice", "admin@example.com,alice_2@example.com,upper@example.com"}, // register names everyone Alice Chen
			{"  ALICE l", "upper@example.com"},
			{"E_2", "alice_2@example.com"},
			{"%%", ""},
			{"nobody", ""},
		} {
			page, err := e.svc.ListUsers(ctx, admin, auth.UserQuery{Query: c.query})
			if err != nil {
				t.Fatalf("%q: %v", c.query, err)
			}
			var got []string
			for _, u := range page.Users {
				got = append(got, u.Email)
			}
			slicesSort(got)
			if strings.Join(got, ",") != c.want {
				t.Errorf("query %q: %v, want %s", c.query, got, c.want)
			}
		}
		for _, q := range []auth.UserQuery{{Tier: "gold"}, {Limit: new(int)}, {Limit: ptrInt(101)}, {Query: strings.Repeat("a", 255)}, {Query: "a\x00"}} {
			_, err := e.svc.ListUsers(ctx, admin, q)
			wantCode(t, err, auth.CodeValidation)
		}
		_, err := e.svc.ListUsers(ctx, admin, auth.UserQuery{Cursor: "forged.cursor"})
		wantCode(t, err, auth.CodeInvalidCursor)
	})
}

func ptrInt(n int) *int { return &n }

func slicesSort(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestUserPagesStayStableWhileAccountsAreCreated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		want := map[string]bool{"admin@example.com": true}
		for i := range 24 {
			if i%5 == 0 {
				e.clock.Advance(time.Second) // several accounts share a creation millisecond
			}
			email := fmt.Sprintf("u%02d@example.com", i)
			register(t, e, email, "password1")
			want[email] = true
		}
		seen := map[string]bool{}
		cursor := ""
		limit := 7
		for page := 0; ; page++ {
			p, err := e.svc.ListUsers(ctx, admin, auth.UserQuery{Limit: &limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range p.Users {
				if seen[u.Email] {
					t.Fatalf("%s on two pages", u.Email)
				}
				seen[u.Email] = true
			}
			// Sign-ups between pages land before the first page, never in the rest.
			e.clock.Advance(time.Millisecond)
			register(t, e, fmt.Sprintf("late%d@example.com", page), "password1")
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if len(seen) != len(want) {
			t.Fatalf("saw %d accounts, want %d", len(seen), len(want))
		}
		for email := range want {
			if !seen[email] {
				t.Fatalf("%s never listed", email)
			}
		}
		// Tier filter on the effective tier: trials end after 14 days.
		e.clock.Advance(15 * 24 * time.Hour)
		fresh := register(t, e, "fresh@example.com", "password1")
		solo, err := e.svc.ListUsers(ctx, principal(t, e, loginAs(t, e, ctx, "admin@example.com", "password1")), auth.UserQuery{Tier: "solo"})
		if err != nil || len(solo.Users) != 1 || solo.Users[0].ID != fresh.User.ID {
			t.Fatalf("solo: %+v %v", solo.Users, err)
		}
	})
}

func TestAuditFiltersAndPagesAcrossAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		admin := adminOf(t, e, "admin@example.com")
		a := register(t, e, "a@example.com", "password1")
		register(t, e, "b@example.com", "password1")
		for range 3 {
			e.clock.Advance(time.Second)
			loginAs(t, e, ctx, "a@example.com", "password1")
			loginAs(t, e, ctx, "b@example.com", "password1")
		}
		all := 0
		cursor := ""
		limit := 4
		for {
			p, err := e.svc.ListAudit(ctx, admin, auth.AuditQuery{Limit: &limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			all += len(p.Events)
			for i := 1; i < len(p.Events); i++ {
				if p.Events[i].At.After(p.Events[i-1].At) {
					t.Fatal("not newest first")
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		// admin: registered, role_changed; a and b: registered + 3 logins each.
		if all != 10 {
			t.Fatalf("%d events in the audit, want 10", all)
		}
		p, err := e.svc.ListAudit(ctx, admin, auth.AuditQuery{UserID: a.User.ID, Type: auth.EventLogin})
		if err != nil || len(p.Events) != 3 {
			t.Fatalf("a's logins: %d %v", len(p.Events), err)
		}
		for _, q := range []auth.AuditQuery{{UserID: "usr_x"}, {UserID: "' OR 1=1"}, {Type: "nope"}, {Limit: ptrInt(0)}, {Limit: ptrInt(101)}} {
			_, err := e.svc.ListAudit(ctx, admin, q)
			wantCode(t, err, auth.CodeValidation)
		}
		// A cursor of another listing is refused.
		users, _ := e.svc.ListUsers(ctx, admin, auth.UserQuery{Limit: ptrInt(1)})
		_, err = e.svc.ListAudit(ctx, admin, auth.AuditQuery{Cursor: users.NextCursor})
		wantCode(t, err, auth.CodeInvalidCursor)
	})
}
