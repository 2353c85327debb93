package main

// Tests of the admin commands against the live in-process service, in the style of
// account_test.go. The admin role is granted as an operator does, through the domain service
// of the running server (it is not reachable over the network).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
)

// makeAdmin grants the admin role to the account of email.
func makeAdmin(t *testing.T, email string) {
	t.Helper()
	liveServer(t)
	if _, err := server.srv.Auth().SetRole(context.Background(), email, auth.RoleAdmin); err != nil {
		t.Fatalf("grant admin to %s: %v", email, err)
	}
}

// jsonString is v[key] as a string ("" when absent or not a string).
func jsonString(v map[string]any, key string) string {
	s, _ := v[key].(string)
	return s
}

func TestAdminUsageErrors(t *testing.T) {
	const id = "usr_0123456789abcdef01234567"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"admin without a subcommand lists the admin commands", []string{"admin"}, 2, nil,
			[]string{"Usage: panguard admin", "admin users", "admin user ", "admin plan", "admin suspend", "admin unsuspend",
				"admin revoke-sessions", "admin reset-2fa", "admin delete-user", "admin audit"}},
		{"admin -h lists the admin commands", []string{"admin", "-h"}, 0, nil, []string{"Usage: panguard admin", "admin delete-user"}},
		{"unknown admin subcommand is a usage error", []string{"admin", "nope"}, 2, nil, []string{`unknown command "admin nope"`}},
		{"plan -h says a date means 00:00 UTC", []string{"admin", "plan", "-h"}, 0, []string{"Usage: panguard admin plan", "-until", "00:00 UTC"}, nil},
		{"plan without a tier is a usage error", []string{"admin", "plan", id}, 2, nil, []string{"missing account id and tier"}},
		{"plan with a malformed date is a usage error", []string{"admin", "plan", id, "pro", "--until", "31/12/2099"}, 2, nil,
			[]string{`--until "31/12/2099" is not a date`}},
		{"plan with an impossible date is a usage error", []string{"admin", "plan", id, "pro", "--until", "2099-02-30"}, 2, nil,
			[]string{"is not a date"}},
		{"suspend without --reason is a usage error", []string{"admin", "suspend", id}, 2, nil, []string{"missing --reason"}},
		{"suspend with a blank reason is a usage error", []string{"admin", "suspend", id, "--reason", "  "}, 2, nil, []string{"missing --reason"}},
		{"reset-2fa without --reason is a usage error", []string{"admin", "reset-2fa", id}, 2, nil, []string{"missing --reason"}},
		{"user without an id is a usage error", []string{"admin", "user"}, 2, nil, []string{"missing account id"}},
		{"user with two ids is a usage error", []string{"admin", "user", id, "usr_2"}, 2, nil, []string{`unexpected argument "usr_2"`}},
		{"users with two queries is a usage error", []string{"admin", "users", "a", "b"}, 2, nil, []string{`unexpected argument "b"`}},
		{"users --limit 0 is a usage error", []string{"admin", "users", "--limit", "0"}, 2, nil, []string{"--limit must be between 1 and 100"}},
		{"audit --limit 101 is a usage error", []string{"admin", "audit", "--limit", "101"}, 2, nil, []string{"--limit must be between 1 and 100"}},
		{"audit takes no argument", []string{"admin", "audit", "extra"}, 2, nil, []string{`unexpected argument "extra"`}},
		{"delete-user without an id is a usage error", []string{"admin", "delete-user", "--yes"}, 2, nil, []string{"missing account id"}},
		{"usage error under --json is a JSON object", []string{"--json", "admin", "suspend", id}, 2,
			[]string{`"ok":false`, `"reason":"usage"`, "missing --reason"}, nil},
		{"a well-formed command without a session is not logged in", []string{"admin", "plan", id, "pro", "--until", "2099-12-31"}, 1, nil,
			[]string{"Not logged in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No session and no server: a usage error must be found before any of them is needed.
			c := &cli{t: t, env: map[string]string{"HOME": t.TempDir()}}
			o := c.must(tt.wantCode, "", tt.args...)
			contains(t, "stdout", o.stdout, tt.wantStdout...)
			contains(t, "stderr", o.stderr, tt.wantStderr...)
		})
	}
}

func TestParseUntil(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2099-12-31", time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{" 2099-12-31 ", time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"2099-12-31T23:59:59Z", time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{"2099-12-31T08:00:00+08:00", time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"2099-12-31 08:00", time.Time{}, true},
		{"31/12/2099", time.Time{}, true},
		{"2099-13-01", time.Time{}, true},
		{"tomorrow", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseUntil(tt.in)
			if tt.wantErr {
				var ce *cliError
				if err == nil || !errors.As(err, &ce) || ce.code != 2 {
					t.Errorf("parseUntil(%q) = %v, %v; want a usage error", tt.in, got, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("parseUntil(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestAdminCommands(t *testing.T) {
	admin, adminEmail := newCLI(t)
	admin.register(adminEmail)
	makeAdmin(t, adminEmail)
	adminID := jsonString(decodeJSON(t, admin.must(0, "", "--json", "whoami")), "id")

	target, targetEmail := newCLI(t)
	tag := fmt.Sprintf("50%%_off %d", time.Now().UnixNano())
	target.must(0, password+"\n"+password+"\n", "register", "--email", targetEmail, "--name", "Promo "+tag)
	target.enable2FA()
	var id, cursor string

	runSteps(t, []step{
		{name: "a non-admin is told it needs an admin account", who: target, args: []string{"admin", "users"},
			wantCode: 1, wantStderr: []string{"This needs an admin account."}},
		{name: "a non-admin under --json gets reason forbidden", who: target, args: []string{"--json", "admin", "audit"},
			wantCode: 1, wantStdout: []string{`"ok":false`, `"reason":"forbidden"`, "This needs an admin account."}},
		{name: "a query with % finds the account literally", who: admin, args: []string{"--json", "admin", "users", strings.ToUpper(tag)},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				users, _ := v["users"].([]any)
				if v["ok"] != true || len(users) != 1 || v["nextCursor"] != nil {
					t.Fatalf("users JSON = %v, want exactly the target", v)
				}
				u := users[0].(map[string]any)
				id = jsonString(u, "id")
				if u["email"] != targetEmail || u["role"] != "user" || u["suspended"] != false || u["totpEnabled"] != true || !strings.HasPrefix(id, "usr_") {
					t.Errorf("user = %v", u)
				}
				if _, ok := u["sessionCount"]; ok {
					t.Errorf("a listed user has a sessionCount, which the list does not count: %v", u)
				}
			}},
		{name: "users shows a table with flags", who: admin, args: []string{"admin", "users", tag},
			wantStdout: []string{"ID", "EMAIL", "NAME", "TIER", "ROLE", "FLAGS", "LAST LOGIN", targetEmail, "solo", "2fa", "1 account(s)."},
			check: func(t *testing.T, o outcome) {
				contains(t, "stdout", o.stdout, id)
			}},
		{name: "% and _ are not wildcards", who: admin, args: []string{"admin", "users", "user%example_com"},
			wantStdout: []string{"No accounts match."}},
		{name: "--limit 1 pages with a cursor", who: admin, args: []string{"--json", "admin", "users", "--limit", "1"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				if users, _ := v["users"].([]any); len(users) != 1 {
					t.Errorf("users JSON = %v, want one", v)
				}
				if cursor = jsonString(v, "nextCursor"); cursor == "" {
					t.Fatalf("no nextCursor with two accounts or more: %v", v)
				}
			}},
		{name: "the next page prints the command for the one after", who: admin, args: []string{"admin", "users", "--limit", "1"},
			moreArgs: func() []string { return []string{"--cursor", cursor} }, wantStdout: []string{"More: panguard admin users --limit 1 --cursor "}},
		{name: "an unknown cursor is explained", who: admin, args: []string{"admin", "users", "--cursor", "nope"},
			wantCode: 1, wantStderr: []string{"not one the server issued"}},
		{name: "an unknown tier shows the server's message", who: admin, args: []string{"admin", "users", "--tier", "gold"},
			wantCode: 1, wantStderr: []string{"Invalid input:", "tier"}},
		{name: "user shows one account in detail", who: admin, args: []string{"admin", "user"}, moreArgs: func() []string { return []string{id} },
			wantStdout: []string{"Email:          " + targetEmail, "Role:           user", "Tier:           solo", "Plan ends:      never",
				"Trial ends:", "2FA:            on", "Sessions:       1", "Suspended:      no"}},
		{name: "an unknown account is not found", who: admin, args: []string{"admin", "user", "usr_" + strings.Repeat("0", 24)},
			wantCode: 1, wantStderr: []string{"No account usr_000", "panguard admin users"}},
		{name: "plan --until a date ends at 00:00 UTC that day", who: admin, args: []string{"--json", "admin", "plan"},
			moreArgs: func() []string { return []string{id, "pro", "--until", "2099-12-31"} },
			check: func(t *testing.T, o outcome) {
				u, _ := decodeJSON(t, o)["user"].(map[string]any)
				if u["tier"] != "pro" || u["planExpiresAt"] != "2099-12-31T00:00:00Z" || u["trialEndsAt"] != nil {
					t.Errorf("plan JSON user = %v, want pro until 2099-12-31T00:00:00Z and no trial", u)
				}
			}},
		{name: "plan --until an RFC 3339 time", who: admin, args: []string{"admin", "plan"},
			moreArgs:   func() []string { return []string{id, "business", "--until", "2098-06-30T12:00:00Z"} },
			wantStdout: []string{targetEmail + " is now on the business tier until 2098-06-"}},
		{name: "plan --until a past date shows the server's refusal", who: admin, args: []string{"admin", "plan"},
			moreArgs: func() []string { return []string{id, "pro", "--until", "2001-01-01"} },
			wantCode: 1, wantStderr: []string{"Invalid input:", "future"}},
		{name: "the owner sees the new tier", who: target, args: []string{"--json", "whoami"},
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["tier"] != "business" || v["planExpiresAt"] != "2098-06-30T12:00:00Z" {
					t.Errorf("whoami JSON = %v", v)
				}
			}},
		{name: "reset-2fa removes the second factor", who: admin, args: []string{"admin", "reset-2fa", "--reason", "lost phone, ticket 42"},
			moreArgs: func() []string { return []string{id} }, wantStdout: []string{"Two-factor authentication removed from " + targetEmail}},
		{name: "reset-2fa with nothing to reset", who: admin, args: []string{"--json", "admin", "reset-2fa", "--reason", "again"},
			moreArgs: func() []string { return []string{id} }, wantCode: 1,
			wantStdout: []string{`"reason":"totp_not_enabled"`, "no two-factor authentication to reset"}},
		{name: "the owner logs in with the password alone", who: target, args: []string{"login", "--email", targetEmail},
			stdin: lines(password + "\n"), wantStdout: []string{"Logged in"},
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Authentication code") {
					t.Errorf("login asked for a code after the reset:\n%s", o.stderr)
				}
			}},
		{name: "revoke-sessions ends both of the owner's sessions", who: admin, args: []string{"--json", "admin", "revoke-sessions"},
			moreArgs: func() []string { return []string{id} },
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["ok"] != true || v["revoked"] != float64(2) || v["id"] != id {
					t.Errorf("revoke-sessions JSON = %v, want revoked 2", v)
				}
			}},
		{name: "the owner's session no longer works", who: target, args: []string{"whoami"}, wantCode: 1, wantStderr: []string{"no longer valid"}},
		{name: "the owner logs in again", who: target, args: []string{"login", "--email", targetEmail}, stdin: lines(password + "\n"),
			wantStdout: []string{"Logged in"}},
		{name: "suspend ends the sessions", who: admin, args: []string{"admin", "suspend", "--reason", "fraud check"},
			moreArgs: func() []string { return []string{id} }, wantStdout: []string{"Suspended " + targetEmail, "Reason: fraud check"},
			check: func(t *testing.T, o outcome) {
				contains(t, "stdout", o.stdout, "Lift it with: panguard admin unsuspend "+id)
			}},
		{name: "the suspended owner's session no longer works", who: target, args: []string{"whoami"}, wantCode: 1,
			wantStderr: []string{"no longer valid"}},
		{name: "the suspended owner is told at login", who: target, args: []string{"login", "--email", targetEmail},
			stdin: lines(password + "\n"), wantCode: 1, wantStderr: []string{"suspended by an administrator"}},
		{name: "the suspended owner's login under --json", who: target, args: []string{"--json", "login", "--email", targetEmail},
			stdin: lines(password + "\n"), wantCode: 1, wantStdout: []string{`"reason":"account_suspended"`}},
		{name: "user shows the suspension and its reason", who: admin, args: []string{"admin", "user"}, moreArgs: func() []string { return []string{id} },
			wantStdout: []string{"Suspended:      yes since ", "Reason:         fraud check", "Sessions:       0"}},
		{name: "--json user has the suspension and the session count", who: admin, args: []string{"--json", "admin", "user"},
			moreArgs: func() []string { return []string{id} },
			check: func(t *testing.T, o outcome) {
				u, _ := decodeJSON(t, o)["user"].(map[string]any)
				if u["suspended"] != true || u["suspendedReason"] != "fraud check" || u["sessionCount"] != float64(0) || jsonString(u, "suspendedAt") == "" {
					t.Errorf("user JSON = %v", u)
				}
			}},
		{name: "an admin cannot suspend their own account", who: admin, args: []string{"admin", "suspend", adminID, "--reason", "oops"},
			wantCode: 1, wantStderr: []string{"Refused: You cannot suspend your own account"}},
		{name: "users flags the suspension", who: admin, args: []string{"admin", "users", tag}, wantStdout: []string{"suspended"}},
		{name: "unsuspend lets the owner in again", who: admin, args: []string{"admin", "unsuspend"}, moreArgs: func() []string { return []string{id} },
			wantStdout: []string{targetEmail + " is not suspended"}},
		{name: "the owner logs in after the suspension", who: target, args: []string{"login", "--email", targetEmail}, stdin: lines(password + "\n"),
			wantStdout: []string{"Logged in"}},
		{name: "audit shows the admin's actions, newest first", who: admin, args: []string{"admin", "audit", "--user"},
			moreArgs: func() []string { return []string{id} },
			wantStdout: []string{"WHEN", "USER", "EVENT", "BY", "DETAIL", "admin:" + adminID, "plan_changed", "totp_reset_by_admin",
				"sessions_revoked_by_admin", "suspended", "unsuspended", "fraud check"},
			check: func(t *testing.T, o outcome) {
				for _, l := range strings.Split(strings.TrimSpace(o.stdout), "\n")[1:] {
					if f := strings.Fields(l); len(f) < 4 || f[2] != id {
						t.Errorf("a row is not about %s: %q", id, l)
					}
				}
				order := []string{" unsuspended ", " suspended ", " sessions_revoked_by_admin ", " totp_reset_by_admin ", " plan_changed "}
				last := -1
				for _, ev := range order {
					i := strings.Index(o.stdout, ev)
					if i < last {
						t.Errorf("%q comes before a newer event:\n%s", ev, o.stdout)
					}
					last = i
				}
			}},
		{name: "--json audit filtered by type", who: admin, args: []string{"--json", "admin", "audit", "--type", "suspended", "--user"},
			moreArgs: func() []string { return []string{id} },
			check: func(t *testing.T, o outcome) {
				evs, _ := decodeJSON(t, o)["events"].([]any)
				if len(evs) != 1 {
					t.Fatalf("want one suspended event, got %v", evs)
				}
				e := evs[0].(map[string]any)
				if e["type"] != "suspended" || e["userId"] != id || e["actor"] != "admin:"+adminID {
					t.Errorf("event = %v", e)
				}
			}},
		{name: "audit --limit 1 offers the next page", who: admin, args: []string{"admin", "audit", "--limit", "1", "--user"},
			moreArgs: func() []string { return []string{id} },
			check: func(t *testing.T, o outcome) {
				contains(t, "stdout", o.stdout, "More: panguard admin audit --user "+id+" --limit 1 --cursor ")
			}},
		{name: "delete-user wants the email typed", who: admin, args: []string{"admin", "delete-user"}, moreArgs: func() []string { return []string{id} },
			stdin: lines("someone-else@example.com\n"), wantCode: 1,
			wantStderr: []string{"permanently deletes the account " + targetEmail, "Type the account's email address to confirm:", "nothing was deleted"}},
		{name: "the account is still there", who: admin, args: []string{"admin", "user"}, moreArgs: func() []string { return []string{id} },
			wantStdout: []string{targetEmail}},
		{name: "delete-user --yes deletes without asking", who: admin, args: []string{"--json", "admin", "delete-user", "--yes"},
			moreArgs: func() []string { return []string{id} },
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["ok"] != true || v["deleted"] != true || v["email"] != targetEmail {
					t.Errorf("delete-user JSON = %v", v)
				}
				if strings.Contains(o.stderr, "Type the account's email") {
					t.Errorf("delete-user --yes asked for confirmation:\n%s", o.stderr)
				}
			}},
		{name: "the deleted account is not found", who: admin, args: []string{"admin", "user"}, moreArgs: func() []string { return []string{id} },
			wantCode: 1, check: func(t *testing.T, o outcome) { contains(t, "stderr", o.stderr, "No account "+id) }},
		{name: "the deleted account cannot log in", who: target, args: []string{"login", "--email", targetEmail}, stdin: lines(password + "\n"),
			wantCode: 1, wantStderr: []string{"Invalid email or password."}},
		{name: "the audit keeps the deletion, by the admin", who: admin, args: []string{"admin", "audit", "--type", "account_deleted", "--user"},
			moreArgs: func() []string { return []string{id} }, wantStdout: []string{"account_deleted", "admin:" + adminID}},
	})
}

func TestAdminDeleteUserTypedConfirmation(t *testing.T) {
	admin, adminEmail := newCLI(t)
	admin.register(adminEmail)
	makeAdmin(t, adminEmail)
	victim, victimEmail := newCLI(t)
	victim.register(victimEmail)
	id := jsonString(decodeJSON(t, victim.must(0, "", "--json", "whoami")), "id")
	// In order: the refusals first, then the deletion.
	tests := []struct {
		name     string
		stdin    string
		wantCode int
		want     []string
	}{
		{"the address in capitals is not a match", strings.ToUpper(victimEmail) + "\n", 1, []string{"nothing was deleted"}},
		{"no answer deletes nothing", "", 1, []string{"standard input ended"}},
		{"the exact address deletes it", victimEmail + "\n", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := *admin
			a.t = t
			o := a.must(tt.wantCode, tt.stdin, "admin", "delete-user", id)
			contains(t, "stderr", o.stderr, tt.want...)
			if tt.wantCode == 0 {
				contains(t, "stdout", o.stdout, "Account "+victimEmail+" ("+id+") deleted.")
			}
		})
	}
}
