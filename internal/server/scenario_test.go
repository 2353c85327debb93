package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/mailtest"
	"panguard.ai/auth/internal/server/restapi"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"panguard.ai/auth/internal/oathtest"
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
	regenerateBackupCodes(ctx context.Context, token, password string) ([]string, error)
	disableTotp(ctx context.Context, token, password string) error
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

func (d sdkDriver) regenerateBackupCodes(ctx context.Context, tok, pw string) ([]string, error) {
	return d.c.WithToken(tok).RegenerateBackupCodes(ctx, pw)
}

func (d sdkDriver) disableTotp(ctx context.Context, tok, pw string) error {
	return d.c.WithToken(tok).DisableTotp(ctx, pw)
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

func (d rpcDriver) regenerateBackupCodes(ctx context.Context, tok, pw string) ([]string, error) {
	r, err := d.c.RegenerateBackupCodes(ctx, authed(&authv1.RegenerateBackupCodesRequest{Password: pw}, tok))
	if err != nil {
		return nil, err
	}
	return r.Msg.BackupCodes, nil
}

func (d rpcDriver) disableTotp(ctx context.Context, tok, pw string) error {
	_, err := d.c.DisableTotp(ctx, authed(&authv1.DisableTotpRequest{Password: pw}, tok))
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

// scenario is the state the steps share.
type scenario struct {
	email, password      string
	first, second, third string // session tokens
	oldBackupCode        string
	secret, verifyCode   string
	backupCodes          []string
	resetToken, newPass  string
	mail                 func() string // waits for the next email and returns its reset token
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
				sc := &scenario{email: name + "@example.com", password: "secureP@ssw0rd", newPass: "n3wSecureP@ss"}
				sc.mail = func() string {
					msgs := mailtest.Wait(t, smtp, 1)
					return resetTokenRE.FindString(msgs[0].Text)
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
					{"regenerating codes needs the password", func() error { _, err := d.regenerateBackupCodes(ctx, sc.first, "wrong-password"); return err }, "invalid_password"},
					{"regenerate backup codes", func() error {
						old := sc.backupCodes
						codes, err := d.regenerateBackupCodes(ctx, sc.first, sc.password)
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
					{"disabling 2FA needs the password", func() error { return d.disableTotp(ctx, sc.second, "wrong-password") }, "invalid_password"},
					{"disable 2FA", func() error { return d.disableTotp(ctx, sc.second, sc.password) }, ""},
					{"login needs no code once 2FA is off", func() error { _, err := d.login(ctx, sc.email, sc.password, "", ""); return err }, ""},
					{"logout", func() error { return d.logout(ctx, sc.second) }, ""},
					{"the logged-out token is dead", func() error { _, _, err := d.me(ctx, sc.second); return err }, "unauthenticated"},
					{"the other session lives", func() error { _, _, err := d.me(ctx, sc.first); return err }, ""},
					{"forgot password", func() error { return d.forgotPassword(ctx, sc.email) }, ""},
					{"reset with the emailed token", func() error { sc.resetToken = sc.mail(); return d.resetPassword(ctx, sc.resetToken, sc.newPass) }, ""},
					{"the token is spent", func() error { return d.resetPassword(ctx, sc.resetToken, sc.newPass) }, "invalid_reset_token"},
					{"reset revoked every session", func() error { _, _, err := d.me(ctx, sc.first); return err }, "unauthenticated"},
					{"old password refused", func() error { _, err := d.login(ctx, sc.email, sc.password, "", sc.backupCodes[1]); return err }, "invalid_credentials"},
					{"new password works", func() (err error) { sc.third, err = d.login(ctx, sc.email, sc.newPass, "", sc.backupCodes[1]); return }, ""},
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
	methods := authv1.File_panguard_auth_v1_auth_proto.Services().ByName("AuthService").Methods()
	for i := range methods.Len() {
		rpc[string(methods.Get(i).Name())] = true
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
	if len(rest) != methods.Len() {
		t.Errorf("%d REST operations, %d RPCs", len(rest), methods.Len())
	}
}
