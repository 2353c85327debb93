package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, snake_case reason for a failure. Clients branch on it; it never changes
// meaning once published. The transports map each Code to an HTTP status and a Connect code.
type Code string

// The reasons a domain operation can fail with.
const (
	CodeValidation         Code = "validation_failed"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeInvalidTOTP        Code = "invalid_totp_code"
	CodeInvalidResetToken  Code = "invalid_reset_token"
	CodeInvalidPassword    Code = "invalid_password"
	CodeAlreadyEnabled     Code = "already_enabled"
	CodeTOTPNotSetUp       Code = "totp_not_setup"
	// CodeTOTPRequired is not an error: it is the reason a login answers "second factor
	// required" (LoginResult.TOTPRequired), with MsgTOTPRequired as its text.
	CodeTOTPRequired   Code = "totp_required"
	CodeTOTPNotEnabled Code = "totp_not_enabled"
	CodeRateLimited    Code = "rate_limited"
	CodeUnavailable    Code = "unavailable"
	CodeInternal       Code = "internal"
	CodeNotFound       Code = "not_found"
	CodeForbidden      Code = "forbidden"
	CodeConflict       Code = "conflict"
	CodeInvalidCursor  Code = "invalid_cursor"
	CodeInvalidToken   Code = "invalid_token"
	CodeEmailTaken     Code = "email_taken"
	CodeSuspended      Code = "account_suspended"
)

// Codes lists every Code the domain can answer with, so transports and SDKs can be checked
// against it.
var Codes = []Code{
	CodeValidation, CodeInvalidCredentials, CodeUnauthenticated, CodeInvalidTOTP, CodeInvalidResetToken,
	CodeInvalidPassword, CodeAlreadyEnabled, CodeTOTPNotSetUp, CodeTOTPRequired, CodeTOTPNotEnabled,
	CodeRateLimited, CodeUnavailable, CodeInternal, CodeNotFound, CodeForbidden, CodeConflict,
	CodeInvalidCursor, CodeInvalidToken, CodeEmailTaken, CodeSuspended, CodeInvalidPasskey, CodeInvalidChallenge,
}

// Kind is the category of a failure; transports map each Kind to one HTTP status and one
// Connect code. The same Code may come in different kinds: a wrong TOTP code is
// KindUnauthenticated at login but KindInvalid when confirming a setup.
type Kind int

// The kinds of failure.
const (
	KindInternal        Kind = iota // a fault of ours; details never reach the client
	KindInvalid                     // the request is wrong; retrying it unchanged fails again
	KindUnauthenticated             // credentials or token are missing or wrong
	KindConflict                    // the request conflicts with the current state
	KindRateLimited                 // too many attempts; retry after RetryAfter
	KindUnavailable                 // a dependency is down or saturated; retry later
	KindNotFound                    // the thing named does not exist (or is not the caller's)
	KindForbidden                   // the caller is known but may not do this
)

// Kinds lists every Kind, so the transports' error table can be checked to cover them all.
var Kinds = []Kind{KindInternal, KindInvalid, KindUnauthenticated, KindConflict, KindRateLimited, KindUnavailable, KindNotFound, KindForbidden}

// Error is a failure the caller may see: a Kind, a stable Code and a human Message. Anything
// that is not an *Error is an internal fault and is reported to clients only as CodeInternal.
type Error struct {
	Kind    Kind
	Code    Code
	Message string
	// RetryAfter is set for CodeRateLimited and CodeUnavailable when a retry time is known.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("auth: %s: %s", e.Code, e.Message) }

// Is reports whether target is an *Error with the same Code, so errors.Is(err, ErrX) works
// whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the Code of err, or CodeInternal when err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// KindOf returns the Kind of err, or KindInternal when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

func invalid(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors, usable with errors.Is.
var (
	ErrInvalidCredentials = &Error{Kind: KindUnauthenticated, Code: CodeInvalidCredentials, Message: "Invalid email or password"}
	ErrUnauthenticated    = &Error{Kind: KindUnauthenticated, Code: CodeUnauthenticated, Message: "Authentication required: the token is missing, invalid, expired or revoked"}
	ErrInvalidTOTP        = &Error{Kind: KindUnauthenticated, Code: CodeInvalidTOTP, Message: "Invalid TOTP code. Please try again."}
	ErrInvalidResetToken  = &Error{Kind: KindInvalid, Code: CodeInvalidResetToken, Message: "Reset token is invalid or has expired"}
	ErrInvalidPassword    = &Error{Kind: KindUnauthenticated, Code: CodeInvalidPassword, Message: "Password is incorrect"}
	ErrAlreadyEnabled     = &Error{Kind: KindConflict, Code: CodeAlreadyEnabled, Message: "Two-factor authentication is already enabled"}
	ErrTOTPNotSetUp       = &Error{Kind: KindInvalid, Code: CodeTOTPNotSetUp, Message: "No pending two-factor setup: call totp/setup first"}
	ErrBusy               = &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: "The server is busy; retry shortly", RetryAfter: time.Second}
	ErrNotFound           = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "Not found"}
	ErrForbidden          = &Error{Kind: KindForbidden, Code: CodeForbidden, Message: "You are not allowed to do this"}
	ErrConflict           = &Error{Kind: KindConflict, Code: CodeConflict, Message: "The request conflicts with the current state"}
	ErrInvalidToken       = &Error{Kind: KindInvalid, Code: CodeInvalidToken, Message: "The link is invalid or has expired"}
	ErrEmailTaken         = &Error{Kind: KindConflict, Code: CodeEmailTaken, Message: "That email address is already in use"}
	// ErrSuspended is a sign-in with the right password to an account an admin suspended.
	ErrSuspended = &Error{Kind: KindForbidden, Code: CodeSuspended, Message: "This account is suspended; contact support"}
	// ErrSecondFactorRequired is a sensitive operation on an account with 2FA on that sent no
	// TOTP or backup code.
	ErrSecondFactorRequired = &Error{Kind: KindUnauthenticated, Code: CodeTOTPRequired, Message: "A TOTP code or a backup code is required"}
)

// ErrNoRecord is returned by a Store when the requested row does not exist (or, for sessions,
// is no longer active). It never reaches clients: the domain turns it into a client error.
var ErrNoRecord = errors.New("auth: no such record")
