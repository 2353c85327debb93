package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

var (
	deviceCtx = auth.WithClientIP(context.Background(), "203.0.113.7")
	otherCtx  = auth.WithClientIP(context.Background(), "198.51.100.9")
)

func oauthCode(err error) string {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	if err == nil {
		return ""
	}
	return "not an OAuth error: " + err.Error()
}

func startDevice(t *testing.T, e env, ctx context.Context) auth.DeviceAuthorization {
	t.Helper()
	da, err := e.svc.DeviceAuthorization(ctx, auth.DeviceAuthorizationInput{ClientID: "panguard-cli", ClientName: "panguard CLI on build-box"})
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	return da
}

func poll(e env, ctx context.Context, da auth.DeviceAuthorization) (auth.DeviceToken, error) {
	return e.svc.DeviceToken(ctx, auth.DeviceTokenInput{GrantType: auth.DeviceGrantType, DeviceCode: da.DeviceCode, ClientID: "panguard-cli"})
}

func wantOAuth(t *testing.T, err error, code string) {
	t.Helper()
	if got := oauthCode(err); got != code {
		t.Fatalf("error %v (%q), want %q", err, got, code)
	}
}

// TestDeviceGrantProtocol walks the grant as RFC 8628 describes it, on both databases, with
// the fake clock: pending, slow_down with a growing interval, approval, one token, then
// invalid_grant for the used code.
func TestDeviceGrantProtocol(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := principal(t, e, register(t, e, "dev@example.com", "password1").Token)
		da := startDevice(t, e, deviceCtx)
		if len(da.UserCode) != 9 || da.UserCode[4] != '-' || strings.Trim(strings.ReplaceAll(da.UserCode, "-", ""), auth.UserCodeAlphabet) != "" {
			t.Fatalf("user code %q, want XXXX-XXXX from the alphabet", da.UserCode)
		}
		if da.VerificationURI != "http://localhost:3000/device" || da.VerificationURIComplete != da.VerificationURI+"?code="+da.UserCode {
			t.Fatalf("verification URIs %q %q", da.VerificationURI, da.VerificationURIComplete)
		}
		if da.ExpiresIn != 600*time.Second || da.Interval != 5*time.Second || len(da.DeviceCode) < 40 {
			t.Fatalf("expires_in %v interval %v device code %q", da.ExpiresIn, da.Interval, da.DeviceCode)
		}
		steps := []struct {
			name    string
			advance time.Duration
			want    string
		}{
			{"first poll", 0, auth.OAuthAuthorizationPending},
			{"polled again at once", time.Second, auth.OAuthSlowDown},
			{"after the old interval, short of the grown one", 6 * time.Second, auth.OAuthSlowDown},
			{"after the grown interval (15 s)", 15 * time.Second, auth.OAuthAuthorizationPending},
			{"after 15 s again", 15 * time.Second, auth.OAuthAuthorizationPending},
		}
		for _, s := range steps {
			e.clock.Advance(s.advance)
			_, err := poll(e, deviceCtx, da)
			if oauthCode(err) != s.want {
				t.Fatalf("%s: %v, want %s", s.name, err, s.want)
			}
		}
		req, err := e.svc.LookupDevice(deviceCtx, p, strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " ")))
		if err != nil {
			t.Fatalf("lookup with lower case and a space: %v", err)
		}
		if req.ClientName != "panguard CLI on build-box" || req.IP != "203.0.113.7" || req.UserCode != da.UserCode {
			t.Fatalf("lookup = %+v", req)
		}
		if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, false); auth.CodeOf(err) != auth.CodeNotFound {
			t.Fatalf("deciding twice: %v, want not_found", err)
		}
		e.clock.Advance(15 * time.Second)
		tok, err := poll(e, deviceCtx, da)
		if err != nil {
			t.Fatalf("poll after approval: %v", err)
		}
		if tok.ExpiresIn != 24*time.Hour {
			t.Fatalf("expires_in %v", tok.ExpiresIn)
		}
		dp, err := e.svc.Authenticate(context.Background(), tok.AccessToken)
		if err != nil || dp.UserID != p.UserID {
			t.Fatalf("the device token: %+v %v", dp, err)
		}
		sessions, err := e.svc.ListSessions(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range sessions {
			if s.ID == dp.SessionID {
				found = s.Method == auth.MethodDevice && s.UserAgent == "panguard CLI on build-box" && s.IP == "203.0.113.7"
			}
		}
		if !found {
			t.Fatalf("the device session is not listed as method device with the client name: %+v", sessions)
		}
		e.clock.Advance(15 * time.Second)
		_, err = poll(e, deviceCtx, da)
		wantOAuth(t, err, auth.OAuthInvalidGrant)
		if !queued(t, e, auth.TemplateDeviceSignIn, "dev@example.com") {
			t.Fatal("no sign-in notice queued")
		}
		page, err := e.svc.ListActivity(context.Background(), p, auth.ActivityQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var approved bool
		for _, ev := range page.Events {
			approved = approved || (ev.Type == auth.EventDeviceApproved && ev.Detail["client"] == "panguard CLI on build-box")
		}
		if !approved {
			t.Fatalf("no device_approved event: %+v", page.Events)
		}
		// The revoked device session is dead like any other.
		if err := e.svc.RevokeSession(context.Background(), p, dp.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(context.Background(), tok.AccessToken); auth.CodeOf(err) != auth.CodeUnauthenticated {
			t.Fatalf("revoked device session: %v", err)
		}
	})
}

// TestDeviceGrantNeverYieldsATokenWhenItShouldNot: denied, expired, unknown and foreign codes,
// unknown clients and other grant types.
func TestDeviceGrantNeverYieldsATokenWhenItShouldNot(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, func(c *auth.Config) { c.DeviceClients = []string{"panguard-cli", "other-cli"} })
		p := principal(t, e, register(t, e, "deny@example.com", "password1").Token)

		t.Run("denied", func(t *testing.T) {
			da := startDevice(t, e, deviceCtx)
			if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, false); err != nil {
				t.Fatal(err)
			}
			_, err := poll(e, deviceCtx, da)
			wantOAuth(t, err, auth.OAuthAccessDenied)
			if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, true); auth.CodeOf(err) != auth.CodeNotFound {
				t.Fatalf("approving a denied code: %v", err)
			}
			if !queuedNone(t, e, auth.TemplateDeviceSignIn) {
				t.Fatal("a denial sent a sign-in notice")
			}
		})
		t.Run("expired before approval", func(t *testing.T) {
			da := startDevice(t, e, deviceCtx)
			e.clock.Advance(auth.DeviceCodeTTL)
			_, err := poll(e, deviceCtx, da)
			wantOAuth(t, err, auth.OAuthExpiredToken)
			if _, err := e.svc.LookupDevice(deviceCtx, p, da.UserCode); auth.CodeOf(err) != auth.CodeNotFound {
				t.Fatalf("lookup of an expired code: %v", err)
			}
			if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, true); auth.CodeOf(err) != auth.CodeNotFound {
				t.Fatalf("approving an expired code: %v", err)
			}
		})
		t.Run("approved but collected after expiry", func(t *testing.T) {
			da := startDevice(t, e, deviceCtx)
			if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, true); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(auth.DeviceCodeTTL)
			_, err := poll(e, deviceCtx, da)
			wantOAuth(t, err, auth.OAuthExpiredToken)
		})
		t.Run("approved, then the account is suspended or deleted", func(t *testing.T) {
			admin := adminOf(t, e, "root@example.com")
			for _, gone := range []string{"suspended", "deleted"} {
				r := register(t, e, gone+"@example.com", "password1")
				victim := principal(t, e, r.Token)
				da := startDevice(t, e, deviceCtx)
				if _, err := e.svc.ApproveDevice(deviceCtx, victim, da.UserCode, true); err != nil {
					t.Fatal(err)
				}
				if gone == "suspended" {
					if _, err := e.svc.SuspendUser(context.Background(), admin, r.User.ID, "fraud"); err != nil {
						t.Fatal(err)
					}
					_, err := poll(e, deviceCtx, da)
					wantOAuth(t, err, auth.OAuthAccessDenied)
					continue
				}
				if err := e.svc.DeleteAccount(context.Background(), victim, auth.Reauth{Password: "password1"}); err != nil {
					t.Fatal(err)
				}
				_, err := poll(e, deviceCtx, da)
				wantOAuth(t, err, auth.OAuthInvalidGrant)
			}
		})
		t.Run("approved, then the user's sessions are revoked before it is collected", func(t *testing.T) {
			admin := adminOf(t, e, "root2@example.com")
			for _, how := range []string{"sign out everywhere else", "an admin revokes every session"} {
				r := register(t, e, fmt.Sprintf("revoked-%d@example.com", len(how)), "password1")
				victim := principal(t, e, r.Token)
				da := startDevice(t, e, deviceCtx)
				if _, err := e.svc.ApproveDevice(deviceCtx, victim, da.UserCode, true); err != nil {
					t.Fatal(err)
				}
				var err error
				if how == "sign out everywhere else" {
					_, err = e.svc.RevokeOtherSessions(context.Background(), victim)
				} else {
					_, err = e.svc.RevokeUserSessions(context.Background(), admin, r.User.ID)
				}
				if err != nil {
					t.Fatal(err)
				}
				_, err = poll(e, deviceCtx, da)
				wantOAuth(t, err, auth.OAuthAccessDenied)
			}
		})
		t.Run("polling from another IP still waits for approval", func(t *testing.T) {
			da := startDevice(t, e, deviceCtx)
			_, err := poll(e, otherCtx, da)
			wantOAuth(t, err, auth.OAuthAuthorizationPending)
			e.clock.Advance(time.Minute)
			_, err = poll(e, otherCtx, da)
			wantOAuth(t, err, auth.OAuthAuthorizationPending)
		})
		da := startDevice(t, e, deviceCtx)
		cases := []struct {
			name string
			in   auth.DeviceTokenInput
			want string
		}{
			{"unknown device code", auth.DeviceTokenInput{GrantType: auth.DeviceGrantType, DeviceCode: "nope", ClientID: "panguard-cli"}, auth.OAuthInvalidGrant},
			{"another client's device code", auth.DeviceTokenInput{GrantType: auth.DeviceGrantType, DeviceCode: da.DeviceCode, ClientID: "other-cli"}, auth.OAuthInvalidGrant},
			{"unknown client", auth.DeviceTokenInput{GrantType: auth.DeviceGrantType, DeviceCode: da.DeviceCode, ClientID: "evil"}, auth.OAuthInvalidClient},
			{"password grant", auth.DeviceTokenInput{GrantType: "password", DeviceCode: da.DeviceCode, ClientID: "panguard-cli"}, auth.OAuthUnsupportedGrantType},
			{"no device code", auth.DeviceTokenInput{GrantType: auth.DeviceGrantType, ClientID: "panguard-cli"}, auth.OAuthInvalidRequest},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.svc.DeviceToken(deviceCtx, c.in)
				wantOAuth(t, err, c.want)
			})
		}
		t.Run("unknown client at device authorization", func(t *testing.T) {
			_, err := e.svc.DeviceAuthorization(deviceCtx, auth.DeviceAuthorizationInput{ClientID: "evil"})
			wantOAuth(t, err, auth.OAuthInvalidClient)
			_, err = e.svc.DeviceAuthorization(deviceCtx, auth.DeviceAuthorizationInput{ClientID: "panguard-cli", ClientName: strings.Repeat("x", 101)})
			wantOAuth(t, err, auth.OAuthInvalidRequest)
			_, err = e.svc.DeviceAuthorization(deviceCtx, auth.DeviceAuthorizationInput{ClientID: "panguard-cli", ClientName: "a\x00b"})
			wantOAuth(t, err, auth.OAuthInvalidRequest)
		})
	})
}

func queuedNone(t *testing.T, e env, template string) bool {
	t.Helper()
	rows, err := e.store.(*store.Store).SQLDB().Query("SELECT payload FROM outbox WHERE kind = 'email'")
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
		if json.Unmarshal([]byte(payload), &m) == nil && m.Template == template {
			return false
		}
	}
	return true
}

// TestDeviceGrantYieldsOneSessionToRacingPollers: 16 pollers of one approved code at once get
// exactly one token between them, on both databases.
func TestDeviceGrantYieldsOneSessionToRacingPollers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := principal(t, e, register(t, e, "race@example.com", "password1").Token)
		for round := 0; round < 3; round++ {
			da := startDevice(t, e, deviceCtx)
			if _, err := e.svc.ApproveDevice(deviceCtx, p, da.UserCode, true); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			tokens, codes := 0, map[string]int{}
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := poll(e, deviceCtx, da)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						tokens++
					} else {
						codes[oauthCode(err)]++
					}
				}()
			}
			wg.Wait()
			if tokens != 1 {
				t.Fatalf("round %d: %d tokens from 16 racing pollers, want 1 (errors %v)", round, tokens, codes)
			}
			for c := range codes {
				if c != auth.OAuthSlowDown && c != auth.OAuthInvalidGrant {
					t.Fatalf("round %d: losers answered %v", round, codes)
				}
			}
		}
		sessions, err := e.svc.ListSessions(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1+3 {
			t.Fatalf("%d sessions, want the registration's and 3 device ones", len(sessions))
		}
	})
}

// TestDeviceGrantAbuseIsBounded: the pending cap and request budget per IP, and user-code
// guessing throttled per IP, per account and service-wide.
func TestDeviceGrantAbuseIsBounded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		t.Run("pending grants per IP are capped", func(t *testing.T) {
			ctx := auth.WithClientIP(context.Background(), "192.0.2.1")
			for range auth.MaxPendingDeviceGrants {
				startDevice(t, e, ctx)
				e.clock.Advance(6 * time.Second) // within the request budget
			}
			_, err := e.svc.DeviceAuthorization(ctx, auth.DeviceAuthorizationInput{ClientID: "panguard-cli"})
			wantCode(t, err, auth.CodeRateLimited)
			// Another address is not affected.
			startDevice(t, e, auth.WithClientIP(context.Background(), "192.0.2.2"))
			// Expired grants no longer count.
			e.clock.Advance(auth.DeviceCodeTTL)
			startDevice(t, e, ctx)
		})
		t.Run("a flood of requests is rate limited", func(t *testing.T) {
			ctx := auth.WithClientIP(context.Background(), "192.0.2.3")
			var limited int
			for range 15 {
				_, err := e.svc.DeviceAuthorization(ctx, auth.DeviceAuthorizationInput{ClientID: "panguard-cli"})
				if auth.CodeOf(err) == auth.CodeRateLimited {
					limited++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if limited < 5 {
				t.Fatalf("only %d of 15 requests at once were limited", limited)
			}
		})
		t.Run("guessing user codes", func(t *testing.T) {
			p := principal(t, e, register(t, e, "guess@example.com", "password1").Token)
			ctx := auth.WithClientIP(context.Background(), "192.0.2.4")
			for i := range 10 {
				if _, err := e.svc.LookupDevice(ctx, p, "BBBB-BBBB"); auth.CodeOf(err) != auth.CodeNotFound {
					t.Fatalf("guess %d: %v, want not_found", i+1, err)
				}
			}
			_, err := e.svc.LookupDevice(ctx, p, "BBBB-BBBC")
			wantCode(t, err, auth.CodeRateLimited)
			// Even a real code waits now: the budget is spent before the lookup.
			da := startDevice(t, e, deviceCtx)
			_, err = e.svc.ApproveDevice(ctx, p, da.UserCode, true)
			wantCode(t, err, auth.CodeRateLimited)
			// The same account from another address is throttled too (per account).
			_, err = e.svc.LookupDevice(auth.WithClientIP(context.Background(), "192.0.2.5"), p, "BBBB-BBBD")
			wantCode(t, err, auth.CodeRateLimited)
			// Malformed codes cannot be any code: answered not_found, never counted.
			if _, err := e.svc.LookupDevice(ctx, p, "AAAA-AAAA"); auth.CodeOf(err) != auth.CodeNotFound {
				t.Fatalf("malformed code: %v", err)
			}
		})
		t.Run("service-wide cap", func(t *testing.T) {
			// Many accounts on many addresses: after the global cap, one try a second in all.
			var limited, tried int
			for i := range 120 {
				p := principal(t, e, register(t, e, fmt.Sprintf("g%d@example.com", i), "password1").Token)
				ctx := auth.WithClientIP(context.Background(), fmt.Sprintf("10.0.%d.%d", i/200, i%200))
				_, err := e.svc.LookupDevice(ctx, p, "CCCC-CCCC")
				switch auth.CodeOf(err) {
				case auth.CodeRateLimited:
					limited++
				case auth.CodeNotFound:
					tried++
				default:
					t.Fatal(err)
				}
			}
			if tried > 100 || limited < 19 {
				t.Fatalf("%d tries checked, %d limited; want at most 100 checked", tried, limited)
			}
			e.clock.Advance(time.Second)
			p := principal(t, e, register(t, e, "late@example.com", "password1").Token)
			if _, err := e.svc.LookupDevice(auth.WithClientIP(context.Background(), "10.9.9.9"), p, "CCCC-CCCD"); auth.CodeOf(err) != auth.CodeNotFound {
				t.Fatalf("a second later one try goes through: %v", err)
			}
		})
	})
}

func TestUserCodeNormalisation(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"BCDF-GHJK", "BCDFGHJK"},
		{"bcdf-ghjk", "BCDFGHJK"},
		{"bcdfghjk", "BCDFGHJK"},
		{" bcdf ghjk ", "BCDFGHJK"},
		{"BCDF-GHJ", ""},
		{"BCDF-GHJKL", ""},
		{"ABCD-EFGH", ""}, // vowels are not in the alphabet
		{"BCDF-GHJ1", ""},
		{"ВCDF-GHJK", ""}, // a Cyrillic В
		{strings.Repeat("-", 40) + "BCDFGHJK", ""},
	}
	for _, c := range cases {
		if got := auth.NormalizeUserCode(c.in); got != c.want {
			t.Errorf("NormalizeUserCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
