package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// asset is the path of one hashed file the build wrote under dist/assets.
func asset(t *testing.T, suffix string) string {
	t.Helper()
	entries, err := fs.ReadDir(dist, "dist/assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			return "/assets/" + e.Name()
		}
	}
	t.Fatalf("no %s asset in dist/assets", suffix)
	return ""
}

func TestIndexAndDeepLinksServeTheAppUncached(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html", "/sign-in", "/reset-password?token=rst_abc", "/verify-email?token=vfy_x", "/security", "/no/such/page", "/assets"} {
		w := get(t, h, http.MethodGet, p)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
		if csp := w.Header().Get("Content-Security-Policy"); csp != CSP {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		if !strings.Contains(w.Body.String(), `<div id="app">`) {
			t.Errorf("GET %s: not the app's page: %.200s", p, w.Body.String())
		}
	}
	if w := get(t, h, http.MethodHead, "/account"); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestHashedAssetsAreImmutable(t *testing.T) {
	h := Handler()
	for _, suffix := range []string{".js", ".css"} {
		p := asset(t, suffix)
		w := get(t, h, http.MethodGet, p)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
		if strings.Contains(w.Body.String(), `<div id="app">`) {
			t.Errorf("GET %s answered the page", p)
		}
	}
	// A hashed asset of an older build is a real 404, not HTML under a script's name.
	if w := get(t, h, http.MethodGet, "/assets/index-old.js"); w.Code != http.StatusNotFound {
		t.Errorf("missing asset: %d", w.Code)
	}
	// Files outside assets/ (the icon) have stable names: revalidated.
	if w := get(t, h, http.MethodGet, "/favicon.svg"); w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("favicon: %d %q", w.Code, w.Header().Get("Cache-Control"))
	}
}

// The page is built for a strict CSP: no inline script or style in it.
func TestPageNeedsNoInlineScriptOrStyle(t *testing.T) {
	index, err := fs.ReadFile(dist, "dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(index)
	for _, bad := range []string{"<style", "style=", "<script>", "onload=", "onclick=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	if strings.Count(page, "<script") != 1 || !strings.Contains(page, `<script type="module" crossorigin src="/assets/`) {
		t.Errorf("index.html should load exactly one module script from /assets/: %s", page)
	}
	for _, d := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(CSP, d) {
			t.Errorf("CSP lacks %s", d)
		}
	}
}

func TestOwns(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/sign-in": true, "/reset-password": true, "/assets/x.js": true, "/device": true,
		"/api": false, "/api/": false, "/api/auth/me": false, "/api/nope": false,
		"/panguard.auth.v1.AuthService/Me": false, "/grpc.health.v1.Health/Check": false,
		"/.well-known/jwks.json": false, "/.well-known/nope": false, "/healthz": false, "/readyz": false,
		"/metrics": false, "/oauth/token": false,
	} {
		if got := Owns(p); got != want {
			t.Errorf("Owns(%q) = %v, want %v", p, got, want)
		}
	}
}

// /docs is the API reference page: Swagger UI from this binary's own assets, under the CSP,
// with no inline script or style, reading the contract from /api/openapi.yaml.
func TestDocsPageIsServedWithItsAssetsUnderTheCSP(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/docs", "/docs/", "/docs/index.html"} {
		w := get(t, h, http.MethodGet, p)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %s", p, w.Code, w.Header().Get("Content-Type"))
		}
		if csp := w.Header().Get("Content-Security-Policy"); csp != DocsCSP || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		body := w.Body.String()
		if strings.Contains(body, `<div id="app">`) || !strings.Contains(body, "API reference") {
			t.Fatalf("GET %s: not the docs page: %.300s", p, body)
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script>") || strings.Contains(body, "://") {
			t.Errorf("GET %s: inline script or style, or another origin, in %s", p, body)
		}
	}
	body := get(t, h, http.MethodGet, "/docs").Body.String()
	refs := regexp.MustCompile(`(?:src|href)="(/assets/docs-[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) != 4 {
		t.Fatalf("docs page references %d assets, want the Swagger UI bundle and CSS and the page's own script and CSS: %s", len(refs), body)
	}
	for _, m := range refs {
		w := get(t, h, http.MethodGet, m[1])
		if w.Code != http.StatusOK || w.Body.Len() == 0 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d, %d bytes, Cache-Control %q", m[1], w.Code, w.Body.Len(), w.Header().Get("Cache-Control"))
		}
	}
	if start := get(t, h, http.MethodGet, refs[3][1]).Body.String(); !strings.Contains(start, `url: "/api/openapi.yaml"`) {
		t.Errorf("the start-up script does not read /api/openapi.yaml: %s", start)
	}
	if !Owns("/docs") || Owns("/api/openapi.yaml") {
		t.Error("the dashboard must answer /docs and never the contract's own path")
	}
}
