// Package dashboard serves the browser dashboard: the single-page app built from web/ (Vite,
// TypeScript) into dist/, which is committed and embedded, so building and running the service
// needs no Node.js. `make generate` rebuilds dist/; CI fails when it is stale.
package dashboard

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// CSP is the Content-Security-Policy of every dashboard page: only this origin's scripts,
// styles and connections, no inline script or style attribute, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// DocsCSP is the Content-Security-Policy of the API reference at /docs (Swagger UI, served
// from dist like the app). It is CSP itself: Swagger UI runs with no inline script or style
// and reads the contract from this origin (/api/openapi.yaml); a browser test holds it to that.
const DocsCSP = CSP

// reserved are the path prefixes the dashboard never answers: the API, RPC, discovery and
// operations endpoints keep their own 404 and 405 answers.
var reserved = []string{"/api/", "/panguard.auth.v1.", "/grpc.", "/.well-known/", "/oauth/"}

var reservedExact = []string{"/healthz", "/readyz", "/metrics", "/api", "/oauth"}

// Owns reports whether the dashboard answers path: everything but the reserved API paths.
func Owns(p string) bool {
	for _, r := range reservedExact {
		if p == r {
			return false
		}
	}
	for _, r := range reserved {
		if strings.HasPrefix(p, r) {
			return false
		}
	}
	return true
}

// Handler serves the app: files of dist by path (hashed assets cached for a year, the rest
// revalidated), the API reference page at /docs, and index.html for every other path the app
// owns, so deep links such as /reset-password?token=… load the app. Only GET and HEAD reach it.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		panic("dashboard: dist/index.html is missing; run make generate")
	}
	docs, err := fs.ReadFile(root, "docs/index.html")
	if err != nil {
		panic("dashboard: dist/docs/index.html is missing; run make generate")
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "docs" || name == "docs/index.html" {
			h.Set("Content-Security-Policy", DocsCSP)
			h.Set("Cache-Control", "no-cache")
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, "docs.html", time.Time{}, bytes.NewReader(docs))
			return
		}
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					h.Set("Cache-Control", "no-cache")
				}
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(name, "assets/") {
				// A missing hashed asset is a stale page asking for an old build: a real 404,
				// not the app's HTML under a script's name.
				h.Set("Cache-Control", "no-store")
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
	})
}
