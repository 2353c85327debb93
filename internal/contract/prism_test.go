package contract_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/webauthntest"
	"panguard.ai/auth/sdk"
	"panguard.ai/auth/sdk/rest"
)

// checker is the transport of every request the test makes. It fails the test on each
// answer Prism (5.x, `prism proxy --errors`) marks as outside the contract. Prism says so in
// one of two ways:
//   - a violation of severity error (a body, header or media type that does not match the
//     operation's response, a 2xx status it does not declare): Prism replaces the service's
//     answer with its own, HTTP 500, Content-Type application/problem+json, type
//     https://stoplight.io/prism/errors#VIOLATIONS and a `validation` array of the
//     violations, and sets the sl-violations header;
//   - a violation of severity warning (a non-2xx status the operation does not declare): the
//     service's answer passes, with the violations as JSON in the sl-violations header.
//
// Prism also answers by itself, again as application/problem+json, what it will not forward:
// a path or method the contract lacks (404, 405), a secured operation without a bearer token
// (401) and, unless started with --validate-request=false, any request that breaks the
// contract (422). So any sl-violations header and any problem+json answer fail the test.
type checker struct {
	t    *testing.T
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]int // "POST /api/auth/login 200": how many answers
}

var ids = regexp.MustCompile(`/(usr|ses|pk)_[0-9a-z]+`)

func (c *checker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	what := r.Method + " " + r.URL.Path
	if v := resp.Header.Values("sl-violations"); len(v) > 0 {
		c.t.Errorf("%s answered %d, which Prism finds outside the contract: %s", what, resp.StatusCode, strings.Join(v, " "))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		c.t.Errorf("%s was answered by Prism, not the service: %d %s", what, resp.StatusCode, body)
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %d", ids.ReplaceAllString(what, "/{id}"), resp.StatusCode)]++
	c.mu.Unlock()
	return resp, nil
}

// rig is what .ci/prism-check hands the test: Prism's address, the service's log (where it
// prints the emails it would send) and its binary (for the operator commands, which reach
// the same database through the inherited PANGUARD_DATABASE_URL).
type rig struct {
	proxy, log, bin string
	http            *http.Client
}

func setUp(t *testing.T) (*rig, *checker) {
	proxy := os.Getenv("PANGUARD_CONTRACT_PROXY")
	if proxy == "" {
		t.Skip("PANGUARD_CONTRACT_PROXY is not set: run .ci/prism-check (make contract), which starts the service behind a Prism validation proxy")
	}
	r := &rig{proxy: strings.TrimRight(proxy, "/"), log: os.Getenv("PANGUARD_CONTRACT_LOG"), bin: os.Getenv("PANGUARD_CONTRACT_BIN")}
	if r.log == "" || r.bin == "" {
		t.Fatal("PANGUARD_CONTRACT_PROXY needs PANGUARD_CONTRACT_LOG (the service's log file) and PANGUARD_CONTRACT_BIN (its binary)")
	}
	c := &checker{t: t, base: http.DefaultTransport, seen: map[string]int{}}
	r.http = &http.Client{Timeout: 30 * time.Second, Transport: c}
	return r, c
}

func (r *rig) client(t *testing.T) *sdk.Client {
	c, err := sdk.New(r.proxy, sdk.WithHTTPClient(r.http))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// operator runs a subcommand of the service binary and returns what it printed.
func (r *rig) operator(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(r.bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("panguard-auth %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func (r *rig) logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(r.log)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// linkToken waits for an email to `to`, logged past offset from, and returns the last token
// with prefix (rst_, vfy_ or eml_) in it.
func (r *rig) linkToken(t *testing.T, to, prefix string, from int64) string {
	t.Helper()
	re := regexp.MustCompile(prefix + `[0-9a-f]{64}`)
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := os.ReadFile(r.log)
		if err != nil {
			t.Fatal(err)
		}
		token := ""
		sc := bufio.NewScanner(bytes.NewReader(b[min(from, int64(len(b))):]))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ To, Body string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.To == to {
				if m := re.FindString(line.Body); m != "" {
					token = m
				}
			}
		}
		if token != "" {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s with a %s… token in %s within 10s", to, prefix, r.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raw sends a request the SDK would not and returns the status and the envelope's code.
func (r *rig) raw(t *testing.T, method, path, contentType, body, token string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.proxy+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env struct{ Code string }
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &env)
	return resp.StatusCode, env.Code
}

// got(f())(t, "what") is f's value, failing the test when f returned an error.
func got[T any](v T, err error) func(t *testing.T, what string) T {
	return func(t *testing.T, what string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func fails(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func code(t *testing.T, secret string, drift int) string {
	t.Helper()
	c, err := oathtest.TOTP(secret, time.Now(), drift)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRESTTrafficKeepsToTheContract drives every REST operation, with the answers each
// declares (successes, the 200 "second factor required" envelope and the errors a client
// meets), through Prism, which compares each answer with openapi.yaml.
//
// Prism reads a request body as JSON before anything else, and on one that does not parse it
// never answers (5.16: the connection hangs), so a body with a syntax error is not sent here;
// a well-formed body of the wrong types stands for `invalid_json`. Prism resolves the route
// before forwarding, so the service's own 404 and 405 for paths and methods the contract
// does not have cannot be checked through it (nor need they be: they are no operation's).
func TestRESTTrafficKeepsToTheContract(t *testing.T) {
	r, check := setUp(t)
	ctx := context.Background()
	anon := r.client(t)
	run := fmt.Sprint(time.Now().UnixNano())
	alice := "alice-" + run + "@example.com"
	const pw1, pw2, pw3 = "first-Passw0rd", "second-Passw0rd", "third-Passw0rd"

	// Registration: new, the same email again (the generic answer), invalid.
	reg := got(anon.Register(ctx, alice, "Alice Chen", pw1))(t, "register")
	if reg.Session == nil {
		t.Fatal("register: no session")
	}
	dup := got(anon.Register(ctx, alice, "Alice Again", pw1))(t, "register again")
	if dup.Session != nil || dup.Message == "" {
		t.Fatalf("register again: %+v", dup)
	}
	_, err := anon.Register(ctx, "not-an-email", "X", pw1)
	fails(t, "register a malformed email", err, sdk.ErrValidation)
	a := anon.WithToken(reg.Session.Token)

	// Login, profile and sessions.
	_, err = anon.Login(ctx, alice, "wrong-password")
	fails(t, "login with a wrong password", err, sdk.ErrInvalidCredentials)
	second := got(anon.Login(ctx, alice, pw1))(t, "login")
	if me := got(a.Me(ctx))(t, "me"); me.Email != alice {
		t.Fatalf("me: %+v", me)
	}
	got(a.UpdateMe(ctx, "Alice B. Chen"))(t, "update me")
	sessions := got(a.ListSessions(ctx))(t, "list sessions")
	other := ""
	for _, s := range sessions {
		if !s.Current {
			other = s.ID
		}
	}
	ok(t, "revoke a session", a.RevokeSession(ctx, other))
	fails(t, "revoke an unknown session", a.RevokeSession(ctx, "ses_00000000000000000000000000000000"), sdk.ErrNotFound)
	_, err = anon.WithToken(second.Token).Me(ctx)
	fails(t, "me with a revoked session", err, sdk.ErrUnauthenticated)
	got(anon.Login(ctx, alice, pw1))(t, "login")
	if n := got(a.RevokeOtherSessions(ctx))(t, "revoke other sessions"); n != 1 {
		t.Fatalf("revoke other sessions: %d", n)
	}

	// Activity pages and the export.
	page := got(a.ListActivity(ctx, 2, ""))(t, "activity")
	if page.NextCursor == "" {
		t.Fatal("activity: no next page")
	}
	got(a.ListActivity(ctx, 2, page.NextCursor))(t, "activity, next page")
	_, err = a.ListActivity(ctx, 2, "not-a-cursor")
	fails(t, "activity with a bad cursor", err, sdk.ErrInvalidCursor)
	got(a.ExportAccount(ctx))(t, "export")

	// Email verification.
	fails(t, "verify a made-up link", anon.VerifyEmail(ctx, "vfy_"+strings.Repeat("0", 64)), sdk.ErrInvalidToken)
	ok(t, "verify email", anon.VerifyEmail(ctx, r.linkToken(t, alice, "vfy_", 0)))
	got(a.ResendVerification(ctx))(t, "resend verification")

	// Two-factor authentication. TOTP codes are used at increasing steps (0, then +1) so the
	// service's replay guard lets each through; re-authentication uses backup codes.
	got(a.GetTotpStatus(ctx))(t, "totp status")
	setup := got(a.SetupTotp(ctx))(t, "totp setup")
	fails(t, "totp verify, wrong code", a.VerifyTotp(ctx, code(t, setup.Secret, 5)), sdk.ErrInvalidTOTPCode)
	ok(t, "totp verify", a.VerifyTotp(ctx, code(t, setup.Secret, 0)))
	_, err = a.SetupTotp(ctx)
	fails(t, "totp setup when enabled", err, sdk.ErrAlreadyEnabled)
	if st := got(a.GetTotpStatus(ctx))(t, "totp status"); !st.Enabled {
		t.Fatalf("totp status: %+v", st)
	}
	_, err = anon.Login(ctx, alice, pw1)
	fails(t, "login without a code", err, sdk.ErrTOTPRequired)
	_, err = anon.Login(ctx, alice, pw1, sdk.WithTOTPCode(code(t, setup.Secret, 5)))
	fails(t, "login with a wrong code", err, sdk.ErrInvalidTOTPCode)
	got(anon.Login(ctx, alice, pw1, sdk.WithTOTPCode(code(t, setup.Secret, 1))))(t, "login with a code")
	backup := got(a.RegenerateBackupCodes(ctx, pw1, sdk.WithReauthBackupCode(setup.BackupCodes[0])))(t, "regenerate backup codes")
	fails(t, "change password without a code", a.ChangePassword(ctx, pw1, pw2), sdk.ErrTOTPRequired)
	ok(t, "change password", a.ChangePassword(ctx, pw1, pw2, sdk.WithReauthBackupCode(backup[0])))
	ok(t, "totp disable", a.DisableTotp(ctx, pw2, sdk.WithReauthBackupCode(backup[1])))
	fails(t, "totp disable when off", a.DisableTotp(ctx, pw2), sdk.ErrTOTPNotEnabled)
	fails(t, "totp disable, wrong password", a.DisableTotp(ctx, "wrong-password"), sdk.ErrInvalidPassword)

	// Forgotten password: the link from the log, used once.
	mark := r.logSize(t)
	got(anon.ForgotPassword(ctx, alice))(t, "forgot password")
	reset := r.linkToken(t, alice, "rst_", mark)
	fails(t, "reset to a short password", anon.ResetPassword(ctx, reset, "short"), sdk.ErrValidation)
	ok(t, "reset password", anon.ResetPassword(ctx, reset, pw3))
	fails(t, "reset with a used link", anon.ResetPassword(ctx, reset, pw3), sdk.ErrInvalidResetToken)
	_, err = a.Me(ctx)
	fails(t, "me after a reset", err, sdk.ErrUnauthenticated)
	a = anon.WithToken(got(anon.Login(ctx, alice, pw3))(t, "login").Token)

	// Email change.
	alice = "alice-new-" + run + "@example.com"
	mark = r.logSize(t)
	got(a.ChangeEmail(ctx, alice, pw3))(t, "change email")
	change := r.linkToken(t, alice, "eml_", mark)
	u := got(anon.ConfirmEmail(ctx, change))(t, "confirm email")
	_, err = anon.ConfirmEmail(ctx, change)
	fails(t, "confirm with a used link", err, sdk.ErrInvalidToken)

	// Admin: an account granted the role with the operator command.
	root := "root-" + run + "@example.com"
	rootID := got(anon.Register(ctx, root, "Root", pw1))(t, "register the admin").Session.User.ID
	r.operator(t, "admin", "grant", root)
	rootClient := anon.WithToken(got(anon.Login(ctx, root, pw1))(t, "admin login").Token)
	adm := rootClient.Admin()
	if users := got(adm.ListUsers(ctx, sdk.UserQuery{Query: run, Limit: 10}))(t, "list users"); len(users.Users) != 2 {
		t.Fatalf("list users: %d", len(users.Users))
	}
	got(adm.GetUser(ctx, u.ID))(t, "get user")
	_, err = adm.GetUser(ctx, "nobody")
	fails(t, "get a malformed id", err, sdk.ErrValidation)
	_, err = adm.GetUser(ctx, "usr_"+strings.Repeat("0", 24))
	fails(t, "get an unknown account", err, sdk.ErrNotFound)
	end := time.Now().Add(30 * 24 * time.Hour)
	got(adm.SetPlan(ctx, u.ID, "pro", &end))(t, "set plan")
	_, err = adm.SetPlan(ctx, u.ID, "gold", nil)
	fails(t, "set an unknown tier", err, sdk.ErrValidation)
	got(adm.SuspendUser(ctx, u.ID, "contract check"))(t, "suspend")
	_, err = anon.Login(ctx, alice, pw3)
	fails(t, "login while suspended", err, sdk.ErrSuspended)
	_, err = adm.SuspendUser(ctx, rootID, "self")
	fails(t, "suspend oneself", err, sdk.ErrConflict)
	got(adm.UnsuspendUser(ctx, u.ID))(t, "unsuspend")
	a = anon.WithToken(got(anon.Login(ctx, alice, pw3))(t, "login").Token)
	if n := got(adm.RevokeUserSessions(ctx, u.ID))(t, "revoke user sessions"); n != 1 {
		t.Fatalf("revoke user sessions: %d", n)
	}
	_, err = a.Me(ctx)
	fails(t, "me after an admin ended the sessions", err, sdk.ErrUnauthenticated)
	_, err = adm.ResetUserTotp(ctx, u.ID, "lost phone")
	fails(t, "reset 2FA that is off", err, sdk.ErrTOTPNotEnabled)
	got(adm.ListAudit(ctx, sdk.AuditQuery{UserID: u.ID, Limit: 5}))(t, "audit of one account")
	got(adm.ListAudit(ctx, sdk.AuditQuery{Type: "suspended", Limit: 5}))(t, "audit of one type")
	_, err = adm.ListAudit(ctx, sdk.AuditQuery{Cursor: "not-a-cursor"})
	fails(t, "audit with a bad cursor", err, sdk.ErrInvalidCursor)
	a = anon.WithToken(got(anon.Login(ctx, alice, pw3))(t, "login").Token)
	_, err = a.Admin().ListUsers(ctx, sdk.UserQuery{})
	fails(t, "list users as a user", err, sdk.ErrForbidden)
	carol := got(anon.Register(ctx, "carol-"+run+"@example.com", "Carol", pw1))(t, "register").Session.User.ID
	ok(t, "delete user", adm.DeleteUser(ctx, carol))
	fails(t, "delete oneself", adm.DeleteUser(ctx, rootID), sdk.ErrConflict)

	// Introspection with a service key made by the operator command.
	key := r.operator(t, "service-key", "create", "contract-"+run)
	api := got(rest.NewClientWithResponses(r.proxy, rest.WithHTTPClient(r.http)))(t, "rest client")
	bearer := func(k string) rest.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+k)
			return nil
		}
	}
	for token, active := range map[string]bool{a.Token(): true, "not-a-token": false} {
		in := got(api.IntrospectWithResponse(ctx, rest.IntrospectJSONRequestBody{Token: token}, bearer(key)))(t, "introspect")
		if in.JSON200 == nil || in.JSON200.Data.Active != active {
			t.Fatalf("introspect: %d %s, want active %v", in.StatusCode(), in.Body, active)
		}
	}
	if in := got(api.IntrospectWithResponse(ctx, rest.IntrospectJSONRequestBody{Token: a.Token()}, bearer("psk_wrong")))(t, "introspect"); in.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("introspect with a wrong key: %d %s", in.StatusCode(), in.Body)
	}

	// Passkeys, with the software authenticator; the service runs on its default public URL,
	// http://localhost:3000, the only origin it accepts passkeys from.
	pkReg := got(anon.Register(ctx, "pk-"+run+"@example.com", "Pat Key", pw1))(t, "register")
	pkc := anon.WithToken(pkReg.Session.Token)
	device := webauthntest.Options{Origin: "http://localhost:3000"}
	_, err = pkc.BeginPasskeyRegistration(ctx, "wrong-password")
	fails(t, "begin passkey registration, wrong password", err, sdk.ErrInvalidPassword)
	begun := got(pkc.BeginPasskeyRegistration(ctx, pw1))(t, "begin passkey registration")
	created, cred, err := webauthntest.Create(begun.Options, device)
	ok(t, "the authenticator makes a credential", err)
	pk := got(pkc.FinishPasskeyRegistration(ctx, begun.ChallengeID, created, "Laptop"))(t, "finish passkey registration")
	_, err = pkc.FinishPasskeyRegistration(ctx, begun.ChallengeID, created, "Laptop")
	fails(t, "finish passkey registration again", err, sdk.ErrInvalidChallenge)
	got(pkc.ListPasskeys(ctx))(t, "list passkeys")
	got(pkc.RenamePasskey(ctx, pk.ID, "Phone"))(t, "rename passkey")
	_, err = pkc.RenamePasskey(ctx, "pk_000000000000000000000000", "Phone")
	fails(t, "rename an unknown passkey", err, sdk.ErrNotFound)
	signIn := got(anon.BeginPasskeyLogin(ctx))(t, "begin passkey login")
	assertion, err := webauthntest.Get(signIn.Options, cred, device)
	ok(t, "the authenticator signs", err)
	got(anon.FinishPasskeyLogin(ctx, signIn.ChallengeID, assertion))(t, "finish passkey login")
	signIn = got(anon.BeginPasskeyLogin(ctx))(t, "begin passkey login")
	_, err = anon.FinishPasskeyLogin(ctx, signIn.ChallengeID, assertion)
	fails(t, "finish passkey login with a replayed assertion", err, sdk.ErrInvalidPasskey)
	fails(t, "delete passkey, wrong password", pkc.DeletePasskey(ctx, pk.ID, "wrong-password"), sdk.ErrInvalidPassword)
	ok(t, "delete passkey", pkc.DeletePasskey(ctx, pk.ID, pw1))
	// CLI sign-in through the browser: the OAuth endpoints (a form in, snake_case JSON and
	// RFC 6749 errors out) through golang.org/x/oauth2, and the dashboard's side.
	octx := context.WithValue(ctx, oauth2.HTTPClient, r.http)
	flow := sdk.DeviceFlow(r.proxy, "")
	da := got(flow.DeviceAuth(octx, oauth2.SetAuthURLParam("client_name", "contract test")))(t, "device authorization")
	got(a.LookupDevice(ctx, da.UserCode))(t, "lookup device")
	_, err = a.LookupDevice(ctx, "BBBB-BBBB")
	fails(t, "lookup an unknown code", err, sdk.ErrNotFound)
	got(a.ApproveDevice(ctx, da.UserCode, true))(t, "approve device")
	if tok := got(flow.DeviceAccessToken(octx, da))(t, "device token"); tok.AccessToken == "" {
		t.Fatal("device token: empty")
	}
	denied := got(flow.DeviceAuth(octx))(t, "device authorization")
	got(a.ApproveDevice(ctx, denied.UserCode, false))(t, "deny device")
	for _, c := range []struct {
		what, method, path, body string
		status                   int
		code                     string
	}{
		{"metadata", "GET", "/.well-known/oauth-authorization-server", "", 200, ""},
		{"an unknown client", "POST", "/oauth/device_authorization", "client_id=evil", 401, "invalid_client"},
		{"another grant type", "POST", "/oauth/token", "grant_type=password&client_id=panguard-cli", 400, "unsupported_grant_type"},
		{"a used device code", "POST", "/oauth/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=panguard-cli&device_code=" + da.DeviceCode, 400, "invalid_grant"},
		{"a denied device code", "POST", "/oauth/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=panguard-cli&device_code=" + denied.DeviceCode, 400, "access_denied"},
	} {
		req, _ := http.NewRequest(c.method, r.proxy+c.path, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res := got(r.http.Do(req))(t, c.what)
		var body struct {
			Error string `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.status || body.Error != c.code {
			t.Errorf("%s: %d %q, want %d %q", c.what, res.StatusCode, body.Error, c.status, c.code)
		}
	}

	// Requests the SDK would never send.
	for _, c := range []struct {
		what, method, path, contentType, body, token string
		status                                       int
		code                                         string
	}{
		{"a body of the wrong types", "POST", "/api/auth/register", "application/json", `{"email":5,"name":"X","password":"secureP@ssw0rd"}`, "", 400, "invalid_json"},
		{"a body that is not JSON", "POST", "/api/auth/register", "text/plain", "hello", "", 415, "unsupported_media_type"},
		{"a body over 64 KiB", "POST", "/api/auth/register", "application/json", `{"email":"big@example.com","name":"Big","password":"secureP@ssw0rd","pad":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413, "payload_too_large"},
		{"a forged token", "GET", "/api/auth/me", "", "", "not-a-token", 401, "unauthenticated"},
		{"a limit out of range", "GET", "/api/auth/activity?limit=0", "", "", a.Token(), 400, "validation_failed"},
		{"a limit that is no number", "GET", "/api/auth/activity?limit=ten", "", "", a.Token(), 400, "invalid_json"},
		{"an end that is no time", "POST", "/api/admin/users/" + u.ID + "/plan", "application/json", `{"tier":"pro","planExpiresAt":"tomorrow"}`, rootClient.Token(), 400, "invalid_json"},
	} {
		if status, code := r.raw(t, c.method, c.path, c.contentType, c.body, c.token); status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.what, status, code, c.status, c.code)
		}
	}

	// Logout and deletion.
	ok(t, "logout", a.Logout(ctx))
	_, err = a.Me(ctx)
	fails(t, "me after logout", err, sdk.ErrUnauthenticated)
	a = anon.WithToken(got(anon.Login(ctx, alice, pw3))(t, "login").Token)
	fails(t, "delete account, wrong password", a.DeleteAccount(ctx, "wrong-password"), sdk.ErrInvalidPassword)
	ok(t, "delete account", a.DeleteAccount(ctx, pw3))

	check.mu.Lock()
	defer check.mu.Unlock()
	kinds := make([]string, 0, len(check.seen))
	for k := range check.seen {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var sum strings.Builder
	total := 0
	for _, k := range kinds {
		fmt.Fprintf(&sum, "\n%4d  %s", check.seen[k], k)
		total += check.seen[k]
	}
	t.Logf("%d answers through Prism, of %d kinds:%s", total, len(kinds), sum.String())
}
