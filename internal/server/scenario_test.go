package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/reflect/protoreflect"

	"panguard.ai/auth/internal/mailtest"
	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// driver is one way of calling the service; the scenario table runs through each.
type driver interface {
	register(ctx context.Context, email, name, password string) (token string, err error)
	login(ctx context.Context, email, password, totpCode, backupCode string) (token string, err error)
	me(ctx context.Context, token string) (email string, totpEnabled bool, err error)
	logout(ctx context.Context, token string) error
	setupTotp(ctx context.Context, token string) (secret string, backupCodes []string, err error)
	verifyTotp(ctx context.Context, token, code string) error
	forgotPassword(ctx context.Context, email string) error
	resetPassword(ctx context.Context, resetToken, newPassword string) error
	getTotpStatus(ctx context.Context, token string) (enabled bool, backupCodesRemaining int, err error)
	regenerateBackupCodes(ctx context.Context, token, password, backupCode string) ([]string, error)
	disableTotp(ctx context.Context, token, password, backupCode string) error
	listSessions(ctx context.Context, token string) (ids []string, current string, err error)
	revokeSession(ctx context.Context, token, id string) error
	revokeOtherSessions(ctx context.Context, token string) (int, error)
	updateMe(ctx context.Context, token, name string) (string, error)
	changePassword(ctx context.Context, token, current, newPassword string) error
	changeEmail(ctx context.Context, token, newEmail, password string) error
	confirmEmail(ctx context.Context, emailToken string) (email string, err error)
	verifyEmail(ctx context.Context, emailToken string) error
	resendVerification(ctx context.Context, token string) error
	listActivity(ctx context.Context, token string, limit int, before string) (types []string, next string, err error)
	exportAccount(ctx context.Context, token string) (email string, sessions int, err error)
	deleteAccount(ctx context.Context, token, password string) error
}

// errTOTPRequired is how drivers report the "second factor required" answer.
var errTOTPRequired = errors.New("totp_required")

// reasonOf extracts the stable reason of an error from either client.
func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, errTOTPRequired) {
		return "totp_required"
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return se.Reason
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				if info, ok := v.(*errdetails.ErrorInfo); ok {
					return info.Reason
				}
			}
		}
		return "connect:" + ce.Code().String()
	}
	return "transport: " + err.Error()
}

// sdkDriver calls REST through the hand-written SDK facade.
type sdkDriver struct{ c *sdk.Client }

func (d sdkDriver) register(ctx context.Context, email, name, pw string) (string, error) {
	r, err := d.c.Register(ctx, email, name, pw)
	if err != nil || r.Session == nil {
		return "", err
	}
	return r.Session.Token, nil
}

func (d sdkDriver) login(ctx context.Context, email, pw, totp, backup string) (string, error) {
	var opts []sdk.LoginOption
	if totp != "" {
		opts = append(opts, sdk.WithTOTPCode(totp))
	}
	if backup != "" {
		opts = append(opts, sdk.WithBackupCode(backup))
	}
	s, err := d.c.Login(ctx, email, pw, opts...)
	if errors.Is(err, sdk.ErrTOTPRequired) {
		return "", errTOTPRequired
	}
	if err != nil {
		return "", err
	}
	return s.Token, nil
}

func (d sdkDriver) me(ctx context.Context, tok string) (string, bool, error) {
	u, err := d.c.WithToken(tok).Me(ctx)
	if err != nil {
		return "", false, err
	}
	return u.Email, u.TOTPEnabled, nil
}

func (d sdkDriver) logout(ctx context.Context, tok string) error {
	return d.c.WithToken(tok).Logout(ctx)
}

func (d sdkDriver) setupTotp(ctx context.Context, tok string) (string, []string, error) {
	s, err := d.c.WithToken(tok).SetupTotp(ctx)
	if err != nil {
		return "", nil, err
	}
	return s.Secret, s.BackupCodes, nil
}

func (d sdkDriver) verifyTotp(ctx context.Context, tok, code string) error {
	return d.c.WithToken(tok).VerifyTotp(ctx, code)
}

func (d sdkDriver) forgotPassword(ctx context.Context, email string) error {
	_, err := d.c.ForgotPassword(ctx, email)
	return err
}

func (d sdkDriver) resetPassword(ctx context.Context, tok, pw string) error {
	return d.c.ResetPassword(ctx, tok, pw)
}

func (d sdkDriver) getTotpStatus(ctx context.Context, tok string) (bool, int, error) {
	st, err := d.c.WithToken(tok).GetTotpStatus(ctx)
	if err != nil {
		return false, 0, err
	}
	return st.Enabled, st.BackupCodesRemaining, nil
}

// codes turns a backup code ("" for none) into the SDK's re-authentication option.
func codes(backup string) []sdk.ReauthOption {
	if backup == "" {
		return nil
	}
	return []sdk.ReauthOption{sdk.WithReauthBackupCode(backup)}
}

func (d sdkDriver) regenerateBackupCodes(ctx context.Context, tok, pw, backup string) ([]string, error) {
	return d.c.WithToken(tok).RegenerateBackupCodes(ctx, pw, codes(backup)...)
}

func (d sdkDriver) disableTotp(ctx context.Context, tok, pw, backup string) error {
	return d.c.WithToken(tok).DisableTotp(ctx, pw, codes(backup)...)
}

func (d sdkDriver) listSessions(ctx context.Context, tok string) ([]string, string, error) {
	list, err := d.c.WithToken(tok).ListSessions(ctx)
	var ids []string
	current := ""
	for _, s := range list {
		ids = append(ids, s.ID)
		if s.Current {
			current = s.ID
		}
	}
	return ids, current, err
}

func (d sdkDriver) revokeSession(ctx context.Context, tok, id string) error {
	return d.c.WithToken(tok).RevokeSession(ctx, id)
}

func (d sdkDriver) revokeOtherSessions(ctx context.Context, tok string) (int, error) {
	return d.c.WithToken(tok).RevokeOtherSessions(ctx)
}

func (d sdkDriver) updateMe(ctx context.Context, tok, name string) (string, error) {
	u, err := d.c.WithToken(tok).UpdateMe(ctx, name)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

func (d sdkDriver) changePassword(ctx context.Context, tok, cur, next string) error {
	return d.c.WithToken(tok).ChangePassword(ctx, cur, next)
}

func (d sdkDriver) changeEmail(ctx context.Context, tok, email, pw string) error {
	_, err := d.c.WithToken(tok).ChangeEmail(ctx, email, pw)
	return err
}

func (d sdkDriver) confirmEmail(ctx context.Context, token string) (string, error) {
	u, err := d.c.ConfirmEmail(ctx, token)
	if err != nil {
		return "", err
	}
	return u.Email, nil
}

func (d sdkDriver) verifyEmail(ctx context.Context, token string) error {
	return d.c.VerifyEmail(ctx, token)
}

func (d sdkDriver) resendVerification(ctx context.Context, tok string) error {
	_, err := d.c.WithToken(tok).ResendVerification(ctx)
	return err
}

func (d sdkDriver) listActivity(ctx context.Context, tok string, limit int, before string) ([]string, string, error) {
	page, err := d.c.WithToken(tok).ListActivity(ctx, limit, before)
	if err != nil {
		return nil, "", err
	}
	var types []string
	for _, e := range page.Events {
		types = append(types, e.Type)
	}
	return types, page.NextCursor, nil
}

func (d sdkDriver) exportAccount(ctx context.Context, tok string) (string, int, error) {
	x, err := d.c.WithToken(tok).ExportAccount(ctx)
	if err != nil {
		return "", 0, err
	}
	return x.User.Email, len(x.Sessions), nil
}

func (d sdkDriver) deleteAccount(ctx context.Context, tok, pw string) error {
	return d.c.WithToken(tok).DeleteAccount(ctx, pw)
}

// rpcDriver calls the generated Connect client over one protocol.
type rpcDriver struct {
	c authv1connect.AuthServiceClient
}

func authed[T any](msg *T, tok string) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer "+tok)
	return r
}

func (d rpcDriver) register(ctx context.Context, email, name, pw string) (string, error) {
	r, err := d.c.Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Email: email, Name: name, Password: pw}))
	if err != nil {
		return "", err
	}
	return r.Msg.Token, nil
}

func (d rpcDriver) login(ctx context.Context, email, pw, totp, backup string) (string, error) {
	req := &authv1.LoginRequest{Email: email, Password: pw}
	if totp != "" {
		req.TotpCode = &totp
	}
	if backup != "" {
		req.BackupCode = &backup
	}
	r, err := d.c.Login(ctx, connect.NewRequest(req))
	if err != nil {
		return "", err
	}
	if r.Msg.TotpRequired {
		return "", errTOTPRequired
	}
	return r.Msg.Token, nil
}

func (d rpcDriver) me(ctx context.Context, tok string) (string, bool, error) {
	r, err := d.c.Me(ctx, authed(&authv1.MeRequest{}, tok))
	if err != nil {
		return "", false, err
	}
	return r.Msg.User.Email, r.Msg.User.TotpEnabled, nil
}

func (d rpcDriver) logout(ctx context.Context, tok string) error {
	_, err := d.c.Logout(ctx, authed(&authv1.LogoutRequest{}, tok))
	return err
}

func (d rpcDriver) setupTotp(ctx context.Context, tok string) (string, []string, error) {
	r, err := d.c.SetupTotp(ctx, authed(&authv1.SetupTotpRequest{}, tok))
	if err != nil {
		return "", nil, err
	}
	return r.Msg.Secret, r.Msg.BackupCodes, nil
}

func (d rpcDriver) verifyTotp(ctx context.Context, tok, code string) error {
	_, err := d.c.VerifyTotp(ctx, authed(&authv1.VerifyTotpRequest{TotpCode: code}, tok))
	return err
}

func (d rpcDriver) forgotPassword(ctx context.Context, email string) error {
	_, err := d.c.ForgotPassword(ctx, connect.NewRequest(&authv1.ForgotPasswordRequest{Email: email}))
	return err
}

func (d rpcDriver) resetPassword(ctx context.Context, tok, pw string) error {
	_, err := d.c.ResetPassword(ctx, connect.NewRequest(&authv1.ResetPasswordRequest{Token: tok, NewPassword: pw}))
	return err
}

func (d rpcDriver) getTotpStatus(ctx context.Context, tok string) (bool, int, error) {
	r, err := d.c.GetTotpStatus(ctx, authed(&authv1.GetTotpStatusRequest{}, tok))
	if err != nil {
		return false, 0, err
	}
	return r.Msg.Enabled, int(r.Msg.BackupCodesRemaining), nil
}

func (d rpcDriver) regenerateBackupCodes(ctx context.Context, tok, pw, backup string) ([]string, error) {
	r, err := d.c.RegenerateBackupCodes(ctx, authed(&authv1.RegenerateBackupCodesRequest{Password: pw, BackupCode: optional(backup)}, tok))
	if err != nil {
		return nil, err
	}
	return r.Msg.BackupCodes, nil
}

func (d rpcDriver) disableTotp(ctx context.Context, tok, pw, backup string) error {
	_, err := d.c.DisableTotp(ctx, authed(&authv1.DisableTotpRequest{Password: pw, BackupCode: optional(backup)}, tok))
	return err
}

// optional is nil for "", as the RPC's optional fields want.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (d rpcDriver) listSessions(ctx context.Context, tok string) ([]string, string, error) {
	r, err := d.c.ListSessions(ctx, authed(&authv1.ListSessionsRequest{}, tok))
	if err != nil {
		return nil, "", err
	}
	var ids []string
	current := ""
	for _, s := range r.Msg.Sessions {
		ids = append(ids, s.Id)
		if s.Current {
			current = s.Id
		}
	}
	return ids, current, nil
}

func (d rpcDriver) revokeSession(ctx context.Context, tok, id string) error {
	_, err := d.c.RevokeSession(ctx, authed(&authv1.RevokeSessionRequest{Id: id}, tok))
	return err
}

func (d rpcDriver) revokeOtherSessions(ctx context.Context, tok string) (int, error) {
	r, err := d.c.RevokeOtherSessions(ctx, authed(&authv1.RevokeOtherSessionsRequest{}, tok))
	if err != nil {
		return 0, err
	}
	return int(r.Msg.Revoked), nil
}

func (d rpcDriver) updateMe(ctx context.Context, tok, name string) (string, error) {
	r, err := d.c.UpdateMe(ctx, authed(&authv1.UpdateMeRequest{Name: name}, tok))
	if err != nil {
		return "", err
	}
	return r.Msg.User.Name, nil
}

func (d rpcDriver) changePassword(ctx context.Context, tok, cur, next string) error {
	_, err := d.c.ChangePassword(ctx, authed(&authv1.ChangePasswordRequest{CurrentPassword: cur, NewPassword: next}, tok))
	return err
}

func (d rpcDriver) changeEmail(ctx context.Context, tok, email, pw string) error {
	_, err := d.c.ChangeEmail(ctx, authed(&authv1.ChangeEmailRequest{NewEmail: email, Password: pw}, tok))
	return err
}

func (d rpcDriver) confirmEmail(ctx context.Context, token string) (string, error) {
	r, err := d.c.ConfirmEmail(ctx, connect.NewRequest(&authv1.ConfirmEmailRequest{Token: token}))
	if err != nil {
		return "", err
	}
	return r.Msg.User.Email, nil
}

func (d rpcDriver) verifyEmail(ctx context.Context, token string) error {
	_, err := d.c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: token}))
	return err
}

func (d rpcDriver) resendVerification(ctx context.Context, tok string) error {
	_, err := d.c.ResendVerification(ctx, authed(&authv1.ResendVerificationRequest{}, tok))
	return err
}

func (d rpcDriver) listActivity(ctx context.Context, tok string, limit int, before string) ([]string, string, error) {
	n := int32(limit)
	r, err := d.c.ListActivity(ctx, authed(&authv1.ListActivityRequest{Limit: &n, Before: before}, tok))
	if err != nil {
		return nil, "", err
	}
	var types []string
	for _, e := range r.Msg.Events {
		types = append(types, e.Type)
	}
	return types, r.Msg.NextCursor, nil
}

func (d rpcDriver) exportAccount(ctx context.Context, tok string) (string, int, error) {
	r, err := d.c.ExportAccount(ctx, authed(&authv1.ExportAccountRequest{}, tok))
	if err != nil {
		return "", 0, err
	}
	return r.Msg.User.Email, len(r.Msg.Sessions), nil
}

func (d rpcDriver) deleteAccount(ctx context.Context, tok, pw string) error {
	_, err := d.c.DeleteAccount(ctx, authed(&authv1.DeleteAccountRequest{Password: pw}, tok))
	return err
}

// h2cClient speaks HTTP/2 without TLS, as plain gRPC needs.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// startH2C serves a's handler with HTTP/1.1 and h2c, like the real server.
func startH2C(t *testing.T, a *Server) string {
	srv := httptest.NewUnstartedServer(a.handler)
	srv.Config.Protocols = protocols()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func drivers(t *testing.T, base string) map[string]driver {
	c, err := sdk.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]driver{
		"rest-sdk": sdkDriver{c},
		"connect":  rpcDriver{authv1connect.NewAuthServiceClient(http.DefaultClient, base)},
		"grpc":     rpcDriver{authv1connect.NewAuthServiceClient(h2cClient(), base, connect.WithGRPC())},
		"grpc-web": rpcDriver{authv1connect.NewAuthServiceClient(http.DefaultClient, base, connect.WithGRPCWeb())},
	}
}

// passwordChangedRE finds the notice of a password change.
var passwordChangedRE = regexp.MustCompile(`password of your Panguard account was just\s+changed`)

// scenario is the state the steps share.
type scenario struct {
	email, password      string
	first, second, third string // session tokens
	oldBackupCode        string
	secret, verifyCode   string
	backupCodes          []string
	resetToken, newPass  string
	fourth, fourthID     string
	cursor, newerPass    string
	emailToken, moved    string
	link                 func(re *regexp.Regexp) string // waits for an email with a token re matches
}

func TestScenarioOverEveryProtocol(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		smtp, smtpURL := mailtest.StartSMTP(t)
		_, a := startWithMail(t, dbURL, smtpURL)
		base := startH2C(t, a)
		for name, d := range drivers(t, base) {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				sc := &scenario{email: name + "@example.com", password: "secureP@ssw0rd", newPass: "n3wSecureP@ss", newerPass: "n3werSecureP@ss", moved: "moved-" + name + "@example.com"}
				var inbox []mailtest.Message
				sc.link = func(re *regexp.Regexp) string {
					for range 20 {
						for i, m := range inbox {
							if tok := re.FindString(m.Text); tok != "" && strings.Contains(m.To, name+"@") {
								inbox = append(inbox[:i], inbox[i+1:]...)
								return tok
							}
						}
						inbox = append(inbox, mailtest.Wait(t, smtp, 1)...)
					}
					t.Fatalf("no email with a token like %s", re)
					return ""
				}
				code := func(drift int) string {
					c, err := oathtest.TOTP(sc.secret, time.Now(), drift)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				steps := []struct {
					name   string
					do     func() error
					reason string
				}{
					{"register", func() (err error) { sc.first, err = d.register(ctx, sc.email, "Scenario", sc.password); return }, ""},
					{"verify the address with the emailed link", func() error { sc.emailToken = sc.link(verifyTokenRE); return d.verifyEmail(ctx, sc.emailToken) }, ""},
					{"the verify link is spent", func() error { return d.verifyEmail(ctx, sc.emailToken) }, "invalid_token"},
					{"a resend for a verified address sends nothing", func() error { return d.resendVerification(ctx, sc.first) }, ""},
					{"me", func() error {
						email, on, err := d.me(ctx, sc.first)
						if err == nil && (email != sc.email || on) {
							t.Fatalf("me: %s %v", email, on)
						}
						return err
					}, ""},
					{"setup TOTP", func() (err error) { sc.secret, sc.backupCodes, err = d.setupTotp(ctx, sc.first); return }, ""},
					{"verify with a wrong code", func() error { return d.verifyTotp(ctx, sc.first, "000000") }, "invalid_totp_code"},
					// Verify with the previous step's code so that the current step is still unused for login.
					{"verify", func() error { sc.verifyCode = code(-1); return d.verifyTotp(ctx, sc.first, sc.verifyCode) }, ""},
					{"login needs a code", func() error { _, err := d.login(ctx, sc.email, sc.password, "", ""); return err }, "totp_required"},
					{"login with a wrong code", func() error { _, err := d.login(ctx, sc.email, sc.password, "000000", ""); return err }, "invalid_totp_code"},
					{"login with the verify code again", func() error { _, err := d.login(ctx, sc.email, sc.password, sc.verifyCode, ""); return err }, "invalid_totp_code"},
					{"login with a code", func() (err error) { sc.second, err = d.login(ctx, sc.email, sc.password, code(0), ""); return }, ""},
					{"login with a backup code", func() error { _, err := d.login(ctx, sc.email, sc.password, "", sc.backupCodes[0]); return err }, ""},
					{"the backup code is spent", func() error { _, err := d.login(ctx, sc.email, sc.password, "", sc.backupCodes[0]); return err }, "invalid_totp_code"},
					{"status shows 2FA on and 9 codes left", func() error {
						on, left, err := d.getTotpStatus(ctx, sc.first)
						if err == nil && (!on || left != 9) {
							t.Fatalf("status: enabled %v, %d codes left", on, left)
						}
						return err
					}, ""},
					{"regenerating codes needs the password", func() error {
						_, err := d.regenerateBackupCodes(ctx, sc.first, "wrong-password", sc.backupCodes[5])
						return err
					}, "invalid_password"},
					{"and a second factor", func() error { _, err := d.regenerateBackupCodes(ctx, sc.first, sc.password, ""); return err }, "totp_required"},
					{"regenerate backup codes", func() error {
						old := sc.backupCodes
						codes, err := d.regenerateBackupCodes(ctx, sc.first, sc.password, old[5])
						if err == nil && len(codes) != 10 {
							t.Fatalf("%d new codes", len(codes))
						}
						sc.backupCodes, sc.oldBackupCode = codes, old[1]
						return err
					}, ""},
					{"an old backup code is dead", func() error { _, err := d.login(ctx, sc.email, sc.password, "", sc.oldBackupCode); return err }, "invalid_totp_code"},
					{"me shows 2FA", func() error {
						_, on, err := d.me(ctx, sc.second)
						if err == nil && !on {
							t.Fatal("totpEnabled false")
						}
						return err
					}, ""},
					{"disabling 2FA needs the password", func() error { return d.disableTotp(ctx, sc.second, "wrong-password", sc.backupCodes[2]) }, "invalid_password"},
					{"and a second factor", func() error { return d.disableTotp(ctx, sc.second, sc.password, "") }, "totp_required"},
					{"disable 2FA", func() error { return d.disableTotp(ctx, sc.second, sc.password, sc.backupCodes[2]) }, ""},
					{"login needs no code once 2FA is off", func() error { _, err := d.login(ctx, sc.email, sc.password, "", ""); return err }, ""},
					{"logout", func() error { return d.logout(ctx, sc.second) }, ""},
					{"the logged-out token is dead", func() error { _, _, err := d.me(ctx, sc.second); return err }, "unauthenticated"},
					{"the other session lives", func() error { _, _, err := d.me(ctx, sc.first); return err }, ""},
					{"forgot password", func() error { return d.forgotPassword(ctx, sc.email) }, ""},
					{"reset with the emailed token", func() error {
						sc.resetToken = sc.link(resetTokenRE)
						return d.resetPassword(ctx, sc.resetToken, sc.newPass)
					}, ""},
					{"the token is spent", func() error { return d.resetPassword(ctx, sc.resetToken, sc.newPass) }, "invalid_reset_token"},
					{"reset revoked every session", func() error { _, _, err := d.me(ctx, sc.first); return err }, "unauthenticated"},
					{"old password refused", func() error { _, err := d.login(ctx, sc.email, sc.password, "", sc.backupCodes[1]); return err }, "invalid_credentials"},
					{"new password works", func() (err error) { sc.third, err = d.login(ctx, sc.email, sc.newPass, "", sc.backupCodes[1]); return }, ""},
					{"a second session", func() (err error) { sc.fourth, err = d.login(ctx, sc.email, sc.newPass, "", ""); return }, ""},
					{"sessions lists both, the caller's marked current", func() error {
						ids, current, err := d.listSessions(ctx, sc.third)
						if err == nil && (len(ids) != 2 || current == "" || ids[0] == current) {
							t.Fatalf("sessions %v, current %q: want two, the newest not the caller's", ids, current)
						}
						if err == nil {
							sc.fourthID = ids[0]
						}
						return err
					}, ""},
					{"revoke the other session by id", func() error { return d.revokeSession(ctx, sc.third, sc.fourthID) }, ""},
					{"its token is dead at once", func() error { _, _, err := d.me(ctx, sc.fourth); return err }, "unauthenticated"},
					{"revoking it again finds nothing", func() error { return d.revokeSession(ctx, sc.third, sc.fourthID) }, "not_found"},
					{"rename", func() error {
						name, err := d.updateMe(ctx, sc.third, "  Renamed  ")
						if err == nil && name != "Renamed" {
							t.Fatalf("name %q", name)
						}
						return err
					}, ""},
					{"an empty name is refused", func() error { _, err := d.updateMe(ctx, sc.third, "   "); return err }, "validation_failed"},
					{"another session", func() (err error) { sc.fourth, err = d.login(ctx, sc.email, sc.newPass, "", ""); return }, ""},
					{"revoke every other session", func() error {
						n, err := d.revokeOtherSessions(ctx, sc.third)
						if err == nil && n != 1 {
							t.Fatalf("revoked %d, want 1", n)
						}
						return err
					}, ""},
					{"the other token is dead", func() error { _, _, err := d.me(ctx, sc.fourth); return err }, "unauthenticated"},
					{"changing the password needs the current one", func() error { return d.changePassword(ctx, sc.third, "wrong-password", sc.newerPass) }, "invalid_password"},
					{"change the password", func() error { return d.changePassword(ctx, sc.third, sc.newPass, sc.newerPass) }, ""},
					{"the calling session survives the change", func() error { _, _, err := d.me(ctx, sc.third); return err }, ""},
					{"a notice of the change reaches the mailbox", func() error {
						sc.link(passwordChangedRE)
						return nil
					}, ""},
					{"activity, newest first, a page at a time", func() (err error) {
						var types []string
						types, sc.cursor, err = d.listActivity(ctx, sc.third, 2, "")
						if err == nil && (len(types) != 2 || types[0] != "password_changed" || sc.cursor == "") {
							t.Fatalf("first page %v, cursor %q", types, sc.cursor)
						}
						return err
					}, ""},
					{"the next page", func() error { _, _, err := d.listActivity(ctx, sc.third, 2, sc.cursor); return err }, ""},
					{"a forged cursor is refused", func() error { _, _, err := d.listActivity(ctx, sc.third, 2, "eyJhdCI6MH0.forged"); return err }, "invalid_cursor"},
					{"a limit out of range is refused", func() error { _, _, err := d.listActivity(ctx, sc.third, 101, ""); return err }, "validation_failed"},
					{"change the address", func() error { return d.changeEmail(ctx, sc.third, sc.moved, sc.newerPass) }, ""},
					{"confirm it with the emailed link", func() error {
						sc.emailToken = sc.link(emailTokenRE)
						email, err := d.confirmEmail(ctx, sc.emailToken)
						if err == nil && email != sc.moved {
							t.Fatalf("confirmed address %q", email)
						}
						return err
					}, ""},
					{"the confirm link is spent", func() error { _, err := d.confirmEmail(ctx, sc.emailToken); return err }, "invalid_token"},
					{"export", func() error {
						email, sessions, err := d.exportAccount(ctx, sc.third)
						if err == nil && (email != sc.moved || sessions != 1) {
							t.Fatalf("export: %s, %d sessions", email, sessions)
						}
						return err
					}, ""},
					{"deleting needs the password", func() error { return d.deleteAccount(ctx, sc.third, "wrong-password") }, "invalid_password"},
					{"delete the account", func() error { return d.deleteAccount(ctx, sc.third, sc.newerPass) }, ""},
					{"every token is dead", func() error { _, _, err := d.me(ctx, sc.third); return err }, "unauthenticated"},
					{"the address can register again at once", func() error { _, err := d.register(ctx, sc.moved, "Again", sc.password); return err }, ""},
				}
				for _, st := range steps {
					if got := reasonOf(st.do()); got != st.reason {
						t.Fatalf("%s: reason %q, want %q", st.name, got, st.reason)
					}
				}
			})
		}
	})
}

func TestConnectErrorsCarryCodeAndReason(t *testing.T) {
	t.Parallel()
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	for name, d := range drivers(t, base) {
		if name == "rest-sdk" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			_, err := d.login(context.Background(), "nobody@example.com", "password1", "", "")
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || reasonOf(err) != "invalid_credentials" || ce.Message() != "Invalid email or password" {
				t.Fatalf("err = %v (reason %q)", err, reasonOf(err))
			}
			_, err = d.register(context.Background(), "bad", "x", "password1")
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || reasonOf(err) != "validation_failed" {
				t.Fatalf("validation: %v", err)
			}
		})
	}
}

func TestEveryRESTOperationHasAnRPCAndBack(t *testing.T) {
	t.Parallel()
	spec, err := restapi.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	rest := map[string]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			rest[strings.ToUpper(op.OperationID[:1])+op.OperationID[1:]] = true
		}
	}
	rpc := map[string]bool{}
	count := 0
	for _, svc := range []protoreflect.ServiceDescriptor{
		authv1.File_panguard_auth_v1_auth_proto.Services().ByName("AuthService"),
		authv1.File_panguard_auth_v1_admin_proto.Services().ByName("AdminService"),
		authv1.File_panguard_auth_v1_device_proto.Services().ByName("DeviceService"),
		authv1.File_panguard_auth_v1_passkey_proto.Services().ByName("PasskeyService"),
	} {
		methods := svc.Methods()
		for i := range methods.Len() {
			rpc[string(methods.Get(i).Name())] = true
			count++
		}
	}
	for op := range rest {
		if !rpc[op] {
			t.Errorf("openapi operation %s has no RPC", op)
		}
	}
	for m := range rpc {
		if !rest[m] {
			t.Errorf("RPC %s has no openapi operation", m)
		}
	}
	if len(rest) != count || len(rpc) != count {
		t.Errorf("%d REST operations, %d RPCs (%d names)", len(rest), count, len(rpc))
	}
}
