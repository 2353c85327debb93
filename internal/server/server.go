package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"
	"go.yaml.in/yaml/v3"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/dashboard"
	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/internal/store"
)

// handlerDeps is what the HTTP surface is built from.
type handlerDeps struct {
	auth        *auth.Service
	store       *store.Store
	log         *slog.Logger
	metrics     *metrics
	corsOrigins []string
	ips         clientIPs
	hsts        bool
	draining    *atomic.Bool
	timeout     time.Duration
	// metricsElsewhere keeps /metrics off this handler (PANGUARD_METRICS_ADDR serves it).
	metricsElsewhere bool
	// secureCookies marks the dashboard's session cookie Secure (the public URL is https).
	secureCookies bool
}

// newHandler builds the whole HTTP surface of the service on one mux: REST under /api/auth,
// the same operations over Connect, gRPC and gRPC-web, reflection, gRPC health, the spec,
// /healthz, /readyz and /metrics.
func newHandler(d handlerDeps) (http.Handler, error) {
	mux := http.NewServeMux()
	ops, err := operationRoutes()
	if err != nil {
		return nil, err
	}
	for route, name := range oauthOperations {
		ops[route], ops[name] = name, name
	}
	secured, err := securedOperations()
	if err != nil {
		return nil, err
	}
	restHandler(d.auth, mux, secured, func(w http.ResponseWriter, r *http.Request, err error) {
		op, _ := operationOf(ops, r)
		writeError(w, r, d.log, d.metrics, op, err)
	})
	connectHandlers(d.auth, mux, secured, d.log, d.metrics, d.corsOrigins, sessionCookies{secure: d.secureCookies})
	if err := specHandlers(mux); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /.well-known/jwks.json", jwksHandler(d.auth))
	oauthHandlers(d.auth, mux, d.log, d.metrics)
	health(mux, d.metrics, d.store, d.draining, !d.metricsElsewhere)
	routes, err := specRoutes()
	if err != nil {
		return nil, err
	}
	for path, methods := range oauthRoutes {
		routes[path] = methods
	}
	if !d.metricsElsewhere {
		routes["/metrics"] = []string{http.MethodGet, http.MethodHead}
	}
	routeFallbacks(mux, routes, dashboard.Handler())
	h := securityHeaders(d.hsts, restCORS(d.corsOrigins, mux))
	return observe(d.metrics, d.log, ops, d.ips, d.timeout, recoverPanics(d.log, h)), nil
}

// restCORS lets the browser origins in origins call the REST API (under /api/) as they may
// call Connect and gRPC-web: preflights are answered, the answers readable — but never with
// credentials: the API takes bearer tokens, not cookies, cross-origin.
func restCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	c := cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-Id"},
		ExposedHeaders:   []string{"Retry-After", "X-Request-Id", "Content-Disposition"},
		AllowCredentials: false,
		MaxAge:           7200,
	}).Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			c.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// operationRoutes maps "METHOD /path" of each REST operation, and each RPC name, to the
// operation's name (as the RPC spells it).
func operationRoutes() (map[string]string, error) {
	spec, err := restapi.GetSpec()
	if err != nil {
		return nil, err
	}
	ops := map[string]string{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			ops[strings.ToUpper(method)+" "+path] = name
			ops[name] = name
		}
	}
	return ops, nil
}

// clientContext is ctx carrying the client's address (for the domain's rate limits and
// sessions) and its User-Agent (for sessions and the activity log).
func clientContext(ctx context.Context, ips clientIPs, r *http.Request) context.Context {
	ctx = auth.WithClientIP(ctx, ips.of(r.RemoteAddr, r.Header))
	return auth.WithUserAgent(ctx, r.Header.Get("User-Agent"))
}

// specHandlers serves the embedded contract at /api/openapi.yaml and /api/openapi.json, so
// Swagger UI, Prism or client generators can point at a running instance.
func specHandlers(mux *http.ServeMux) error {
	var doc any
	if err := yaml.Unmarshal(restapi.SpecYAML, &doc); err != nil {
		return err
	}
	asJSON, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	serve := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Access-Control-Allow-Origin", "*") // a public document
			w.Write(body)
		}
	}
	mux.Handle("GET /api/openapi.yaml", serve(restapi.SpecYAML, "application/yaml"))
	mux.Handle("GET /api/openapi.json", serve(asJSON, "application/json"))
	return nil
}

// specRoutes lists each path of openapi.yaml with its methods, for the 405 answers.
func specRoutes() (map[string][]string, error) {
	spec, err := restapi.GetSpec()
	if err != nil {
		return nil, err
	}
	routes := map[string][]string{
		"/api/openapi.yaml":      {http.MethodGet, http.MethodHead},
		"/api/openapi.json":      {http.MethodGet, http.MethodHead},
		"/healthz":               {http.MethodGet, http.MethodHead},
		"/readyz":                {http.MethodGet, http.MethodHead},
		"/.well-known/jwks.json": {http.MethodGet, http.MethodHead},
	}
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			routes[path] = append(routes[path], strings.ToUpper(method))
		}
	}
	return routes, nil
}

// securityHeaders sets the headers every response carries (HSTS when served over TLS).
func securityHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if strings.HasPrefix(r.URL.Path, "/api/auth/") || strings.HasPrefix(r.URL.Path, rpcPrefix) {
			// Auth answers carry tokens, secrets and personal data: never cache them.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
