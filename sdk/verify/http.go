package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// bearerToken extracts the token of an "Authorization: Bearer <token>" header (the scheme
// is case-insensitive). Errors: ErrMissingToken, ErrInvalidToken (several headers).
func bearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrMissingToken
	case len(vals) > 1:
		return "", invalid("%d Authorization headers", len(vals))
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization scheme is not Bearer", ErrMissingToken)
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", ErrMissingToken
	}
	return tok, nil
}

func (v *Verifier) verifyHeader(ctx context.Context, h http.Header) (Caller, error) {
	tok, err := bearerToken(h)
	if err != nil {
		return Caller{}, err
	}
	return v.Verify(ctx, tok)
}

// Middleware returns next behind a check of the request's "Authorization: Bearer" token;
// next finds the Caller with CallerFrom(r.Context()).
//
// A request without a valid token is answered 401 with WWW-Authenticate: Bearer and the
// body {"ok":false,"error":"…","code":"unauthenticated"}; when the keys or introspection are
// unreachable (or the service key is refused), 503 with code "unavailable". The error
// message names the kind of failure only (missing, expired, inactive, invalid).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.verifyHeader(r.Context(), r.Header)
		if err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}

func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusUnauthorized, "unauthenticated"
	switch {
	case unavailable(err):
		status, code = http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, ErrMissingToken):
		w.Header().Set("WWW-Authenticate", "Bearer")
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Code  string `json:"code"`
	}{false, publicMessage(err), code})
}

// Interceptor returns a Connect interceptor that checks the "Authorization: Bearer" token of
// every unary request a handler receives (client-side calls pass through) and puts the
// Caller in the handler's context (CallerFrom). It fails with connect.CodeUnauthenticated,
// or connect.CodeUnavailable when the keys or introspection are unreachable; the
// *connect.Error wraps the verify error (errors.Is works server-side) while the client only
// sees the kind of failure. Streaming handlers are not covered.
func (v *Verifier) Interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Spec().IsClient {
				return next(ctx, req)
			}
			c, err := v.verifyHeader(ctx, req.Header())
			if err != nil {
				code := connect.CodeUnauthenticated
				if unavailable(err) {
					code = connect.CodeUnavailable
				}
				return nil, connect.NewError(code, publicError{err})
			}
			return next(WithCaller(ctx, c), req)
		}
	}
}

// publicError shows the caller publicMessage and keeps the detail for errors.Is and logs.
type publicError struct{ err error }

func (e publicError) Error() string { return publicMessage(e.err) }
func (e publicError) Unwrap() error { return e.err }

// publicMessage is what the caller of a protected service is told: the sentinel's gist,
// without the detail that only helps someone forging tokens.
func publicMessage(err error) string {
	switch {
	case unavailable(err):
		return "authentication is temporarily unavailable"
	case errors.Is(err, ErrMissingToken):
		return "missing bearer token"
	case errors.Is(err, ErrExpired):
		return "token expired"
	case errors.Is(err, ErrRevoked):
		return "session is no longer active"
	default:
		return "invalid token"
	}
}
