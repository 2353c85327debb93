package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"panguard.ai/auth/internal/auth"
)

// The OAuth endpoints (RFC 8628 device authorization grant, RFC 8414 metadata) speak plain
// OAuth — form-encoded requests, snake_case answers, RFC 6749 §5.2 error bodies — so standard
// clients such as golang.org/x/oauth2 work unchanged. They are in openapi.yaml under the
// `oauth` tag, which oapi-codegen leaves out (its strict server speaks the envelope); this
// small handler decodes, calls the domain and encodes, like the generated adapters.

// oauthRoutes are the paths oauthHandlers serves, with their methods (for the 405 answers).
var oauthRoutes = map[string][]string{
	"/oauth/device_authorization":             {http.MethodPost},
	"/oauth/token":                            {http.MethodPost},
	"/.well-known/oauth-authorization-server": {http.MethodGet, http.MethodHead},
}

// oauthOperations names the OAuth operations by "METHOD /path", as operationRoutes names the
// generated ones, so metrics and logs label them (the names are their operationIds').
var oauthOperations = map[string]string{
	"POST /oauth/device_authorization":            "DeviceAuthorization",
	"POST /oauth/token":                           "DeviceToken",
	"GET /.well-known/oauth-authorization-server": "OauthMetadata",
}

// oauthHandlers mounts the OAuth endpoints on mux.
func oauthHandlers(a *auth.Service, mux *http.ServeMux, log *slog.Logger, mt *metrics) {
	o := oauthServer{auth: a, log: log, metrics: mt}
	mux.HandleFunc("POST /oauth/device_authorization", o.deviceAuthorization)
	mux.HandleFunc("POST /oauth/token", o.deviceToken)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", o.metadata)
}

type oauthServer struct {
	auth    *auth.Service
	log     *slog.Logger
	metrics *metrics
}

// oauthErrorBody is RFC 6749 §5.2's error answer.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// RFC 6749 §5.1: answers carrying tokens (and their errors) are never cached.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail writes err as an OAuth error: the domain's OAuth errors as they are (401 for
// invalid_client, else 400), rate limits as 429 slow_down with Retry-After, the rest through
// the one error table's statuses with the nearest OAuth code.
func (o oauthServer) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		status := http.StatusBadRequest
		if oe.Code == auth.OAuthInvalidClient {
			status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Basic realm="panguard"`)
		}
		o.metrics.failures.WithLabelValues(op, oe.Code).Inc()
		writeOAuthJSON(w, status, oauthErrorBody{Error: oe.Code, Description: oe.Description})
		return
	}
	e, m := publicError(r.Context(), o.log, err)
	o.metrics.failures.WithLabelValues(op, string(e.Code)).Inc()
	code := "server_error"
	switch e.Kind {
	case auth.KindRateLimited:
		code = auth.OAuthSlowDown
	case auth.KindUnavailable:
		code = "temporarily_unavailable"
	case auth.KindInvalid:
		code = auth.OAuthInvalidRequest
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeOAuthJSON(w, m.status, oauthErrorBody{Error: code, Description: e.Message})
}

// form reads a form-encoded body of at most MaxBodyBytes. It writes the error itself and
// reports false when the request is not one.
func (o oauthServer) form(w http.ResponseWriter, r *http.Request, op string) (url.Values, bool) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		o.metrics.failures.WithLabelValues(op, auth.OAuthInvalidRequest).Inc()
		writeOAuthJSON(w, http.StatusUnsupportedMediaType, oauthErrorBody{Error: auth.OAuthInvalidRequest, Description: "The body must be application/x-www-form-urlencoded"})
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		status, desc := http.StatusBadRequest, "The body is not a valid form"
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status, desc = http.StatusRequestEntityTooLarge, "The body is larger than 64 KiB"
		}
		o.metrics.failures.WithLabelValues(op, auth.OAuthInvalidRequest).Inc()
		writeOAuthJSON(w, status, oauthErrorBody{Error: auth.OAuthInvalidRequest, Description: desc})
		return nil, false
	}
	// Only the body counts (RFC 6749 §3.2: parameters in the query are not the request's).
	return r.PostForm, true
}

// clientID is the client_id of the body or, for clients that send it as HTTP Basic
// authentication with an empty secret (RFC 6749 §2.3.1), of the Authorization header.
func clientID(r *http.Request, f url.Values) string {
	if id := f.Get("client_id"); id != "" {
		return id
	}
	if user, pass, ok := r.BasicAuth(); ok && pass == "" {
		if id, err := url.QueryUnescape(user); err == nil {
			return id
		}
	}
	return ""
}

// deviceAuthorization implements operation deviceAuthorization (RFC 8628 §3.1-3.2).
func (o oauthServer) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	const op = "DeviceAuthorization"
	f, ok := o.form(w, r, op)
	if !ok {
		return
	}
	da, err := o.auth.DeviceAuthorization(r.Context(), auth.DeviceAuthorizationInput{ClientID: clientID(r, f), ClientName: f.Get("client_name")})
	if err != nil {
		o.fail(w, r, op, err)
		return
	}
	writeOAuthJSON(w, http.StatusOK, struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}{da.DeviceCode, da.UserCode, da.VerificationURI, da.VerificationURIComplete, int(da.ExpiresIn.Seconds()), int(da.Interval.Seconds())})
}

// deviceToken implements operation deviceToken (RFC 8628 §3.4-3.5).
func (o oauthServer) deviceToken(w http.ResponseWriter, r *http.Request) {
	const op = "DeviceToken"
	f, ok := o.form(w, r, op)
	if !ok {
		return
	}
	tok, err := o.auth.DeviceToken(r.Context(), auth.DeviceTokenInput{GrantType: f.Get("grant_type"), DeviceCode: f.Get("device_code"), ClientID: clientID(r, f)})
	if err != nil {
		o.fail(w, r, op, err)
		return
	}
	writeOAuthJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}{tok.AccessToken, "Bearer", int(tok.ExpiresIn.Seconds())})
}

// metadata implements operation oauthMetadata (RFC 8414).
func (o oauthServer) metadata(w http.ResponseWriter, r *http.Request) {
	base := o.auth.PublicURL()
	w.Header().Set("Access-Control-Allow-Origin", "*") // a public document
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(struct {
		Issuer                      string   `json:"issuer"`
		DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
		TokenEndpoint               string   `json:"token_endpoint"`
		JWKSURI                     string   `json:"jwks_uri"`
		IntrospectionEndpoint       string   `json:"introspection_endpoint"`
		GrantTypes                  []string `json:"grant_types_supported"`
		ResponseTypes               []string `json:"response_types_supported"`
		TokenAuthMethods            []string `json:"token_endpoint_auth_methods_supported"`
	}{
		Issuer: o.auth.Issuer(), DeviceAuthorizationEndpoint: base + "/oauth/device_authorization",
		TokenEndpoint: base + "/oauth/token", JWKSURI: base + "/.well-known/jwks.json",
		IntrospectionEndpoint: base + "/api/auth/introspect", GrantTypes: []string{auth.DeviceGrantType},
		ResponseTypes: []string{}, TokenAuthMethods: []string{"none"},
	})
}
