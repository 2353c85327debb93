package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/dashboard"
	"panguard.ai/auth/sdk/apitime"
)

// MaxBodyBytes is the largest request body accepted (64 KiB).
const MaxBodyBytes = 64 << 10

// Transport-level reasons, beside the domain's.
const (
	codeInvalidJSON      auth.Code = "invalid_json"
	codeTooLarge         auth.Code = "payload_too_large"
	codeUnsupportedMedia auth.Code = "unsupported_media_type"
	codeNotFound         auth.Code = "not_found"
	codeMethodNotAllowed auth.Code = "method_not_allowed"
)

// limitBody refuses bodies over MaxBodyBytes with 413 and bodies that are not declared as
// JSON (no Content-Type included) with 415.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeEnvelope(w, http.StatusRequestEntityTooLarge, codeTooLarge, "Request body is larger than 64 KiB")
			return
		}
		// A browser sends a cross-site request without a preflight only when its type is
		// text/plain, a form or absent; requiring JSON for every body (a chunked one, of
		// unknown length, too) keeps such requests away from the handlers.
		if hasBody(r) {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				writeEnvelope(w, http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type must be application/json")
				return
			}
		}
		if r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// hasBody reports whether r carries a body. One of unknown length (chunked, or an HTTP/2
// stream left open) is read up to its first byte, which is put back: a proxy may forward a
// bodyless GET that way, and that must not need a Content-Type.
func hasBody(r *http.Request) bool {
	if r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody {
		return r.ContentLength > 0
	}
	var first [1]byte
	n, err := io.ReadFull(r.Body, first[:])
	if n == 0 && err == io.EOF {
		r.Body, r.ContentLength = http.NoBody, 0
		return false
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return true
}

// requestError answers a body that could not be decoded: 413 when it was too large, 400 otherwise,
// with a message that names the problem but not our internals.
func requestError(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeEnvelope(w, http.StatusRequestEntityTooLarge, codeTooLarge, "Request body is larger than 64 KiB")
	case errors.Is(err, io.EOF):
		writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Request body must be a JSON object")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Request body must be a JSON object")
			return
		}
		writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Field "+field+" must be a "+jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, apitime.ErrFormat):
		writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Times must be RFC 3339, such as 2026-03-07T12:00:00Z")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Request body is not valid JSON")
	default:
		writeEnvelope(w, http.StatusBadRequest, codeInvalidJSON, "Request body could not be read as JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

// standardMethods are the methods a known path answers 405 to when it does not serve them
// (a GET pattern also matches HEAD).
var standardMethods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect,
}

// routeFallbacks answers 405 (with Allow) for known paths hit with another method and a
// 404 envelope for everything else, instead of the mux's plain-text pages — except GET and
// HEAD of paths the dashboard owns (every path outside the API, RPC, discovery and operations
// prefixes), which pages answers.
func routeFallbacks(mux *http.ServeMux, routes map[string][]string, pages http.Handler) {
	for path, methods := range routes {
		sort.Strings(methods)
		allow := strings.Join(methods, ", ")
		notAllowed := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeEnvelope(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method "+r.Method+" is not allowed here; use "+allow)
		}
		// One pattern per other method rather than one for the bare path: a bare path would
		// conflict with a sibling's wildcard (POST /sessions/revoke-others, DELETE /sessions/{id}).
		for _, m := range standardMethods {
			if slices.Contains(methods, m) {
				continue
			}
			mux.HandleFunc(m+" "+path, notAllowed)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if pages != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && dashboard.Owns(r.URL.Path) {
			pages.ServeHTTP(w, r)
			return
		}
		writeEnvelope(w, http.StatusNotFound, codeNotFound, "No such endpoint")
	})
}

// bearerToken extracts the token of an "Authorization: Bearer …" header ("" when absent).
func bearerToken(h http.Header) string {
	v := h.Get("Authorization")
	const p = "bearer "
	if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
		return strings.TrimSpace(v[len(p):])
	}
	return ""
}

// recoverPanics turns a panic into a 500 envelope and a log line, never a dropped connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "panic", v, "path", r.URL.Path)
				writeEnvelope(w, http.StatusInternalServerError, auth.CodeInternal, "Internal server error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
