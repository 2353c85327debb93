package main

// Tests of the account self-service commands (sessions, passwd, email, activity, export,
// delete-account) against the live in-process service, in the style of cli_test.go.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scrapeLinkToken waits up to 10 s for an email to email, logged after byte offset from, whose
// body holds a link PUBLIC_URL+path+"?token=" with a token starting with prefix, and returns
// the token of the last one.
func scrapeLinkToken(t *testing.T, email string, from int, path, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(publicURL+path+"?token="+prefix) + `([0-9A-Za-z_-]+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := server.logs.String()[from:]
		token := ""
		sc := bufio.NewScanner(strings.NewReader(logs))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				To   string `json:"to"`
				Body string `json:"body"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.To != email {
				continue
			}
			if m := re.FindStringSubmatch(line.Body); m != nil {
				token = prefix + m[1]
			}
		}
		if token != "" {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s with a %s link in the service log within 10s; log since:\n%s", email, path, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// login logs c in to email with password (no 2FA).
func (c *cli) login(email, pw string) {
	c.t.Helper()
	c.must(0, pw+"\n", "login", "--email", email)
}

// enable2FA turns two-factor authentication on for c's session and returns the secret and
// the backup codes.
func (c *cli) enable2FA() (secret string, backup []string) {
	c.t.Helper()
	v := decodeJSON(c.t, c.must(0, "", "--json", "2fa", "setup"))
	secret, _ = v["secret"].(string)
	for _, x := range v["backupCodes"].([]any) {
		backup = append(backup, x.(string))
	}
	c.must(0, "", "2fa", "verify", "--code", totp(c.t, secret, -1))
	return secret, backup
}

// step is one command of a scenario whose steps run in order and share state.
type step struct {
	name       string
	who        *cli
	args       []string
	moreArgs   func() []string // arguments known only when the step runs
	stdin      func(t *testing.T) string
	wantCode   int
	wantStdout []string
	wantStderr []string
	check      func(t *testing.T, o outcome)
}

// runSteps runs the steps in order and stops at the first that fails.
func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			stdin := ""
			if st.stdin != nil {
				stdin = st.stdin(t)
			}
			args := st.args
			if st.moreArgs != nil {
				args = append(slices.Clone(args), st.moreArgs()...)
			}
			who := *st.who
			who.t = t
			o := who.must(st.wantCode, stdin, args...)
			contains(t, "stdout", o.stdout, st.wantStdout...)
			contains(t, "stderr", o.stderr, st.wantStderr...)
			if st.check != nil {
				st.check(t, o)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; the later steps depend on it", st.name)
		}
	}
}

func lines(s string) func(t *testing.T) string { return func(*testing.T) string { return s } }

func TestSessionsListAndRevoke(t *testing.T) {
	laptop, email := newCLI(t)
	laptop.register(email)
	phone, _ := newCLI(t)
	phone.login(email, password)
	tablet, _ := newCLI(t)
	tablet.login(email, password)
	var phoneID, laptopID string

	runSteps(t, []step{
		{name: "sessions shows a table with this session marked", who: laptop, args: []string{"sessions"},
			wantStdout: []string{"ID", "CURRENT", "METHOD", "IP", "USER AGENT", "LAST SEEN", "ses_", "panguard-cli", "3 session(s)."},
			check: func(t *testing.T, o outcome) {
				marked := 0
				for _, l := range strings.Split(o.stdout, "\n") {
					if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[0], "ses_") && f[1] == "*" {
						marked++
					}
				}
				if marked != 1 {
					t.Errorf("want exactly one row marked *, got %d:\n%s", marked, o.stdout)
				}
			}},
		{name: "--json sessions lists every session with one current", who: laptop, args: []string{"--json", "sessions"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				list, _ := v["sessions"].([]any)
				if v["ok"] != true || len(list) != 3 {
					t.Fatalf("sessions JSON = %v, want 3 sessions", v)
				}
				current := 0
				for _, x := range list {
					s := x.(map[string]any)
					if s["current"] == true {
						current++
						laptopID, _ = s["id"].(string)
					}
					for _, k := range []string{"id", "method", "ip", "userAgent", "createdAt", "lastSeenAt", "expiresAt"} {
						if _, ok := s[k]; !ok {
							t.Errorf("session lacks %q: %v", k, s)
						}
					}
					// The laptop's session came from registering, the others from a password login.
					if want := map[bool]string{true: "register", false: "password"}[s["current"] == true]; s["userAgent"] != "panguard-cli" || s["method"] != want {
						t.Errorf("session = %v, want userAgent panguard-cli and method %s", s, want)
					}
				}
				if current != 1 {
					t.Errorf("want one current session, got %d", current)
				}
			}},
		{name: "another device sees itself as current", who: phone, args: []string{"--json", "sessions"},
			check: func(t *testing.T, o outcome) {
				for _, x := range decodeJSON(t, o)["sessions"].([]any) {
					if s := x.(map[string]any); s["current"] == true {
						phoneID, _ = s["id"].(string)
					}
				}
				if phoneID == "" || phoneID == laptopID {
					t.Fatalf("phone session id %q (laptop %q)", phoneID, laptopID)
				}
			}},
		{name: "revoking another session by id", who: laptop, args: []string{"sessions", "revoke"},
			moreArgs: func() []string { return []string{phoneID} }, wantStdout: []string{"Revoked session ses_"}},
		{name: "the revoked session no longer works", who: phone, args: []string{"whoami"}, wantCode: 1,
			wantStderr: []string{"no longer valid"}},
		{name: "this session keeps working", who: laptop, args: []string{"whoami"}, wantStdout: []string{email}},
		{name: "an unknown id is not found", who: laptop, args: []string{"--json", "sessions", "revoke", "ses_" + strings.Repeat("0", 32)},
			wantCode: 1, wantStdout: []string{`"ok":false`, `"reason":"not_found"`}},
		{name: "a revoked id is not found either", who: laptop, args: []string{"sessions", "revoke"},
			moreArgs: func() []string { return []string{phoneID} }, wantCode: 1, wantStderr: []string{"No session", "panguard sessions"}},
		{name: "revoke --others ends all but this one", who: laptop, args: []string{"--json", "sessions", "revoke", "--others"},
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["ok"] != true || v["revoked"] != float64(1) {
					t.Errorf("revoke --others JSON = %v, want revoked 1 (the tablet)", v)
				}
			}},
		{name: "the tablet was signed out", who: tablet, args: []string{"whoami"}, wantCode: 1, wantStderr: []string{"no longer valid"}},
		{name: "one session left", who: laptop, args: []string{"sessions"}, wantStdout: []string{"1 session(s)."}},
		{name: "revoke --others with nothing to revoke", who: laptop, args: []string{"sessions", "revoke", "--others"},
			wantStdout: []string{"Revoked 0 other session(s)"}},
		{name: "revoking this session logs out", who: laptop, args: []string{"sessions", "revoke"},
			moreArgs: func() []string { return []string{laptopID, "--json"} },
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["ok"] != true || v["current"] != true {
					t.Errorf("revoke own session JSON = %v", v)
				}
				if _, err := os.Stat(laptop.credentialsPath()); err == nil {
					t.Errorf("revoking the current session left the credentials file")
				}
			}},
		{name: "after revoking this session, not logged in", who: laptop, args: []string{"whoami"}, wantCode: 1,
			wantStderr: []string{"Not logged in"}},
	})
}

func TestPasswd(t *testing.T) {
	const newPassword = "a changed passphrase"
	c, email := newCLI(t)
	c.register(email)
	other, _ := newCLI(t)
	other.login(email, password)

	runSteps(t, []step{
		{name: "prompts current then new twice, refusing a mismatch", who: c, args: []string{"passwd"},
			stdin: lines(password + "\n" + newPassword + "\nsomething else\n"), wantCode: 1,
			wantStderr: []string{"Current password:", "New password (8-128 characters):", "Confirm new password:", "do not match"}},
		{name: "a wrong current password is refused", who: c, args: []string{"passwd"},
			stdin: lines("wrong password\n" + newPassword + "\n" + newPassword + "\n"), wantCode: 1, wantStderr: []string{"Wrong password."}},
		{name: "a too-short new password shows the server's message", who: c, args: []string{"--json", "passwd"},
			stdin: lines(password + "\nshort\nshort\n"), wantCode: 1, wantStdout: []string{`"reason":"validation_failed"`}},
		{name: "the other session still works before the change", who: other, args: []string{"whoami"}, wantStdout: []string{email}},
		{name: "changes the password without asking for a code when 2FA is off", who: c, args: []string{"passwd"},
			stdin:      lines(password + "\n" + newPassword + "\n" + newPassword + "\n"),
			wantStdout: []string{"Password changed", "other session"},
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Authentication code") {
					t.Errorf("passwd asked for a code with 2FA off:\n%s", o.stderr)
				}
			}},
		{name: "this session stays logged in", who: c, args: []string{"whoami"}, wantStdout: []string{email}},
		{name: "the other session was signed out", who: other, args: []string{"whoami"}, wantCode: 1, wantStderr: []string{"no longer valid"}},
		{name: "the old password no longer logs in", who: other, args: []string{"login", "--email", email},
			stdin: lines(password + "\n"), wantCode: 1, wantStderr: []string{"Invalid email or password."}},
		{name: "the new password logs in", who: other, args: []string{"login", "--email", email},
			stdin: lines(newPassword + "\n"), wantStdout: []string{"Logged in"}},
	})

	t.Run("with 2FA on it asks for a code when the server needs one", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		secret, backup := c.enable2FA()
		runSteps(t, []step{
			{name: "a wrong code is refused", who: c, args: []string{"passwd"},
				stdin: func(t *testing.T) string {
					return password + "\n" + newPassword + "\n" + newPassword + "\n" + wrongTOTP(t, secret) + "\n"
				}, wantCode: 1, wantStderr: []string{"Authentication code (or backup code):", "authentication code is wrong"},
				check: func(t *testing.T, o outcome) {
					if strings.Index(o.stderr, "Confirm new password:") > strings.Index(o.stderr, "Authentication code") {
						t.Errorf("the code was asked for before the new password:\n%s", o.stderr)
					}
				}},
			{name: "a wrong password is refused before any code is asked", who: c, args: []string{"passwd"},
				stdin: lines("wrong password\n" + newPassword + "\n" + newPassword + "\n"), wantCode: 1, wantStderr: []string{"Wrong password."},
				check: func(t *testing.T, o outcome) {
					if strings.Contains(o.stderr, "Authentication code") {
						t.Errorf("a code was asked for although the password was wrong:\n%s", o.stderr)
					}
				}},
			{name: "the current code changes the password", who: c, args: []string{"passwd"},
				stdin: func(t *testing.T) string {
					return password + "\n" + newPassword + "\n" + newPassword + "\n" + totp(t, secret, 0) + "\n"
				}, wantStdout: []string{"Password changed"}},
			{name: "a backup code given with --code changes it back", who: c, args: []string{"passwd", "--code", backup[0]},
				stdin: lines(newPassword + "\n" + password + "\n" + password + "\n"), wantStdout: []string{"Password changed"},
				check: func(t *testing.T, o outcome) {
					if strings.Contains(o.stderr, "Authentication code") {
						t.Errorf("passwd asked for a code given with --code:\n%s", o.stderr)
					}
				}},
			{name: "the backup code was used up", who: c, args: []string{"--json", "2fa", "status"},
				check: func(t *testing.T, o outcome) {
					if v := decodeJSON(t, o); v["backupCodesRemaining"] != float64(9) {
						t.Errorf("status = %v, want 9 backup codes left", v)
					}
				}},
		})
	})
}

func TestEmailVerifyAndChange(t *testing.T) {
	c, email := newCLI(t)
	from := server.logs.Len()
	c.register(email)
	verifyToken := scrapeLinkToken(t, email, from, "/verify-email", "vfy_")
	newEmail := "moved-" + email
	var changeToken string
	var changeFrom int

	runSteps(t, []step{
		{name: "whoami shows the address unverified", who: c, args: []string{"whoami"},
			wantStdout: []string{"Email verified: no"}},
		{name: "--json whoami has emailVerified false and a role", who: c, args: []string{"--json", "whoami"},
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["emailVerified"] != false || v["role"] != "user" {
					t.Errorf("whoami JSON = %v", v)
				}
			}},
		{name: "resend answers with a message", who: c, args: []string{"email", "resend"}, wantStdout: []string{"panguard email verify"}},
		{name: "an unknown verify token is explained", who: c, args: []string{"email", "verify", "vfy_" + strings.Repeat("0", 64)},
			wantCode: 1, wantStderr: []string{"invalid, already used or expired"}},
		{name: "verify with the whole link, without a session", who: &cli{t: t, env: map[string]string{"HOME": t.TempDir(), "PANGUARD_API_URL": server.url}},
			args: []string{"email", "verify", publicURL + "/verify-email?token=" + verifyToken}, wantStdout: []string{"verified"}},
		{name: "whoami shows the address verified", who: c, args: []string{"whoami"}, wantStdout: []string{"Email verified: yes"}},
		{name: "a change needs the right password", who: c, args: []string{"email", "change", newEmail},
			stdin: lines("wrong password\n"), wantCode: 1, wantStderr: []string{"Password:", "Wrong password."}},
		{name: "an invalid address is refused", who: c, args: []string{"--json", "email", "change", "not-an-address"},
			stdin: lines(password + "\n"), wantCode: 1, wantStdout: []string{`"reason":"validation_failed"`}},
		{name: "change asks for the password and sends a link to the new address", who: c, args: []string{"email", "change", newEmail},
			stdin:      func(*testing.T) string { changeFrom = server.logs.Len(); return password + "\n" },
			wantStdout: []string{newEmail, "panguard email confirm"},
			check: func(t *testing.T, o outcome) {
				changeToken = scrapeLinkToken(t, newEmail, changeFrom, "/confirm-email", "eml_")
			}},
		{name: "until confirmed the address is unchanged", who: c, args: []string{"whoami"}, wantStdout: []string{"Email:          " + email}},
		{name: "confirm prompts for the token (a pasted link works)", who: c, args: []string{"--json", "email", "confirm"},
			stdin:      func(*testing.T) string { return publicURL + "/confirm-email?token=" + changeToken + "\n" },
			wantStderr: []string{"Token (or the link from the email):"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				u, _ := v["user"].(map[string]any)
				if v["ok"] != true || u["email"] != newEmail || u["emailVerified"] != true {
					t.Errorf("confirm JSON = %v", v)
				}
			}},
		{name: "whoami shows the new address", who: c, args: []string{"whoami"}, wantStdout: []string{"Email:          " + newEmail, "Email verified: yes"}},
		{name: "a confirm token works once", who: c, args: []string{"--json", "email", "confirm"},
			moreArgs: func() []string { return []string{changeToken} }, wantCode: 1, wantStdout: []string{`"reason":"invalid_token"`}},
		{name: "login with the new address", who: c, args: []string{"login", "--email", newEmail}, stdin: lines(password + "\n"),
			wantStdout: []string{"Logged in"}},
	})

	t.Run("an address taken before the confirmation is refused", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		target := "taken-" + email
		from := server.logs.Len()
		c.must(0, password+"\n", "email", "change", target)
		token := scrapeLinkToken(t, target, from, "/confirm-email", "eml_")
		squatter, _ := newCLI(t)
		squatter.register(target)
		o := c.must(1, "", "email", "confirm", token)
		contains(t, "stderr", o.stderr, "belongs to another account")
		contains(t, "whoami", c.must(0, "", "whoami").stdout, "Email:          "+email)
	})
	t.Run("with 2FA on a change asks for a code", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		secret, _ := c.enable2FA()
		o := c.must(0, password+"\n"+totp(t, secret, 0)+"\n", "email", "change", "other-"+email)
		contains(t, "stderr", o.stderr, "Password:", "Authentication code (or backup code):")
	})
}

func TestActivity(t *testing.T) {
	c, email := newCLI(t)
	c.register(email)
	stranger, _ := newCLI(t)
	stranger.must(1, "wrong password\n", "login", "--email", email)
	c.login(email, password)
	var cursor string
	var firstID string

	runSteps(t, []step{
		{name: "activity lists events newest first", who: c, args: []string{"activity"},
			wantStdout: []string{"WHEN", "EVENT", "BY", "IP", "login", "login_failed", "registered", "self"},
			check: func(t *testing.T, o outcome) {
				iLogin := strings.Index(o.stdout, " login ")
				iFailed := strings.Index(o.stdout, "login_failed")
				iReg := strings.Index(o.stdout, "registered")
				if !(iLogin < iFailed && iFailed < iReg) {
					t.Errorf("events are not newest first:\n%s", o.stdout)
				}
				if strings.Contains(o.stdout, "More:") {
					t.Errorf("one page holds everything, yet it offers more:\n%s", o.stdout)
				}
			}},
		{name: "--json --limit 1 gives one event and a cursor", who: c, args: []string{"--json", "activity", "--limit", "1"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				evs, _ := v["events"].([]any)
				if len(evs) != 1 {
					t.Fatalf("activity JSON = %v, want one event", v)
				}
				e := evs[0].(map[string]any)
				firstID, _ = e["id"].(string)
				if !strings.HasPrefix(firstID, "evt_") || e["type"] != "login" || e["actor"] != "self" {
					t.Errorf("event = %v, want the last login", e)
				}
				cursor, _ = v["nextCursor"].(string)
				if cursor == "" {
					t.Fatalf("no nextCursor: %v", v)
				}
			}},
		{name: "the next page starts after the cursor", who: c, args: []string{"activity", "--limit", "1"},
			moreArgs:   func() []string { return []string{"--before", cursor} },
			wantStdout: []string{"login_failed", "More: panguard activity --limit 1 --before "},
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stdout, "registered") {
					t.Errorf("the page holds more than one event:\n%s", o.stdout)
				}
			}},
		{name: "an unknown cursor is refused", who: c, args: []string{"--json", "activity", "--before", "not-a-cursor"},
			wantCode: 1, wantStdout: []string{`"reason":"invalid_cursor"`}},
		{name: "an unknown cursor is explained to people", who: c, args: []string{"activity", "--before", "not-a-cursor"},
			wantCode: 1, wantStderr: []string{"not one the server issued"}},
	})
}

func TestExport(t *testing.T) {
	c, email := newCLI(t)
	c.register(email)
	dir := t.TempDir()
	file := filepath.Join(dir, "export.json")
	creds, err := os.ReadFile(c.credentialsPath())
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Token string }
	if err := json.Unmarshal(creds, &saved); err != nil {
		t.Fatal(err)
	}
	checkExport := func(t *testing.T, raw []byte) map[string]any {
		t.Helper()
		var x map[string]any
		if err := json.Unmarshal(raw, &x); err != nil {
			t.Fatalf("export is not JSON: %v\n%s", err, raw)
		}
		for _, k := range []string{"exportedAt", "user", "sessions", "activity", "twoFactor", "passkeys"} {
			if _, ok := x[k]; !ok {
				t.Errorf("export lacks %q: %s", k, raw)
			}
		}
		if u, _ := x["user"].(map[string]any); u["email"] != email {
			t.Errorf("export user = %v", x["user"])
		}
		if ss, _ := x["sessions"].([]any); len(ss) != 1 {
			t.Errorf("export sessions = %v, want 1", x["sessions"])
		}
		if tf, _ := x["twoFactor"].(map[string]any); tf["enabled"] != false {
			t.Errorf("export twoFactor = %v", x["twoFactor"])
		}
		for _, secret := range []string{saved.Token, password} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("export holds a secret (%.12s…)", secret)
			}
		}
		return x
	}

	runSteps(t, []step{
		{name: "-o writes the export to a private file", who: c, args: []string{"export", "-o", file},
			wantStdout: []string{"exported to " + file, "1 sessions"},
			check: func(t *testing.T, o outcome) {
				st, err := os.Stat(file)
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Fatalf("export file: %v, mode %v, want 0600", err, st.Mode().Perm())
				}
				raw, _ := os.ReadFile(file)
				checkExport(t, raw)
				if ents, _ := os.ReadDir(dir); len(ents) != 1 {
					t.Errorf("the directory should hold only the export (no temporary file): %v", ents)
				}
			}},
		{name: "-o replaces a loose file and makes it 0600", who: c, args: []string{"--json", "export", "-o", file},
			stdin: func(t *testing.T) string {
				if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(file, 0o644); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			check: func(t *testing.T, o outcome) {
				if v := decodeJSON(t, o); v["ok"] != true || v["file"] != file {
					t.Errorf("export JSON = %v", v)
				}
				if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("export file: %v, mode %v, want 0600", err, st.Mode().Perm())
				}
				raw, _ := os.ReadFile(file)
				checkExport(t, raw)
			}},
		{name: "without -o the export goes to stdout", who: c, args: []string{"export"},
			check: func(t *testing.T, o outcome) {
				x := checkExport(t, []byte(o.stdout))
				found := false
				for _, e := range x["activity"].([]any) {
					found = found || e.(map[string]any)["type"] == "data_exported"
				}
				if !found {
					t.Errorf("the earlier exports are not in the activity: %v", x["activity"])
				}
			}},
		{name: "--json without -o wraps the export", who: c, args: []string{"--json", "export"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				raw, _ := json.Marshal(v["export"])
				if v["ok"] != true {
					t.Errorf("export JSON = %v", v)
				}
				checkExport(t, raw)
			}},
		{name: "a directory that does not exist is explained", who: c, args: []string{"export", "-o", filepath.Join(dir, "nope", "x.json")},
			wantCode: 1, wantStderr: []string{"Cannot write the export"}},
	})
}

func TestDeleteAccount(t *testing.T) {
	c, email := newCLI(t)
	c.register(email)
	other, _ := newCLI(t)
	other.login(email, password)

	runSteps(t, []step{
		{name: "a mistyped email address deletes nothing", who: c, args: []string{"delete-account"},
			stdin: lines("someone-else@example.com\n" + password + "\n"), wantCode: 1,
			wantStderr: []string{"permanently deletes the account " + email, "Type the account's email address to confirm:", "nothing was deleted"},
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Password:") {
					t.Errorf("the password was asked for after a failed confirmation:\n%s", o.stderr)
				}
			}},
		{name: "the confirmation must match exactly", who: c, args: []string{"--json", "delete-account"},
			stdin: lines(strings.ToUpper(email) + "\n" + password + "\n"), wantCode: 1, wantStdout: []string{`"reason":"not_confirmed"`}},
		{name: "a wrong password deletes nothing", who: c, args: []string{"delete-account"},
			stdin: lines(email + "\nwrong password\n"), wantCode: 1, wantStderr: []string{"Wrong password."}},
		{name: "the account still works", who: c, args: []string{"whoami"}, wantStdout: []string{email}},
		{name: "typing the address and the password deletes it", who: c, args: []string{"delete-account"},
			stdin: lines(email + "\n" + password + "\n"), wantStdout: []string{"Account " + email + " deleted", "local credentials removed"},
			check: func(t *testing.T, o outcome) {
				if _, err := os.Stat(c.credentialsPath()); err == nil {
					t.Errorf("delete-account left the credentials file")
				}
			}},
		{name: "not logged in afterwards", who: c, args: []string{"whoami"}, wantCode: 1, wantStderr: []string{"Not logged in"}},
		{name: "every other session died too", who: other, args: []string{"whoami"}, wantCode: 1, wantStderr: []string{"no longer valid"}},
		{name: "the account can no longer log in", who: other, args: []string{"login", "--email", email},
			stdin: lines(password + "\n"), wantCode: 1, wantStderr: []string{"Invalid email or password."}},
		{name: "the address can register again at once", who: c, args: []string{"register", "--email", email, "--name", "Again"},
			stdin: lines(password + "\n" + password + "\n"), wantStdout: []string{"Welcome, Again"}},
	})

	t.Run("with 2FA on it asks for a code", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		secret, _ := c.enable2FA()
		runSteps(t, []step{
			{name: "a wrong code deletes nothing", who: c, args: []string{"delete-account"},
				stdin:    func(t *testing.T) string { return email + "\n" + password + "\n" + wrongTOTP(t, secret) + "\n" },
				wantCode: 1, wantStderr: []string{"Authentication code (or backup code):", "authentication code is wrong"}},
			{name: "the current code deletes it", who: c, args: []string{"--json", "delete-account"},
				stdin: func(t *testing.T) string { return email + "\n" + password + "\n" + totp(t, secret, 0) + "\n" },
				check: func(t *testing.T, o outcome) {
					if v := decodeJSON(t, o); v["ok"] != true || v["deleted"] != true {
						t.Errorf("delete-account JSON = %v", v)
					}
				}},
			{name: "gone", who: c, args: []string{"login", "--email", email}, stdin: lines(password + "\n"), wantCode: 1,
				wantStderr: []string{"Invalid email or password."}},
		})
	})
}
