package sdk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
)

// Error is a failure reported by the Panguard Auth service. Reason is the stable snake_case
// reason (the REST `code`, the Connect error detail); Code is the matching Connect code;
// Status the HTTP status (0 over gRPC). Compare with the Err… sentinels using errors.Is,
// which matches on Reason.
type Error struct {
	Status     int
	Code       connect.Code
	Reason     string
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "panguard: " + e.Reason
	}
	return fmt.Sprintf("panguard: %s (%s)", e.Message, e.Reason)
}

// Is reports whether target is an *Error with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinel errors for errors.Is. Only Reason is compared.
var (
	ErrValidation         = &Error{Reason: "validation_failed"}
	ErrInvalidJSON        = &Error{Reason: "invalid_json"}
	ErrInvalidCredentials = &Error{Reason: "invalid_credentials"}
	ErrTOTPRequired       = &Error{Reason: "totp_required"}
	ErrInvalidTOTPCode    = &Error{Reason: "invalid_totp_code"}
	ErrUnauthenticated    = &Error{Reason: "unauthenticated"}
	ErrInvalidResetToken  = &Error{Reason: "invalid_reset_token"}
	ErrInvalidPassword    = &Error{Reason: "invalid_password"}
	ErrAlreadyEnabled     = &Error{Reason: "already_enabled"}
	ErrTOTPNotSetUp       = &Error{Reason: "totp_not_setup"}
	ErrTOTPNotEnabled     = &Error{Reason: "totp_not_enabled"}
	ErrRateLimited        = &Error{Reason: "rate_limited"}
	ErrUnavailable        = &Error{Reason: "unavailable"}
	ErrInternal           = &Error{Reason: "internal"}
	ErrNotFound           = &Error{Reason: "not_found"}
	ErrForbidden          = &Error{Reason: "forbidden"}
	ErrConflict           = &Error{Reason: "conflict"}
	ErrInvalidToken       = &Error{Reason: "invalid_token"}     // a verify or email-change link that is invalid, used or expired
	ErrEmailTaken         = &Error{Reason: "email_taken"}       // the new address got an account before the change was confirmed
	ErrInvalidCursor      = &Error{Reason: "invalid_cursor"}    // a page cursor the service did not issue
	ErrSuspended          = &Error{Reason: "account_suspended"} // an admin suspended the account (login with the right password)
	ErrInvalidPasskey     = &Error{Reason: "invalid_passkey"}   // a passkey credential or assertion that does not check out
	ErrInvalidChallenge   = &Error{Reason: "invalid_challenge"} // a passkey challengeId that is unknown, used or expired
)

// sentinels lists every sentinel, so a test can check that each reason the service answers
// with has one.
var sentinels = []*Error{
	ErrValidation, ErrInvalidJSON, ErrInvalidCredentials, ErrTOTPRequired, ErrInvalidTOTPCode,
	ErrUnauthenticated, ErrInvalidResetToken, ErrInvalidPassword, ErrAlreadyEnabled, ErrTOTPNotSetUp,
	ErrTOTPNotEnabled, ErrRateLimited, ErrUnavailable, ErrInternal, ErrNotFound, ErrForbidden, ErrConflict,
	ErrInvalidToken, ErrEmailTaken, ErrInvalidCursor, ErrSuspended, ErrInvalidPasskey, ErrInvalidChallenge,
}

// codeForStatus mirrors the service's error table.
func codeForStatus(status int) connect.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return connect.CodeInvalidArgument
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusNotFound:
		return connect.CodeNotFound
	case http.StatusMethodNotAllowed:
		return connect.CodeUnimplemented
	case http.StatusConflict:
		return connect.CodeAlreadyExists
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted
	case http.StatusServiceUnavailable:
		return connect.CodeUnavailable
	default:
		return connect.CodeInternal
	}
}

// responseError builds the *Error of a failed REST answer.
func responseError(status int, header http.Header, body []byte) error {
	var env struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	e := &Error{Status: status, Code: codeForStatus(status)}
	if json.Unmarshal(body, &env) == nil && env.Code != "" {
		e.Reason, e.Message = env.Code, env.Error
	} else {
		// Not our envelope (a proxy's error page, say): keep what we know.
		e.Reason, e.Message = "internal", http.StatusText(status)
	}
	if s, err := strconv.Atoi(header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
