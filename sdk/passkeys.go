package sdk

// Passkeys (WebAuthn): add, list, rename and remove an account's passkeys, and sign in with
// one. The SDK carries the WebAuthn JSON as-is: hand Options to the authenticator (in a
// browser, PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON),
// and its answer (PublicKeyCredential.toJSON()) back to the Finish call.

import (
	"context"
	"encoding/json"
	"fmt"

	"connectrpc.com/connect"

	"panguard.ai/auth/sdk/rest"
)

// PasskeyCeremony is a begun WebAuthn ceremony: finish it with ChallengeID within 5 minutes.
type PasskeyCeremony struct {
	ChallengeID string
	// Options is PublicKeyCredentialCreationOptions (registration) or
	// PublicKeyCredentialRequestOptions (sign-in) as WebAuthn JSON.
	Options json.RawMessage
}

func passkey(p rest.ExportedPasskey) Passkey {
	return Passkey{ID: p.Id, Name: p.Name, CreatedAt: p.CreatedAt.Time, LastUsedAt: timePtr(p.LastUsedAt)}
}

// BeginPasskeyRegistration starts adding a passkey, after checking the password and, when
// 2FA is on, a code given with WithReauthTOTP or WithReauthBackupCode.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired, ErrInvalidTOTPCode,
// ErrValidation, ErrConflict (the account holds the most passkeys it may), ErrRateLimited,
// ErrUnavailable.
func (c *Client) BeginPasskeyRegistration(ctx context.Context, password string, opts ...ReauthOption) (*PasskeyCeremony, error) {
	f := secondFactor(opts)
	r, err := c.api.BeginPasskeyRegistrationWithResponse(ctx, rest.BeginPasskeyRegistrationJSONRequestBody{
		Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode,
	}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: begin passkey registration: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return &PasskeyCeremony{ChallengeID: r.JSON200.Data.ChallengeId, Options: json.RawMessage(r.JSON200.Data.Options)}, nil
}

// FinishPasskeyRegistration stores the authenticator's new credential (its WebAuthn JSON)
// under name ("" for "Passkey").
// Errors: ErrUnauthenticated, ErrInvalidChallenge, ErrInvalidPasskey (the credential does not
// check out), ErrConflict (registered already), ErrValidation, ErrRateLimited.
func (c *Client) FinishPasskeyRegistration(ctx context.Context, challengeID string, credential json.RawMessage, name string) (*Passkey, error) {
	r, err := c.api.FinishPasskeyRegistrationWithResponse(ctx, rest.FinishPasskeyRegistrationJSONRequestBody{
		ChallengeId: challengeID, Credential: rest.WebAuthnJSON(credential), Name: &name,
	}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: finish passkey registration: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	p := passkey(r.JSON200.Data.Passkey)
	return &p, nil
}

// ListPasskeys returns the account's passkeys, oldest first. Errors: ErrUnauthenticated.
func (c *Client) ListPasskeys(ctx context.Context) ([]Passkey, error) {
	r, err := c.api.ListPasskeysWithResponse(ctx, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: list passkeys: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	out := make([]Passkey, len(r.JSON200.Data.Passkeys))
	for i, p := range r.JSON200.Data.Passkeys {
		out[i] = passkey(p)
	}
	return out, nil
}

// RenamePasskey renames one of the account's passkeys (1-100 characters).
// Errors: ErrUnauthenticated, ErrNotFound, ErrValidation, ErrRateLimited.
func (c *Client) RenamePasskey(ctx context.Context, id, name string) (*Passkey, error) {
	if id == "" {
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: ErrValidation.Reason, Message: "a passkey id is required"}
	}
	r, err := c.api.RenamePasskeyWithResponse(ctx, id, rest.RenamePasskeyJSONRequestBody{Name: name}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: rename passkey: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	p := passkey(r.JSON200.Data.Passkey)
	return &p, nil
}

// DeletePasskey removes one of the account's passkeys, after the same re-authentication as
// adding one. Errors: ErrUnauthenticated, ErrInvalidPassword, ErrTOTPRequired,
// ErrInvalidTOTPCode, ErrNotFound, ErrValidation, ErrRateLimited.
func (c *Client) DeletePasskey(ctx context.Context, id, password string, opts ...ReauthOption) error {
	if id == "" {
		return &Error{Code: connect.CodeInvalidArgument, Reason: ErrValidation.Reason, Message: "a passkey id is required"}
	}
	f := secondFactor(opts)
	r, err := c.api.DeletePasskeyWithResponse(ctx, id, rest.DeletePasskeyJSONRequestBody{
		Password: password, TotpCode: f.totpCode, BackupCode: f.backupCode,
	}, c.auth)
	if err != nil {
		return fmt.Errorf("sdk: delete passkey: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// BeginPasskeyLogin starts a passkey sign-in; it needs no token.
// Errors: ErrRateLimited, ErrUnavailable.
func (c *Client) BeginPasskeyLogin(ctx context.Context) (*PasskeyCeremony, error) {
	r, err := c.api.BeginPasskeyLoginWithResponse(ctx)
	if err != nil {
		return nil, fmt.Errorf("sdk: begin passkey login: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return &PasskeyCeremony{ChallengeID: r.JSON200.Data.ChallengeId, Options: json.RawMessage(r.JSON200.Data.Options)}, nil
}

// FinishPasskeyLogin signs in with the authenticator's assertion (its WebAuthn JSON): a
// passkey counts as both factors, so no TOTP step follows.
// Errors: ErrInvalidChallenge, ErrInvalidPasskey, ErrSuspended, ErrValidation, ErrRateLimited.
func (c *Client) FinishPasskeyLogin(ctx context.Context, challengeID string, credential json.RawMessage) (*Session, error) {
	r, err := c.api.FinishPasskeyLoginWithResponse(ctx, rest.FinishPasskeyLoginJSONRequestBody{
		ChallengeId: challengeID, Credential: rest.WebAuthnJSON(credential),
	})
	if err != nil {
		return nil, fmt.Errorf("sdk: finish passkey login: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	return &Session{Token: d.Token, ExpiresAt: d.ExpiresAt.Time, User: user(d.User)}, nil
}
