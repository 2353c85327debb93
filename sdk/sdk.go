// Package sdk is the Go client of Panguard Auth: a small facade over the generated REST
// client (package rest) for programs such as the panguard CLI. Every call takes a context;
// failures are *Error values comparable with errors.Is against the Err… sentinels.
//
// The generated Connect client for the same operations, speaking Connect, gRPC or gRPC-web,
// is in panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect.
package sdk

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"panguard.ai/auth/sdk/apitime"
	"panguard.ai/auth/sdk/rest"
)

// Client calls one Panguard Auth server. A Client is safe for concurrent use; WithToken
// returns a copy bound to another session.
type Client struct {
	api   *rest.ClientWithResponses
	token string
}

type options struct {
	httpClient *http.Client
	token      string
	userAgent  string
}

// Option configures New.
type Option func(*options)

// WithToken authenticates calls with a session token from Login or Register.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithHTTPClient sets the HTTP client (timeouts, proxies, TLS).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// New returns a client of the server at baseURL (e.g. "https://auth.panguard.ai").
// It returns an error for a malformed URL.
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{httpClient: &http.Client{Timeout: 30 * time.Second}, userAgent: "panguard-auth-sdk-go"}
	for _, opt := range opts {
		opt(&o)
	}
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("sdk: base URL must start with http:// or https://, got %q", baseURL)
	}
	c := &Client{token: o.token}
	api, err := rest.NewClientWithResponses(strings.TrimRight(baseURL, "/"),
		rest.WithHTTPClient(o.httpClient),
		rest.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("User-Agent", o.userAgent)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}
	c.api = api
	return c, nil
}

// WithToken returns a copy of c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// Token is the session token c authenticates with ("" when none).
func (c *Client) Token() string { return c.token }

func (c *Client) auth(_ context.Context, r *http.Request) error {
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	return nil
}

// User is an account as the server shows it.
type User struct {
	ID          string
	Email       string
	Name        string
	Tier        string // effective tier: community, solo, pro, business or enterprise
	TOTPEnabled bool
	// MachineLimit is nil for unlimited.
	MachineLimit *int
	TrialEndsAt  *time.Time // nil on a paid plan
	// EmailVerified reports that the owner proved the address (verification link, email
	// change confirmation or password reset).
	EmailVerified bool
	Role          string     // "user" or "admin"
	PlanExpiresAt *time.Time // when a paid plan ends; nil for no end or no plan
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// user decodes the REST encoding of an account, the same in every answer.
func user(u rest.User) User {
	return User{
		ID: u.Id, Email: u.Email, Name: u.Name, Tier: string(u.Tier), TOTPEnabled: u.TotpEnabled,
		MachineLimit: u.MachineLimit, TrialEndsAt: timePtr(u.TrialEndsAt),
		EmailVerified: u.EmailVerified, Role: string(u.Role), PlanExpiresAt: timePtr(u.PlanExpiresAt),
		CreatedAt: u.CreatedAt.Time, UpdatedAt: u.UpdatedAt.Time,
	}
}

// Session is a logged-in session.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      User
}

// Registration is the outcome of Register. Session is nil when the email already had an
// account: the server then answers only with Message (and emails the holder).
type Registration struct {
	Session *Session
	Message string
}

func timePtr(t *apitime.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}

// Register creates an account on a 14-day Solo trial.
// Errors: ErrValidation, ErrRateLimited, ErrUnavailable.
func (c *Client) Register(ctx context.Context, email, name, password string) (*Registration, error) {
	r, err := c.api.RegisterWithResponse(ctx, rest.RegisterJSONRequestBody{Email: email, Name: name, Password: password})
	if err != nil {
		return nil, fmt.Errorf("sdk: register: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	reg := &Registration{}
	if d.Message != nil {
		reg.Message = *d.Message
	}
	if d.Token != nil && d.User != nil && d.ExpiresAt != nil {
		reg.Session = &Session{Token: *d.Token, ExpiresAt: d.ExpiresAt.Time, User: user(*d.User)}
	}
	return reg, nil
}

// LoginOption adds a second factor to Login.
type LoginOption func(*rest.LoginJSONRequestBody)

// WithTOTPCode sends a 6-digit code from an authenticator app.
func WithTOTPCode(code string) LoginOption {
	return func(b *rest.LoginJSONRequestBody) { b.TotpCode = &code }
}

// WithBackupCode sends a single-use backup code.
func WithBackupCode(code string) LoginOption {
	return func(b *rest.LoginJSONRequestBody) { b.BackupCode = &code }
}

// Login opens a new session. When the account has 2FA on and no code was given it returns
// ErrTOTPRequired: ask for a code and call again WithTOTPCode or WithBackupCode.
// Errors: ErrInvalidCredentials, ErrTOTPRequired, ErrInvalidTOTPCode, ErrValidation, ErrRateLimited.
func (c *Client) Login(ctx context.Context, email, password string, opts ...LoginOption) (*Session, error) {
	body := rest.LoginJSONRequestBody{Email: email, Password: password}
	for _, o := range opts {
		o(&body)
	}
	r, err := c.api.LoginWithResponse(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("sdk: login: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	// The 200 answer is either a session or "second factor required" (ok: false).
	if need, err := r.JSON200.AsTotpRequiredEnvelope(); err == nil && bool(need.TotpRequired) && !bool(need.Ok) {
		return nil, &Error{Status: 200, Code: ErrTOTPRequired.Code, Reason: ErrTOTPRequired.Reason, Message: string(need.Error)}
	}
	env, err := r.JSON200.AsLoginEnvelope()
	if err != nil {
		return nil, fmt.Errorf("sdk: login: unexpected answer: %w", err)
	}
	d := env.Data
	return &Session{Token: d.Token, ExpiresAt: d.ExpiresAt.Time, User: user(d.User)}, nil
}

// Logout revokes the client's session. Errors: ErrUnauthenticated.
func (c *Client) Logout(ctx context.Context) error {
	r, err := c.api.LogoutWithResponse(ctx, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: logout: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// Me returns the profile of the client's session. Errors: ErrUnauthenticated.
func (c *Client) Me(ctx context.Context) (*User, error) {
	r, err := c.api.MeWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: me: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	u := user(r.JSON200.Data)
	return &u, nil
}

// ForgotPassword asks for a reset email; the answer is the same whether or not the account
// exists. Errors: ErrValidation, ErrRateLimited.
func (c *Client) ForgotPassword(ctx context.Context, email string) (string, error) {
	r, err := c.api.ForgotPasswordWithResponse(ctx, rest.ForgotPasswordJSONRequestBody{Email: email})
	if err != nil {
		return "", fmt.Errorf("sdk: forgot password: %w", err)
	}
	if r.JSON200 == nil {
		return "", responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Message, nil
}

// ResetPassword sets a new password with the token from the reset email; every session of
// the account is revoked. Errors: ErrInvalidResetToken, ErrValidation.
func (c *Client) ResetPassword(ctx context.Context, token, newPassword string) error {
	r, err := c.api.ResetPasswordWithResponse(ctx, rest.ResetPasswordJSONRequestBody{Token: token, NewPassword: newPassword})
	if err != nil {
		return fmt.Errorf("sdk: reset password: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// TOTPSetup is a pending second factor: add Secret (or scan OTPAuthURL) in an authenticator
// app, keep the backup codes, then call VerifyTotp.
type TOTPSetup struct {
	Secret      string
	OTPAuthURL  string
	BackupCodes []string
}

// SetupTotp starts 2FA setup. Errors: ErrUnauthenticated, ErrAlreadyEnabled.
func (c *Client) SetupTotp(ctx context.Context) (*TOTPSetup, error) {
	r, err := c.api.SetupTotpWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: totp setup: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	return &TOTPSetup{Secret: d.Secret, OTPAuthURL: d.OtpauthUrl, BackupCodes: d.BackupCodes}, nil
}

// VerifyTotp confirms setup with a current code, enabling 2FA.
// Errors: ErrUnauthenticated, ErrInvalidTOTPCode, ErrTOTPNotSetUp, ErrAlreadyEnabled.
func (c *Client) VerifyTotp(ctx context.Context, code string) error {
	r, err := c.api.VerifyTotpWithResponse(ctx, rest.VerifyTotpJSONRequestBody{TotpCode: code}, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: totp verify: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// DisableTotp turns 2FA off. It re-authenticates: the password, and a current code
// (WithReauthTOTP) or a backup code (WithReauthBackupCode); without one it returns
// ErrTOTPRequired.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrTOTPNotEnabled, ErrValidation, ErrRateLimited.
func (c *Client) DisableTotp(ctx context.Context, password string, opts ...ReauthOption) error {
	f := secondFactor(opts)
	r, err := c.api.DisableTotpWithResponse(ctx, rest.DisableTotpJSONRequestBody{Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode}, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: totp disable: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// TOTPStatus is whether 2FA is on and how many backup codes are left.
type TOTPStatus struct {
	Enabled              bool
	Pending              bool
	BackupCodesRemaining int
}

// GetTotpStatus reports the second-factor status. Errors: ErrUnauthenticated.
func (c *Client) GetTotpStatus(ctx context.Context) (*TOTPStatus, error) {
	r, err := c.api.GetTotpStatusWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: totp status: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	return &TOTPStatus{Enabled: d.Enabled, Pending: d.Pending, BackupCodesRemaining: d.BackupCodesRemaining}, nil
}

// RegenerateBackupCodes replaces every backup code with 10 new ones. It re-authenticates:
// the password, and a current code (WithReauthTOTP) or a backup code (WithReauthBackupCode);
// without one it returns ErrTOTPRequired.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrTOTPNotEnabled, ErrValidation, ErrRateLimited.
func (c *Client) RegenerateBackupCodes(ctx context.Context, password string, opts ...ReauthOption) ([]string, error) {
	f := secondFactor(opts)
	r, err := c.api.RegenerateBackupCodesWithResponse(ctx, rest.RegenerateBackupCodesJSONRequestBody{Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: backup codes: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.BackupCodes, nil
}
