package server

import (
	"bytes"
	"context"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk/rest"
)

func TestTwoFactorThroughSDK(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		srv, _ := startServer(t, dbURL)
		c := sdkClient(t, srv.URL)
		ctx := context.Background()
		const email, pw = "twofa@example.com", "secureP@ssw0rd"
		reg, err := c.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: email, Name: "Two", Password: pw})
		if err != nil || reg.JSON200 == nil {
			t.Fatalf("register: %v", err)
		}
		tok := *reg.JSON200.Data.Token

		if v, _ := c.VerifyTotpWithResponse(ctx, rest.VerifyTotpJSONRequestBody{TotpCode: "123456"}, bearer(tok)); v.StatusCode() != 400 || v.JSON400 == nil || v.JSON400.Code != "totp_not_setup" {
			t.Fatalf("verify before setup: %d %s", v.StatusCode(), v.Body)
		}
		setup, err := c.SetupTotpWithResponse(ctx, bearer(tok))
		if err != nil || setup.JSON200 == nil || len(setup.JSON200.Data.BackupCodes) != 10 {
			t.Fatalf("setup: %v %s", err, setup.Body)
		}
		secret := setup.JSON200.Data.Secret
		// JSON, not HTML: the URL's "&" is sent as "&", as people copy it.
		if !bytes.Contains(setup.Body, []byte(`&issuer=Panguard"`)) || bytes.Contains(setup.Body, []byte(`\u0026`)) {
			t.Fatalf("otpauthUrl escaped: %s", setup.Body)
		}
		if v, _ := c.VerifyTotpWithResponse(ctx, rest.VerifyTotpJSONRequestBody{TotpCode: "000000"}, bearer(tok)); v.StatusCode() != 400 || v.JSON400.Code != "invalid_totp_code" || v.JSON400.Error != "Invalid TOTP code. Please try again." {
			t.Fatalf("wrong verify: %d %s", v.StatusCode(), v.Body)
		}
		// The real clock drives the server here; wait out the step so login gets a fresh code.
		now := time.Now()
		verifyCode, _ := oathtest.TOTP(secret, now, 0)
		v, err := c.VerifyTotpWithResponse(ctx, rest.VerifyTotpJSONRequestBody{TotpCode: verifyCode}, bearer(tok))
		if err != nil || v.JSON200 == nil || v.JSON200.Data.Message != "Two-factor authentication enabled successfully" {
			t.Fatalf("verify: %v %s", err, v.Body)
		}
		if s, _ := c.SetupTotpWithResponse(ctx, bearer(tok)); s.StatusCode() != 409 || s.JSON409.Code != "already_enabled" {
			t.Fatalf("setup while enabled: %d %s", s.StatusCode(), s.Body)
		}

		l, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: email, Password: pw})
		need, err := l.JSON200.AsTotpRequiredEnvelope()
		if l.StatusCode() != 200 || err != nil || need.Code != "totp_required" || need.Error != "2FA_REQUIRED" || !bool(need.TotpRequired) || bool(need.Ok) {
			t.Fatalf("login without code: %d %s", l.StatusCode(), l.Body)
		}
		if l, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: email, Password: pw, TotpCode: &verifyCode}); l.StatusCode() != 401 || l.JSON401.Code != "invalid_totp_code" {
			t.Fatalf("replayed verify code at login: %d %s", l.StatusCode(), l.Body)
		}
		backup := setup.JSON200.Data.BackupCodes[0]
		l, _ = c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: email, Password: pw, BackupCode: &backup})
		env, err := l.JSON200.AsLoginEnvelope()
		if l.StatusCode() != 200 || err != nil || env.Data.Token == "" || !env.Data.User.TotpEnabled {
			t.Fatalf("login with backup code: %d %s", l.StatusCode(), l.Body)
		}
		if l, _ := c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: email, Password: pw, BackupCode: &backup}); l.StatusCode() != 401 {
			t.Fatalf("backup code reused: %d %s", l.StatusCode(), l.Body)
		}
		st, _ := c.GetTotpStatusWithResponse(ctx, bearer(tok))
		if st.JSON200 == nil || !st.JSON200.Data.Enabled || st.JSON200.Data.BackupCodesRemaining != 9 {
			t.Fatalf("status: %s", st.Body)
		}
		if me, _ := c.MeWithResponse(ctx, bearer(tok)); !me.JSON200.Data.TotpEnabled {
			t.Fatalf("me: %s", me.Body)
		}
		if d, _ := c.DisableTotpWithResponse(ctx, rest.DisableTotpJSONRequestBody{Password: "wrong-password"}, bearer(tok)); d.StatusCode() != 401 || d.JSON401.Code != "invalid_password" {
			t.Fatalf("disable with wrong password: %d %s", d.StatusCode(), d.Body)
		}
		if d, _ := c.DisableTotpWithResponse(ctx, rest.DisableTotpJSONRequestBody{Password: pw}, bearer(tok)); d.StatusCode() != 401 || d.JSON401.Code != "totp_required" {
			t.Fatalf("disable without a code: %d %s", d.StatusCode(), d.Body)
		}
		second := setup.JSON200.Data.BackupCodes[1]
		if d, _ := c.DisableTotpWithResponse(ctx, rest.DisableTotpJSONRequestBody{Password: pw, BackupCode: &second}, bearer(tok)); d.JSON200 == nil || d.JSON200.Data.Message != "Two-factor authentication disabled" {
			t.Fatalf("disable: %s", d.Body)
		}
		l, _ = c.LoginWithResponse(ctx, rest.LoginJSONRequestBody{Email: email, Password: pw})
		if env, err := l.JSON200.AsLoginEnvelope(); err != nil || env.Data.Token == "" {
			t.Fatalf("login after disable: %s", l.Body)
		}
	})
}
