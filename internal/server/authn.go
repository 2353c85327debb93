package server

import (
	"context"
	"fmt"
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

// The security schemes of openapi.yaml: a user's session token, or another service's key.
const (
	schemeNone    = ""
	schemeBearer  = "bearerAuth"
	schemeService = "serviceKey"
)

// securedOperations reports, by operation name (the operationId with a capital first letter,
// which is also the RPC's name), the security scheme openapi.yaml requires for it (its own
// security, or the document's when it has none): schemeNone, schemeBearer or schemeService.
func securedOperations() (map[string]string, error) {
	spec, err := restapi.GetSpec()
	if err != nil {
		return nil, err
	}
	secured := map[string]string{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			scheme := schemeNone
			for _, req := range sec {
				for name := range req {
					scheme = name
				}
			}
			if scheme != schemeNone && scheme != schemeBearer && scheme != schemeService {
				return nil, fmt.Errorf("server: operation %s uses the unknown security scheme %q", op.OperationID, scheme)
			}
			secured[operationName(op.OperationID)] = scheme
		}
	}
	return secured, nil
}

// operationName is the one name of an operation: operationId login, RPC Login, name Login.
func operationName(operationID string) string {
	r, n := utf8.DecodeRuneInString(operationID)
	return string(unicode.ToUpper(r)) + operationID[n:]
}

type servicePrincipalKey struct{}

// servicePrincipal is the service authenticated at the edge, or the zero ServicePrincipal.
func servicePrincipal(ctx context.Context) auth.ServicePrincipal {
	p, _ := ctx.Value(servicePrincipalKey{}).(auth.ServicePrincipal)
	return p
}

// authenticate resolves the credential the scheme asks for and puts its principal in ctx.
// token is the user's session token (the bearer header's, or the dashboard's cookie).
func authenticate(ctx context.Context, a *auth.Service, scheme string, h http.Header, token string) (context.Context, error) {
	switch scheme {
	case schemeNone:
		return ctx, nil
	case schemeService:
		sp, err := a.AuthenticateService(ctx, bearerToken(h))
		if err != nil {
			return nil, err
		}
		return context.WithValue(ctx, servicePrincipalKey{}, sp), nil
	default:
		p, err := a.Authenticate(ctx, token)
		if err != nil {
			return nil, err
		}
		return withPrincipal(ctx, p), nil
	}
}

// authenticateREST authenticates every secured REST operation with its scheme.
func authenticateREST(a *auth.Service, secured map[string]string) restapi.StrictMiddlewareFunc {
	return func(f restapi.StrictHandlerFunc, op string) restapi.StrictHandlerFunc {
		scheme := secured[operationName(op)]
		if scheme == schemeNone {
			return f
		}
		return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
			// REST takes only the bearer header: the dashboard's cookie is for RPCs.
			ctx, err := authenticate(ctx, a, scheme, r.Header, bearerToken(r.Header))
			if err != nil {
				return nil, err
			}
			return f(ctx, w, r, req)
		}
	}
}

// authenticateRPC authenticates every RPC with its operation's scheme; an RPC the contract
// does not list needs a user's token, from the bearer header or else the dashboard's cookie.
func authenticateRPC(a *auth.Service, secured map[string]string, cookies sessionCookies) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			proc := req.Spec().Procedure
			scheme, known := secured[proc[strings.LastIndexByte(proc, '/')+1:]]
			if !known {
				scheme = schemeBearer
			}
			token := bearerToken(req.Header())
			if token == "" {
				token = cookies.token(req.Header())
			}
			ctx, err := authenticate(ctx, a, scheme, req.Header(), token)
			if err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}
