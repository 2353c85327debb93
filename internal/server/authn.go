package server

import (
	"context"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server/restapi"
)

// Authentication happens once per request, at the edge of each transport: a strict-server
// middleware for REST and an interceptor for Connect, both keyed on the operation's security
// in openapi.yaml. They put the caller's auth.Principal in the context; adapter methods hand
// it to the domain. An operation that needs one and finds none passes the zero Principal,
// which every authenticated domain operation refuses.

type principalKey struct{}

func withPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principal is the caller authenticated at the edge, or the zero Principal.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// securedOperations reports, by operation name (the operationId with a capital first letter,
// which is also the RPC's name), whether openapi.yaml requires a bearer token for it (its own
// security, or the document's when it has none).
func securedOperations() (map[string]bool, error) {
	spec, err := restapi.GetSpec()
	if err != nil {
		return nil, err
	}
	secured := map[string]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			secured[operationName(op.OperationID)] = len(sec) > 0
		}
	}
	return secured, nil
}

// operationName is the one name of an operation: operationId login, RPC Login, name Login.
func operationName(operationID string) string {
	r, n := utf8.DecodeRuneInString(operationID)
	return string(unicode.ToUpper(r)) + operationID[n:]
}

// authenticateREST authenticates the bearer token of every secured REST operation.
func authenticateREST(a *auth.Service, secured map[string]bool) restapi.StrictMiddlewareFunc {
	return func(f restapi.StrictHandlerFunc, op string) restapi.StrictHandlerFunc {
		if !secured[operationName(op)] {
			return f
		}
		return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
			p, err := a.Authenticate(ctx, bearerToken(r.Header))
			if err != nil {
				return nil, err
			}
			return f(withPrincipal(ctx, p), w, r, req)
		}
	}
}

// authenticateRPC authenticates the bearer token of every RPC whose operation is secured;
// an RPC the contract does not list is treated as secured.
func authenticateRPC(a *auth.Service, secured map[string]bool) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			proc := req.Spec().Procedure
			if sec, known := secured[proc[strings.LastIndexByte(proc, '/')+1:]]; known && !sec {
				return next(ctx, req)
			}
			p, err := a.Authenticate(ctx, bearerToken(req.Header()))
			if err != nil {
				return nil, err
			}
			return next(withPrincipal(ctx, p), req)
		}
	}
}
