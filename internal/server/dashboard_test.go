package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"panguard.ai/auth/internal/dashboard"
	"panguard.ai/auth/internal/storetest"
)

// The dashboard answers GET and HEAD of the paths outside the API; the API, RPC, discovery and
// operations endpoints keep their own answers, and unknown ones their JSON 404 envelope.
func TestDashboardNeverShadowsTheAPI(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))

	page := func(method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for _, p := range []string{"/", "/sign-in", "/reset-password?token=rst_x", "/confirm-email?token=eml_x", "/api/auth/../../etc/passwd", "/no/such/page"} {
		res := page(http.MethodGet, p)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(body), `<div id="app">`) {
			t.Fatalf("GET %s: %d %.120s", p, res.StatusCode, body)
		}
		h := res.Header
		if h.Get("Content-Security-Policy") != dashboard.CSP || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", p, h)
		}
	}

	// Unknown API paths, and other methods on page paths: the JSON envelope, as before.
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/nope"}, {"GET", "/api/auth/nope"}, {"GET", "/api"}, {"GET", "/api/admin/nope"},
		{"GET", "/panguard.auth.v1.Nope/X"}, {"GET", "/grpc.nope/X"}, {"GET", "/.well-known/nope"},
		{"GET", "/oauth/nope"}, {"POST", "/sign-in"}, {"POST", "/"}, {"DELETE", "/security"},
	} {
		status, env, _ := rawCall(t, c.method, srv.URL+c.path, "", "")
		if status != 404 || env["code"] != "not_found" {
			t.Errorf("%s %s: %d %v, want the 404 envelope", c.method, c.path, status, env)
		}
	}
	// Known endpoints answer as themselves.
	if status, env, _ := rawCall(t, "GET", srv.URL+"/api/auth/login", "", ""); status != 405 {
		t.Errorf("GET /api/auth/login: %d %v", status, env)
	}
	if status, _, _ := rawCall(t, "GET", srv.URL+"/api/auth/me", "", ""); status != 401 {
		t.Errorf("GET /api/auth/me: %d", status)
	}
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/api/openapi.yaml"} {
		res := page(http.MethodGet, p)
		if res.StatusCode != 200 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	// An unknown method of a mounted RPC service is that service's 404 (Connect's own), not a page.
	if res := page(http.MethodGet, "/panguard.auth.v1.AuthService/Nope"); res.StatusCode != 404 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET an unknown RPC: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res := page(http.MethodPost, "/panguard.auth.v1.AuthService/Me")
	if res.StatusCode == 200 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("Connect Me without a session: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// The API reference page at /docs comes from the dashboard under its CSP and the service's
// security headers; the contract it renders stays at /api/openapi.yaml, as YAML.
func TestDocsPageBesideTheContract(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	res, err := http.Get(srv.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	h := res.Header
	if res.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "/assets/docs-swagger-ui-bundle-") {
		t.Fatalf("GET /docs: %d %s %.200s", res.StatusCode, h.Get("Content-Type"), body)
	}
	if h.Get("Content-Security-Policy") != dashboard.DocsCSP || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /docs: headers %v", h)
	}
	if status, env, _ := rawCall(t, "POST", srv.URL+"/docs", "", ""); status != 404 || env["code"] != "not_found" {
		t.Errorf("POST /docs: %d %v, want the 404 envelope", status, env)
	}
	res, err = http.Get(srv.URL + "/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/yaml" || !strings.Contains(string(spec), "operationId: login") {
		t.Errorf("GET /api/openapi.yaml: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
