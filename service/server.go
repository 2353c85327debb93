package main

import (
	"log/slog"
	"net/http"
	"strings"

	"panguard.ai/auth/internal/auth"
)

// newHandler builds the whole HTTP surface of the service on one mux.
func newHandler(a *auth.Service, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	restHandler(a, mux, func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, log, err) })
	routes, err := specRoutes()
	if err != nil {
		return nil, err
	}
	routeFallbacks(mux, routes)
	return recoverPanics(log, securityHeaders(mux)), nil
}

// specRoutes lists each path of openapi.yaml with its methods, for the 405 answers.
func specRoutes() (map[string][]string, error) {
	spec, err := GetSwagger()
	if err != nil {
		return nil, err
	}
	routes := map[string][]string{}
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			routes[path] = append(routes[path], strings.ToUpper(method))
		}
	}
	return routes, nil
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/auth/") {
			// Auth answers carry tokens, secrets and personal data: never cache them.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
