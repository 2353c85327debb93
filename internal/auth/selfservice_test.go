package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

func principal(t *testing.T, e env, token string) auth.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

func loginAs(t *testing.T, e env, ctx context.Context, email, password string) string {
	t.Helper()
	r, err := e.svc.Login(ctx, auth.LoginInput{Email: email, Password: password})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return r.Token
}

func withUA(ip, ua string) context.Context {
	return auth.WithUserAgent(auth.WithClientIP(context.Background(), ip), ua)
}

func TestSessionsAreListedAndRevokedOnlyByTheirOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		first := register(t, e, "owner@example.com", "password1").Token
		e.clock.Advance(time.Second)
		second := loginAs(t, e, withUA("198.51.100.4", "panguard-cli/1.0 "+strings.Repeat("x", 400)), "owner@example.com", "password1")
		other := register(t, e, "other@example.com", "password1").Token

		list, err := e.svc.ListSessions(ctx, principal(t, e, second))
		if err != nil || len(list) != 2 {
			t.Fatalf("sessions: %+v %v", list, err)
		}
		newest := list[0]
		if !newest.Current || newest.Method != auth.MethodPassword || newest.IP != "198.51.100.4" ||
			!strings.HasPrefix(newest.UserAgent, "panguard-cli/1.0") || len([]rune(newest.UserAgent)) != 256 {
			t.Fatalf("newest session: %+v", newest)
		}
		if list[1].Current || list[1].Method != auth.MethodRegister {
			t.Fatalf("older session: %+v", list[1])
		}
		firstID := list[1].ID

		steps := []struct {
			name string
			as   string
			id   string
			want auth.Code // "" for success
		}{
			{"another user's session looks like none", other, firstID, auth.CodeNotFound},
			{"an unknown id", second, "ses_00000000000000000000000000000000", auth.CodeNotFound},
			{"not a session id at all", second, "'; DROP TABLE sessions; --", auth.CodeNotFound},
			{"the owner revokes it", second, firstID, ""},
			{"twice is not found", second, firstID, auth.CodeNotFound},
		}
		for _, st := range steps {
			err := e.svc.RevokeSession(ctx, principal(t, e, st.as), st.id)
			if auth.CodeOf(err) != st.want && !(st.want == "" && err == nil) {
				t.Fatalf("%s: %v, want %q", st.name, err, st.want)
			}
		}
		if _, err := e.svc.Authenticate(ctx, first); auth.CodeOf(err) != auth.CodeUnauthenticated {
			t.Fatalf("revoked token still works: %v", err)
		}
		// The caller's own session works like logout.
		p := principal(t, e, second)
		if err := e.svc.RevokeSession(ctx, p, p.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, second); auth.CodeOf(err) != auth.CodeUnauthenticated {
			t.Fatalf("own revoked token still works: %v", err)
		}
	})
}

func TestRevokeOtherSessionsKeepsTheCallingOne(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		a := register(t, e, "many@example.com", "password1").Token
		b := loginAs(t, e, ctx, "many@example.com", "password1")
		c := loginAs(t, e, ctx, "many@example.com", "password1")
		n, err := e.svc.RevokeOtherSessions(ctx, principal(t, e, b))
		if err != nil || n != 2 {
			t.Fatalf("revoked %d, %v; want 2", n, err)
		}
		for tok, live := range map[string]bool{a: false, b: true, c: false} {
			if _, err := e.svc.Authenticate(ctx, tok); (err == nil) != live {
				t.Fatalf("token live=%v after revoke-others: %v", live, err)
			}
		}
	})
}

func TestLastSeenIsRefreshedAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	tok := register(t, e, "seen@example.com", "password1").Token
	t0 := e.clock.Now()
	lastSeen := func() time.Time {
		list, err := e.svc.ListSessions(ctx, principal(t, e, tok))
		if err != nil {
			t.Fatal(err)
		}
		return list[0].LastSeenAt
	}
	steps := []struct {
		advance time.Duration
		want    time.Duration // after t0
	}{
		{30 * time.Second, 0},
		{29 * time.Second, 0},
		{2 * time.Second, 61 * time.Second},
		{30 * time.Second, 61 * time.Second},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		if got := lastSeen(); !got.Equal(t0.Add(st.want)) {
			t.Fatalf("step %d: lastSeenAt %v, want t0+%v", i, got.Sub(t0), st.want)
		}
	}
}

func TestReauthenticationOrderAndBudget(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := fromIP("203.0.113.50")
		token, setup := enable2FA(t, e, "reauth@example.com")
		p := principal(t, e, token)
		change := func(r auth.Reauth) error {
			return e.svc.ChangePassword(ctx, p, auth.ChangePasswordInput{NewPassword: "new-password-1", Reauth: r})
		}
		wrongCode := ptr("000000")
		cases := []struct {
			name string
			r    auth.Reauth
			want auth.Code
		}{
			{"wrong password, whatever code is sent", auth.Reauth{Password: "nope-nope", BackupCode: &setup.BackupCodes[0]}, auth.CodeInvalidPassword},
			{"right password, no code", pw("password1"), auth.CodeTOTPRequired},
			{"right password, wrong code", auth.Reauth{Password: "password1", TOTPCode: wrongCode}, auth.CodeInvalidTOTP},
			{"both codes", auth.Reauth{Password: "password1", TOTPCode: wrongCode, BackupCode: wrongCode}, auth.CodeValidation},
		}
		for _, c := range cases {
			wantCode(t, change(c.r), c.want)
		}
		// The wrong password and the wrong code above were counted like login failures:
		// three more, and this client must wait.
		for range 3 {
			wantCode(t, change(pw("nope-nope")), auth.CodeInvalidPassword)
		}
		wantCode(t, change(pw("password1")), auth.CodeRateLimited)
	})
}

func TestChangePasswordKeepsOnlyTheCallingSession(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		box := &inbox{}
		s := newSender(e, box)
		ctx := context.Background()
		other := register(t, e, "pw@example.com", "password1").Token
		caller := loginAs(t, e, ctx, "pw@example.com", "password1")
		settle(t, s, box)
		if err := e.svc.ForgotPassword(ctx, "pw@example.com"); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		resetLink := tokenIn(t, box.take()[0])

		wantCode(t, e.svc.ChangePassword(ctx, principal(t, e, caller), auth.ChangePasswordInput{NewPassword: "short", Reauth: pw("password1")}), auth.CodeValidation)
		if err := e.svc.ChangePassword(ctx, principal(t, e, caller), auth.ChangePasswordInput{NewPassword: "password2", Reauth: pw("password1")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(ctx, other); auth.CodeOf(err) != auth.CodeUnauthenticated {
			t.Fatalf("other session survived: %v", err)
		}
		if _, err := e.svc.Authenticate(ctx, caller); err != nil {
			t.Fatalf("calling session was revoked: %v", err)
		}
		if _, err := e.svc.Login(ctx, auth.LoginInput{Email: "pw@example.com", Password: "password1"}); auth.CodeOf(err) != auth.CodeInvalidCredentials {
			t.Fatalf("old password still works: %v", err)
		}
		loginAs(t, e, ctx, "pw@example.com", "password2")
		if !queued(t, e, auth.TemplatePasswordChanged, "pw@example.com") {
			t.Fatal("no password-changed notice queued")
		}
		wantCode(t, e.svc.ResetPassword(ctx, resetLink, "password3"), auth.CodeInvalidResetToken)
	})
}

// queued reports whether an email from template is waiting in the outbox for to.
func queued(t *testing.T, e env, template, to string) bool {
	t.Helper()
	rows, err := e.store.(*store.Store).SQLDB().Query("SELECT payload FROM outbox WHERE kind = 'email' AND status = 'pending'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var m auth.Email
		if json.Unmarshal([]byte(payload), &m) == nil && m.Template == template && m.To == to {
			return true
		}
	}
	return false
}

func TestUpdateMeValidatesTheName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	p := principal(t, e, register(t, e, "name@example.com", "password1").Token)
	cases := []struct {
		name string
		in   string
		want auth.Code
	}{
		{"empty", "   ", auth.CodeValidation},
		{"101 characters", strings.Repeat("é", 101), auth.CodeValidation},
		{"trimmed and kept", "  Ada Lovelace ", ""},
		{"100 characters", strings.Repeat("é", 100), ""},
	}
	for _, c := range cases {
		prof, err := e.svc.UpdateMe(ctx, p, c.in)
		if c.want != "" {
			wantCode(t, err, c.want)
			continue
		}
		if err != nil || prof.Name != strings.TrimSpace(c.in) {
			t.Fatalf("%s: %q %v", c.name, prof.Name, err)
		}
	}
}

func TestActivityPagesNewestFirstWithTamperEvidentCursors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		tok := register(t, e, "act@example.com", "password1").Token
		for range 6 {
			e.clock.Advance(time.Second)
			loginAs(t, e, ctx, "act@example.com", "password1")
		}
		e.clock.Advance(time.Second)
		_, err := e.svc.Login(ctx, auth.LoginInput{Email: "act@example.com", Password: "wrong-password"})
		wantCode(t, err, auth.CodeInvalidCredentials)
		_, _ = e.svc.Login(ctx, auth.LoginInput{Email: "nobody@example.com", Password: "wrong-password"})
		p := principal(t, e, tok)
		var all []auth.Event
		before := ""
		for {
			page, err := e.svc.ListActivity(ctx, p, auth.ActivityQuery{Limit: ptr(3), Before: before})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Events...)
			if page.NextCursor == "" {
				break
			}
			before = page.NextCursor
		}
		var types []string
		for _, ev := range all {
			types = append(types, ev.Type)
		}
		want := "login_failed login login login login login login registered"
		if strings.Join(types, " ") != want {
			t.Fatalf("events %v, want %s", types, want)
		}
		other := principal(t, e, register(t, e, "other@example.com", "password1").Token)
		page, _ := e.svc.ListActivity(ctx, p, auth.ActivityQuery{Limit: ptr(2)})
		bad := []struct {
			name string
			p    auth.Principal
			q    auth.ActivityQuery
			want auth.Code
		}{
			{"limit 0", p, auth.ActivityQuery{Limit: ptr(0)}, auth.CodeValidation},
			{"limit 101", p, auth.ActivityQuery{Limit: ptr(101)}, auth.CodeValidation},
			{"garbage cursor", p, auth.ActivityQuery{Before: "not-a-cursor"}, auth.CodeInvalidCursor},
			{"edited cursor", p, auth.ActivityQuery{Before: "MTIzLmV2dF94" + page.NextCursor[strings.Index(page.NextCursor, "."):]}, auth.CodeInvalidCursor},
			{"another user's cursor", other, auth.ActivityQuery{Before: page.NextCursor}, auth.CodeInvalidCursor},
		}
		for _, b := range bad {
			_, err := e.svc.ListActivity(ctx, b.p, b.q)
			if auth.CodeOf(err) != b.want {
				t.Fatalf("%s: %v, want %s", b.name, err, b.want)
			}
		}
	})
}

func TestExportHoldsTheRecordAndNoSecret(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		token, setup := enable2FA(t, e, "export@example.com")
		x, err := e.svc.ExportAccount(ctx, principal(t, e, token))
		if err != nil {
			t.Fatal(err)
		}
		if x.User.Email != "export@example.com" || len(x.Sessions) != 1 || !x.TwoFactor.Enabled || x.TwoFactor.BackupCodesRemaining != 10 || len(x.Activity) < 2 {
			t.Fatalf("export: %+v", x)
		}
		raw, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := e.store.UserByEmail(ctx, "export@example.com")
		secrets := append([]string{"password1", token, setup.Secret, u.PasswordHash, u.TOTPSecret, "$argon2id$"}, setup.BackupCodes...)
		for _, s := range secrets {
			if strings.Contains(string(raw), s) {
				t.Fatalf("export holds a secret %q", s)
			}
		}
	})
}

// tableCounts counts the rows of every table of the database (migrations bookkeeping aside).
func tableCounts(t *testing.T, e env) map[string]int {
	t.Helper()
	db := e.store.(*store.Store).SQLDB()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if e.store.(*store.Store).Dialect() == store.Postgres {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		if !strings.HasPrefix(n, "schema_migration") && n != "settings" && n != "signing_keys" && n != "service_keys" {
			names = append(names, n)
		}
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		var c int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + n).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

func TestDeleteAccountErasesEverythingKeyedToTheUser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := fromIP("192.0.2.77")
		token, setup := enable2FA(t, e, "leaving@example.com")
		second := loginAs(t, e, ctx, "leaving@example.com", "password1")
		_ = second
		if err := e.svc.ForgotPassword(ctx, "leaving@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.HandleResetRequest(ctx, `{"email":"leaving@example.com","reason":"forgot_password"}`); err != nil {
			t.Fatal(err) // a live reset token too
		}
		before := tableCounts(t, e)
		p := principal(t, e, token)
		wantCode(t, e.svc.DeleteAccount(ctx, p, pw("password1")), auth.CodeTOTPRequired)
		if err := e.svc.DeleteAccount(ctx, p, auth.Reauth{Password: "password1", BackupCode: &setup.BackupCodes[3]}); err != nil {
			t.Fatal(err)
		}
		after := tableCounts(t, e)
		u, err := e.store.UserByEmail(context.Background(), "leaving@example.com")
		if err == nil {
			t.Fatalf("user still there: %+v", u)
		}
		for table, n := range after {
			switch table {
			case "activity_events":
				// Only the id-only account_deleted event remains.
				if n != 1 {
					t.Errorf("%s: %d rows, want the one account_deleted event", table, n)
				}
			case "outbox", "throttles":
				// The goodbye email (and delivered mail, whose payload is dropped); and
				// counters keyed by address, which expire on their own.
			default:
				if n != 0 {
					t.Errorf("%s: %d rows left of %d, want 0", table, n, before[table])
				}
			}
		}
		var typ, ip, actor string
		var detail *string
		if err := e.store.(*store.Store).SQLDB().QueryRow("SELECT type, ip, actor, detail FROM activity_events").Scan(&typ, &ip, &actor, &detail); err != nil || typ != "account_deleted" || ip != "" || detail != nil {
			t.Fatalf("remaining event: %s %q %s %v %v", typ, ip, actor, detail, err)
		}
		for _, tok := range []string{token, second} {
			if _, err := e.svc.Authenticate(context.Background(), tok); auth.CodeOf(err) != auth.CodeUnauthenticated {
				t.Fatalf("a token survived deletion: %v", err)
			}
		}
		if !queued(t, e, auth.TemplateAccountDeleted, "leaving@example.com") {
			t.Fatal("no goodbye email queued")
		}
		register(t, e, "leaving@example.com", "password1") // the address is free at once
	})
}

// Concurrent password changes and deletions never leave a live session for a deleted or
// re-passworded account.
func TestConcurrentChangesNeverLeaveALiveSession(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		tok := register(t, e, "race@example.com", "password1").Token
		others := make([]string, 4)
		for i := range others {
			others[i] = loginAs(t, e, fromIP(fmt.Sprintf("10.50.0.%d", i)), "race@example.com", "password1")
		}
		var wg sync.WaitGroup
		results := make([]error, 4)
		ps := make([]auth.Principal, len(others))
		for i, o := range others {
			ps[i] = principal(t, e, o)
		}
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := ps[i]
				if i%2 == 0 {
					results[i] = e.svc.ChangePassword(ctx, p, auth.ChangePasswordInput{NewPassword: fmt.Sprintf("changed-%d", i), Reauth: pw("password1")})
				} else {
					results[i] = e.svc.DeleteAccount(ctx, p, pw("password1"))
				}
			}()
		}
		wg.Wait()
		live := 0
		for _, t2 := range append(others, tok) {
			if _, err := e.svc.Authenticate(ctx, t2); err == nil {
				live++
			}
		}
		_, err := e.store.UserByEmail(ctx, "race@example.com")
		deleted := err != nil
		switch {
		case deleted && live != 0:
			t.Fatalf("account deleted but %d sessions live (results %v)", live, results)
		case !deleted && live > 1:
			t.Fatalf("password changed but %d sessions live (results %v)", live, results)
		}
	})
}
