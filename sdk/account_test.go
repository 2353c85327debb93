package sdk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/sdk"
)

// syncBuffer is a bytes.Buffer safe for one writer (the service's log) and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

const testPassword = "secureP@ssw0rd"

var seq atomic.Int64

// account registers a fresh account and returns its email and a client bound to its session.
func account(t *testing.T) (string, *sdk.Client) {
	t.Helper()
	c, err := sdk.New(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	email := fmt.Sprintf("sdk%d-%d@example.com", time.Now().UnixNano(), seq.Add(1))
	reg, err := c.Register(context.Background(), email, "Test User", testPassword)
	if err != nil || reg.Session == nil {
		t.Fatalf("register %s: %v %+v", email, err, reg)
	}
	return email, c.WithToken(reg.Session.Token)
}

// enable2FA turns 2FA on for c and returns the secret and backup codes.
func enable2FA(t *testing.T, c *sdk.Client) (string, []string) {
	t.Helper()
	ctx := context.Background()
	st, err := c.SetupTotp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := oathtest.TOTP(st.Secret, time.Now(), -1)
	if err := c.VerifyTotp(ctx, code); err != nil {
		t.Fatal(err)
	}
	return st.Secret, st.BackupCodes
}

// linkToken waits for an email to `to`, logged after offset from, with a link to path and
// returns its token (which starts with prefix).
func linkToken(t *testing.T, to string, from int, path, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta("http://panguard.test"+path+"?token="+prefix) + `([0-9A-Za-z_-]+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := serverLog.String()[from:]
		token := ""
		sc := bufio.NewScanner(strings.NewReader(logs))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				To   string `json:"to"`
				Body string `json:"body"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.To == to {
				if m := re.FindStringSubmatch(line.Body); m != nil {
					token = prefix + m[1]
				}
			}
		}
		if token != "" {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s with a %s link within 10s", to, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAccountCallsReportTheirErrors(t *testing.T) {
	ctx := context.Background()
	_, alice := account(t)
	_, bob := account(t)
	bobSessions, err := bob.ListSessions(ctx)
	if err != nil || len(bobSessions) != 1 {
		t.Fatalf("bob's sessions: %v %v", bobSessions, err)
	}
	anon, _ := sdk.New(serverURL)
	revoked := alice.WithToken("not-a-token")

	tests := []struct {
		name string
		call func() error
		want *sdk.Error
	}{
		{"revoking an unknown session is not found", func() error { return alice.RevokeSession(ctx, "ses_"+strings.Repeat("0", 32)) }, sdk.ErrNotFound},
		{"revoking another account's session is not found", func() error { return alice.RevokeSession(ctx, bobSessions[0].ID) }, sdk.ErrNotFound},
		{"an empty session id is refused before any request", func() error { return alice.RevokeSession(ctx, "") }, sdk.ErrValidation},
		{"a cursor the service did not issue", func() error { _, err := alice.ListActivity(ctx, 0, "bogus"); return err }, sdk.ErrInvalidCursor},
		{"an activity limit above 100", func() error { _, err := alice.ListActivity(ctx, 101, ""); return err }, sdk.ErrValidation},
		{"a negative activity limit", func() error { _, err := alice.ListActivity(ctx, -1, ""); return err }, sdk.ErrValidation},
		{"an unknown verify token", func() error { return anon.VerifyEmail(ctx, "vfy_"+strings.Repeat("0", 64)) }, sdk.ErrInvalidToken},
		{"an unknown email-change token", func() error { _, err := anon.ConfirmEmail(ctx, "eml_"+strings.Repeat("0", 64)); return err }, sdk.ErrInvalidToken},
		{"a token of another kind does not confirm an email", func() error { _, err := anon.ConfirmEmail(ctx, "rst_"+strings.Repeat("0", 64)); return err }, sdk.ErrInvalidToken},
		{"changing the password with a wrong current password", func() error { return alice.ChangePassword(ctx, "wrong password", "another passphrase") }, sdk.ErrInvalidPassword},
		{"a new password that is too short", func() error { return alice.ChangePassword(ctx, testPassword, "short") }, sdk.ErrValidation},
		{"changing the email with a wrong password", func() error { _, err := alice.ChangeEmail(ctx, "x-new@example.com", "wrong password"); return err }, sdk.ErrInvalidPassword},
		{"changing to an invalid address", func() error { _, err := alice.ChangeEmail(ctx, "not an address", testPassword); return err }, sdk.ErrValidation},
		{"deleting with a wrong password", func() error { return alice.DeleteAccount(ctx, "wrong password") }, sdk.ErrInvalidPassword},
		{"an empty name", func() error { _, err := alice.UpdateMe(ctx, "   "); return err }, sdk.ErrValidation},
		{"listing sessions without a session", func() error { _, err := anon.ListSessions(ctx); return err }, sdk.ErrUnauthenticated},
		{"revoking others with a bad token", func() error { _, err := revoked.RevokeOtherSessions(ctx); return err }, sdk.ErrUnauthenticated},
		{"exporting without a session", func() error { _, err := anon.ExportAccount(ctx); return err }, sdk.ErrUnauthenticated},
		{"activity without a session", func() error { _, err := anon.ListActivity(ctx, 0, ""); return err }, sdk.ErrUnauthenticated},
		{"resending verification without a session", func() error { _, err := anon.ResendVerification(ctx); return err }, sdk.ErrUnauthenticated},
		{"deleting without a session", func() error { return anon.DeleteAccount(ctx, testPassword) }, sdk.ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %s", err, tt.want.Reason)
			}
			var e *sdk.Error
			if errors.As(err, &e) && e.Message == "" {
				t.Errorf("error %v has no message", err)
			}
		})
	}
	// None of that hurt the accounts.
	if _, err := alice.Me(ctx); err != nil {
		t.Errorf("alice after the failures: %v", err)
	}
	if _, err := bob.Me(ctx); err != nil {
		t.Errorf("bob after the failures: %v", err)
	}
}

func TestProfileAndSessions(t *testing.T) {
	ctx := context.Background()
	email, c := account(t)

	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.EmailVerified || me.Role != "user" || me.PlanExpiresAt != nil {
		t.Errorf("new account: emailVerified %v, role %q, planExpiresAt %v; want false, user, nil", me.EmailVerified, me.Role, me.PlanExpiresAt)
	}

	u, err := c.UpdateMe(ctx, "  Renamed User  ")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Renamed User" || u.Email != email || u.ID != me.ID {
		t.Errorf("UpdateMe = %+v", u)
	}

	anon, _ := sdk.New(serverURL, sdk.WithUserAgent("sdk-test-agent/1.0"))
	s, err := anon.Login(ctx, email, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	other := anon.WithToken(s.Token)
	list, err := c.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("sessions = %+v, want 2", list)
	}
	if !list[0].CreatedAt.After(list[1].CreatedAt) && !list[0].CreatedAt.Equal(list[1].CreatedAt) {
		t.Errorf("sessions are not newest first: %+v", list)
	}
	var otherID string
	for _, si := range list {
		if !strings.HasPrefix(si.ID, "ses_") || si.IP == "" || si.ExpiresAt.Before(time.Now()) || si.LastSeenAt.IsZero() {
			t.Errorf("session %+v", si)
		}
		if si.UserAgent == "sdk-test-agent/1.0" {
			otherID = si.ID
			if si.Current || si.Method != "password" {
				t.Errorf("the other session: %+v", si)
			}
		}
	}
	if otherID == "" {
		t.Fatalf("no session with the login's User-Agent: %+v", list)
	}
	if err := c.RevokeSession(ctx, otherID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Me(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("revoked session: Me err = %v", err)
	}
	if n, err := c.RevokeOtherSessions(ctx); err != nil || n != 0 {
		t.Errorf("RevokeOtherSessions = %d, %v; want 0", n, err)
	}
	// Revoking one's own session works like logout.
	list, _ = c.ListSessions(ctx)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("sessions = %+v", list)
	}
	if err := c.RevokeSession(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("own session revoked: Me err = %v", err)
	}
}

func TestVerifyAndChangeEmail(t *testing.T) {
	ctx := context.Background()
	anon, _ := sdk.New(serverURL)
	from := serverLog.Len()
	email, c := account(t)

	verify := linkToken(t, email, from, "/verify-email", "vfy_")
	if err := anon.VerifyEmail(ctx, verify); err != nil {
		t.Fatal(err)
	}
	if me, _ := c.Me(ctx); me == nil || !me.EmailVerified {
		t.Errorf("after VerifyEmail: %+v", me)
	}
	if msg, err := c.ResendVerification(ctx); err != nil || msg == "" {
		t.Errorf("ResendVerification = %q, %v", msg, err)
	}

	newEmail := "new-" + email
	from = serverLog.Len()
	msg, err := c.ChangeEmail(ctx, newEmail, testPassword)
	if err != nil || msg == "" {
		t.Fatalf("ChangeEmail = %q, %v", msg, err)
	}
	token := linkToken(t, newEmail, from, "/confirm-email", "eml_")
	u, err := anon.ConfirmEmail(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != newEmail || !u.EmailVerified {
		t.Errorf("ConfirmEmail = %+v", u)
	}
	if _, err := anon.ConfirmEmail(ctx, token); !errors.Is(err, sdk.ErrInvalidToken) {
		t.Errorf("second ConfirmEmail: %v, want invalid_token", err)
	}

	t.Run("an address taken meanwhile is email_taken", func(t *testing.T) {
		_, c := account(t)
		target := fmt.Sprintf("taken%d@example.com", time.Now().UnixNano())
		from := serverLog.Len()
		if _, err := c.ChangeEmail(ctx, target, testPassword); err != nil {
			t.Fatal(err)
		}
		token := linkToken(t, target, from, "/confirm-email", "eml_")
		if _, err := anon.Register(ctx, target, "Squatter", testPassword); err != nil {
			t.Fatal(err)
		}
		_, err := anon.ConfirmEmail(ctx, token)
		var e *sdk.Error
		if !errors.Is(err, sdk.ErrEmailTaken) || !errors.As(err, &e) || e.Status != 409 {
			t.Errorf("ConfirmEmail of a taken address: %v, want 409 email_taken", err)
		}
	})
}

func TestReauthenticationWithTwoFactor(t *testing.T) {
	ctx := context.Background()
	email, c := account(t)
	secret, backup := enable2FA(t, c)
	wrong := "000000"
	for _, d := range []int{-1, 0, 1} {
		if code, _ := oathtest.TOTP(secret, time.Now(), d); code == wrong {
			wrong = "999999"
		}
	}

	// tryWrong: a wrong code counts toward the account's brute-force budget, so only some
	// operations spend one.
	tests := []struct {
		name     string
		tryWrong bool
		call     func(opts ...sdk.ReauthOption) error
	}{
		{"ChangePassword", true, func(opts ...sdk.ReauthOption) error {
			return c.ChangePassword(ctx, testPassword, testPassword+"!", opts...)
		}},
		{"ChangeEmail", false, func(opts ...sdk.ReauthOption) error {
			_, err := c.ChangeEmail(ctx, "x-"+email, testPassword, opts...)
			return err
		}},
		{"DeleteAccount", true, func(opts ...sdk.ReauthOption) error { return c.DeleteAccount(ctx, testPassword, opts...) }},
		{"DisableTotp", false, func(opts ...sdk.ReauthOption) error { return c.DisableTotp(ctx, testPassword, opts...) }},
		{"RegenerateBackupCodes", false, func(opts ...sdk.ReauthOption) error {
			_, err := c.RegenerateBackupCodes(ctx, testPassword, opts...)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" without a code needs one", func(t *testing.T) {
			var e *sdk.Error
			if err := tt.call(); !errors.Is(err, sdk.ErrTOTPRequired) || !errors.As(err, &e) || e.Status != 401 {
				t.Errorf("err = %v, want 401 totp_required", err)
			}
		})
		if !tt.tryWrong {
			continue
		}
		t.Run(tt.name+" with a wrong code is refused", func(t *testing.T) {
			if err := tt.call(sdk.WithReauthTOTP(wrong)); !errors.Is(err, sdk.ErrInvalidTOTPCode) {
				t.Errorf("err = %v, want invalid_totp_code", err)
			}
		})
	}
	// Let a successful code reset the second-factor budget before going on.
	codes, err := c.RegenerateBackupCodes(ctx, testPassword, sdk.WithReauthBackupCode(backup[0]))
	if err != nil || len(codes) != 10 {
		t.Fatalf("RegenerateBackupCodes with a backup code = %v, %v", codes, err)
	}
	if _, err := c.RegenerateBackupCodes(ctx, testPassword, sdk.WithReauthBackupCode(backup[1])); !errors.Is(err, sdk.ErrInvalidTOTPCode) {
		t.Errorf("an old backup code after regeneration: %v, want invalid_totp_code", err)
	}
	code, _ := oathtest.TOTP(secret, time.Now(), 0)
	if err := c.DisableTotp(ctx, testPassword, sdk.WithReauthTOTP(code)); err != nil {
		t.Fatalf("DisableTotp with the current code: %v", err)
	}
	if st, _ := c.GetTotpStatus(ctx); st == nil || st.Enabled {
		t.Errorf("status after disable: %+v", st)
	}
	// With 2FA off the password alone is enough.
	if err := c.DeleteAccount(ctx, testPassword); err != nil {
		t.Fatalf("DeleteAccount with 2FA off: %v", err)
	}
	anon, _ := sdk.New(serverURL)
	if _, err := anon.Login(ctx, email, testPassword); !errors.Is(err, sdk.ErrInvalidCredentials) {
		t.Errorf("login after deletion: %v, want invalid_credentials", err)
	}
	if reg, err := anon.Register(ctx, email, "Again", testPassword); err != nil || reg.Session == nil {
		t.Errorf("the address cannot register again: %+v, %v", reg, err)
	}
}

func TestActivityPagesAndExport(t *testing.T) {
	ctx := context.Background()
	email, c := account(t)
	anon, _ := sdk.New(serverURL)
	anon.Login(ctx, email, "wrong password")
	if _, err := anon.Login(ctx, email, testPassword); err != nil {
		t.Fatal(err)
	}

	all, err := c.ListActivity(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range all.Events {
		types = append(types, e.Type)
		if !strings.HasPrefix(e.ID, "evt_") || e.At.IsZero() || e.Actor != "self" {
			t.Errorf("event %+v", e)
		}
	}
	if got := strings.Join(types, ","); got != "login,login_failed,registered" || all.NextCursor != "" {
		t.Errorf("activity = %s (next %q), want login,login_failed,registered and no next page", got, all.NextCursor)
	}
	// One at a time gives the same events in the same order.
	var paged []string
	before := ""
	for i := 0; i < 10; i++ {
		p, err := c.ListActivity(ctx, 1, before)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > 1 {
			t.Fatalf("limit 1 gave %d events", len(p.Events))
		}
		for _, e := range p.Events {
			paged = append(paged, e.Type)
		}
		if p.NextCursor == "" {
			break
		}
		before = p.NextCursor
	}
	if strings.Join(paged, ",") != strings.Join(types, ",") {
		t.Errorf("paged activity = %v, want %v", paged, types)
	}

	x, err := c.ExportAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if x.User.Email != email || len(x.Sessions) != 2 || len(x.Activity) < 3 || x.TwoFactor.Enabled || x.ExportedAt.IsZero() {
		t.Errorf("export = %+v", x)
	}
	var raw map[string]any
	if err := json.Unmarshal(x.JSON, &raw); err != nil {
		t.Fatalf("export JSON: %v", err)
	}
	for _, k := range []string{"exportedAt", "user", "sessions", "activity", "twoFactor", "passkeys"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("export JSON lacks %q", k)
		}
	}
	if strings.Contains(string(x.JSON), c.Token()) || strings.Contains(string(x.JSON), testPassword) {
		t.Errorf("the export holds a secret")
	}
	after, _ := c.ListActivity(ctx, 1, "")
	if after == nil || len(after.Events) != 1 || after.Events[0].Type != "data_exported" {
		t.Errorf("the export is not recorded: %+v", after)
	}
}
