package verify

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of them, so callers
// can branch with errors.Is; the wrapped message adds the detail (which header, which claim,
// which HTTP status) and is meant for logs, not for the caller of the protected service.
var (
	// ErrInvalidConfig is returned by New for a Config that cannot work (missing or
	// non-http(s) Issuer, negative RefetchInterval, Introspection without a ServiceKey…).
	ErrInvalidConfig = errors.New("verify: invalid configuration")

	// ErrMissingToken means the request carried no bearer token (no Authorization header,
	// another scheme, or an empty token).
	ErrMissingToken = errors.New("verify: missing bearer token")

	// ErrInvalidToken means the token is not one the issuer signed for this audience: it is
	// malformed, uses an algorithm other than EdDSA, carries a forbidden header (jku, x5u,
	// jwk, x5c, crit), has a bad signature, the wrong iss or aud, or lacks exp, sub or sid.
	ErrInvalidToken = errors.New("verify: invalid token")

	// ErrExpired means the token's exp (plus the leeway) has passed.
	ErrExpired = errors.New("verify: token expired")

	// ErrNotYetValid means the token's nbf or iat lies in the future (beyond the leeway).
	ErrNotYetValid = errors.New("verify: token not yet valid")

	// ErrUnknownKey means the token's kid is not among the published keys, even after a
	// refetch of the key set (or a refetch was not allowed yet; see Config.RefetchInterval).
	ErrUnknownKey = errors.New("verify: token signed by an unknown key")

	// ErrKeysUnavailable means the key set could not be fetched (network error, timeout,
	// non-200 answer, malformed JSON, no usable Ed25519 key) and no key for the token was
	// known: verification fails closed.
	ErrKeysUnavailable = errors.New("verify: signing keys unavailable")

	// ErrRevoked means introspection answered that the token is not active (the session was
	// revoked or has expired, the account is suspended).
	ErrRevoked = errors.New("verify: token is not active")

	// ErrIntrospectionUnavailable means introspection failed (network error, timeout, 429,
	// 5xx, a malformed answer or one about another session): verification fails closed.
	ErrIntrospectionUnavailable = errors.New("verify: introspection unavailable")

	// ErrServiceKeyRejected means the auth service refused the service key (HTTP 401 or 403
	// from introspection): a configuration error of this service, not of the caller.
	ErrServiceKeyRejected = errors.New("verify: service key rejected by the auth service")
)

// unavailable reports whether err is this service's problem (keys or introspection out of
// reach, a bad service key) rather than the caller's.
func unavailable(err error) bool {
	return errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrIntrospectionUnavailable) ||
		errors.Is(err, ErrServiceKeyRejected)
}
