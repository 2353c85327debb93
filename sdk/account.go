package sdk

// Account self-service: sessions, profile, password and email changes, email verification,
// security activity, data export and account deletion.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"panguard.ai/auth/sdk/rest"
)

// ReauthOption adds a second factor to an operation that re-authenticates (ChangePassword,
// ChangeEmail, DeleteAccount, DisableTotp, RegenerateBackupCodes). When the account has 2FA
// on, such an operation needs the password and one of these; without one it returns
// ErrTOTPRequired, and the caller asks for a code and calls again.
type ReauthOption func(*reauth)

// reauth is the second factor collected from ReauthOptions; nil fields are not sent.
type reauth struct {
	totpCode   *string
	backupCode *string
}

// WithReauthTOTP sends a 6-digit code from an authenticator app.
func WithReauthTOTP(code string) ReauthOption {
	return func(r *reauth) { r.totpCode = &code }
}

// WithReauthBackupCode sends a single-use backup code (it is used up even if the operation
// then fails for another reason after the code was checked).
func WithReauthBackupCode(code string) ReauthOption {
	return func(r *reauth) { r.backupCode = &code }
}

func secondFactor(opts []ReauthOption) reauth {
	var r reauth
	for _, o := range opts {
		if o != nil {
			o(&r)
		}
	}
	return r
}

// SessionInfo describes one of the account's sessions as ListSessions shows it (not to be
// confused with Session, the token a Login returns).
type SessionInfo struct {
	ID         string // ses_…
	CreatedAt  time.Time
	LastSeenAt time.Time // refreshed at most once a minute
	ExpiresAt  time.Time
	IP         string // client IP when the session was created
	UserAgent  string // User-Agent when the session was created (at most 256 characters)
	Current    bool   // the session the client is calling with
	Method     string // how it was opened: password, passkey, device, reset…
}

func sessionInfo(s rest.SessionInfo) SessionInfo {
	return SessionInfo{
		ID: s.Id, CreatedAt: s.CreatedAt.Time, LastSeenAt: s.LastSeenAt.Time, ExpiresAt: s.ExpiresAt.Time,
		IP: s.Ip, UserAgent: s.UserAgent, Current: s.Current, Method: string(s.Method),
	}
}

func sessionInfos(in []rest.SessionInfo) []SessionInfo {
	out := make([]SessionInfo, 0, len(in))
	for _, s := range in {
		out = append(out, sessionInfo(s))
	}
	return out
}

// ListSessions returns the account's live sessions, newest first.
// Errors: ErrUnauthenticated, ErrRateLimited.
func (c *Client) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	r, err := c.api.ListSessionsWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: list sessions: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return sessionInfos(r.JSON200.Data.Sessions), nil
}

// RevokeSession ends the session with the given id (from ListSessions) at once. Revoking
// the client's own session works like Logout. Another account's or an unknown id gives
// ErrNotFound (the service does not say which).
// Errors: ErrUnauthenticated, ErrNotFound, ErrValidation (empty id), ErrRateLimited.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	if id == "" {
		return &Error{Code: connect.CodeInvalidArgument, Reason: ErrValidation.Reason, Message: "a session id is required"}
	}
	r, err := c.api.RevokeSessionWithResponse(ctx, id, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: revoke session: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// RevokeOtherSessions ends every session of the account except the client's own and
// returns how many it ended. Errors: ErrUnauthenticated, ErrRateLimited.
func (c *Client) RevokeOtherSessions(ctx context.Context) (int, error) {
	r, err := c.api.RevokeOtherSessionsWithResponse(ctx, c.auth)
	if err != nil {
		return 0, fmt.Errorf("sdk: revoke other sessions: %w", err)
	}
	if r.JSON200 == nil {
		return 0, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Revoked, nil
}

// UpdateMe renames the account (1-100 characters after trimming) and returns the profile.
// Errors: ErrUnauthenticated, ErrValidation, ErrRateLimited.
func (c *Client) UpdateMe(ctx context.Context, name string) (*User, error) {
	r, err := c.api.UpdateMeWithResponse(ctx, rest.UpdateMeJSONRequestBody{Name: name}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: update profile: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	u := user(r.JSON200.Data)
	return &u, nil
}

// ChangePassword sets a new password (8-128 characters) after checking the current one and,
// when 2FA is on, a code given with WithReauthTOTP or WithReauthBackupCode. Every other
// session of the account is revoked; the client's own keeps working.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrValidation, ErrRateLimited.
func (c *Client) ChangePassword(ctx context.Context, currentPassword, newPassword string, opts ...ReauthOption) error {
	f := secondFactor(opts)
	r, err := c.api.ChangePasswordWithResponse(ctx, rest.ChangePasswordJSONRequestBody{
		CurrentPassword: currentPassword, NewPassword: newPassword, TotpCode: f.totpCode, BackupCode: f.backupCode,
	}, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: change password: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// ChangeEmail asks to move the account to newEmail: a confirmation link goes to the new
// address (finish with ConfirmEmail) and a notice to the current one. It re-authenticates
// like ChangePassword. The returned message is the same whether or not the address is free.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrValidation, ErrRateLimited.
func (c *Client) ChangeEmail(ctx context.Context, newEmail, password string, opts ...ReauthOption) (string, error) {
	f := secondFactor(opts)
	r, err := c.api.ChangeEmailWithResponse(ctx, rest.ChangeEmailJSONRequestBody{
		NewEmail: newEmail, Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode,
	}, c.auth)
	if err != nil {
		return "", fmt.Errorf("sdk: change email: %w", err)
	}
	if r.JSON200 == nil {
		return "", responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Message, nil
}

// ConfirmEmail completes an email change with the eml_… token from the link sent to the new
// address, and returns the profile with the new address. It needs no session (the client's
// token, if any, is not sent).
// Errors: ErrInvalidToken, ErrEmailTaken, ErrValidation, ErrRateLimited.
func (c *Client) ConfirmEmail(ctx context.Context, token string) (*User, error) {
	r, err := c.api.ConfirmEmailWithResponse(ctx, rest.ConfirmEmailJSONRequestBody{Token: token})
	if err != nil {
		return nil, fmt.Errorf("sdk: confirm email: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	u := user(r.JSON200.Data)
	return &u, nil
}

// VerifyEmail proves the account's address with the vfy_… token from the verification
// email. It needs no session (the client's token, if any, is not sent).
// Errors: ErrInvalidToken, ErrValidation, ErrRateLimited.
func (c *Client) VerifyEmail(ctx context.Context, token string) error {
	r, err := c.api.VerifyEmailWithResponse(ctx, rest.VerifyEmailJSONRequestBody{Token: token})
	if err != nil {
		return fmt.Errorf("sdk: verify email: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// ResendVerification asks for a new verification email. At most one is sent per 5 minutes;
// the answer (returned message) is the same either way.
// Errors: ErrUnauthenticated, ErrRateLimited.
func (c *Client) ResendVerification(ctx context.Context) (string, error) {
	r, err := c.api.ResendVerificationWithResponse(ctx, c.auth)
	if err != nil {
		return "", fmt.Errorf("sdk: resend verification: %w", err)
	}
	if r.JSON200 == nil {
		return "", responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Message, nil
}

// Event is one entry of the account's security activity.
type Event struct {
	ID        string // evt_…
	Type      string // registered, login, login_failed, password_changed, session_revoked…
	At        time.Time
	IP        string
	UserAgent string
	Actor     string         // "self", "admin:<usr_…>" or "system"
	Detail    map[string]any // optional; never a secret
	// UserID is the account the event is about; set in Admin().ListAudit only.
	UserID string
}

func event(e rest.ActivityEvent) Event {
	ev := Event{ID: e.Id, Type: e.Type, At: e.At.Time, IP: e.Ip, UserAgent: e.UserAgent, Actor: e.Actor}
	if e.Detail != nil {
		ev.Detail = *e.Detail
	}
	if e.UserId != nil {
		ev.UserID = *e.UserId
	}
	return ev
}

func events(in []rest.ActivityEvent) []Event {
	out := make([]Event, 0, len(in))
	for _, e := range in {
		out = append(out, event(e))
	}
	return out
}

// ActivityPage is one page of security activity, newest first. NextCursor is "" on the
// last page; otherwise pass it as before to ListActivity for the next (older) page.
type ActivityPage struct {
	Events     []Event
	NextCursor string
}

// ListActivity returns a page of the account's security activity, newest first. limit is
// 1-100 (0 asks for the service's default, 50); before is "" for the first page, else the
// NextCursor of the previous page.
// Errors: ErrUnauthenticated, ErrValidation (limit out of range), ErrInvalidCursor, ErrRateLimited.
func (c *Client) ListActivity(ctx context.Context, limit int, before string) (*ActivityPage, error) {
	params := &rest.ListActivityParams{}
	if limit != 0 {
		params.Limit = &limit
	}
	if before != "" {
		params.Before = &before
	}
	r, err := c.api.ListActivityWithResponse(ctx, params, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: list activity: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	p := &ActivityPage{Events: events(r.JSON200.Data.Events)}
	if r.JSON200.Data.NextCursor != nil {
		p.NextCursor = *r.JSON200.Data.NextCursor
	}
	return p, nil
}

// TwoFactorSummary is the second-factor part of an Export.
type TwoFactorSummary struct {
	Enabled              bool
	BackupCodesRemaining int
}

// Passkey is a registered passkey as the export lists it.
type Passkey struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time // nil when never used
}

// Export is the whole record the service holds about the account. It never contains a
// password hash, secret, code, token or key.
type Export struct {
	ExportedAt time.Time
	User       User
	Sessions   []SessionInfo
	Activity   []Event // all of it, newest first
	TwoFactor  TwoFactorSummary
	Passkeys   []Passkey
	// JSON is the record exactly as the service sent it (the envelope's data object), for
	// saving to a file without losing fields this SDK version does not know.
	JSON json.RawMessage
}

// ExportAccount downloads the whole record held about the account (an export is itself
// recorded as activity). Errors: ErrUnauthenticated, ErrRateLimited.
func (c *Client) ExportAccount(ctx context.Context) (*Export, error) {
	r, err := c.api.ExportAccountWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: export account: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	x := &Export{
		ExportedAt: d.ExportedAt.Time,
		User:       user(d.User),
		Sessions:   sessionInfos(d.Sessions),
		Activity:   events(d.Activity),
		TwoFactor:  TwoFactorSummary{Enabled: d.TwoFactor.Enabled, BackupCodesRemaining: d.TwoFactor.BackupCodesRemaining},
		Passkeys:   make([]Passkey, 0, len(d.Passkeys)),
	}
	for _, p := range d.Passkeys {
		x.Passkeys = append(x.Passkeys, Passkey{ID: p.Id, Name: p.Name, CreatedAt: p.CreatedAt.Time, LastUsedAt: timePtr(p.LastUsedAt)})
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &env); err == nil && len(env.Data) > 0 {
		x.JSON = env.Data
	}
	return x, nil
}

// DeleteAccount erases the account and everything keyed to it, after checking the password
// and, when 2FA is on, a code given with WithReauthTOTP or WithReauthBackupCode. Every token
// of the account, the client's included, stops working at once; the address can register
// again. Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrValidation, ErrRateLimited.
func (c *Client) DeleteAccount(ctx context.Context, password string, opts ...ReauthOption) error {
	f := secondFactor(opts)
	r, err := c.api.DeleteAccountWithResponse(ctx, rest.DeleteAccountJSONRequestBody{
		Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode,
	}, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: delete account: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}
