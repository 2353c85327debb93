package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"panguard.ai/auth/internal/auth"
)

// jwk is one public key in RFC 8037 form (OKP, Ed25519).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// jwksHandler publishes the token-signing public keys at /.well-known/jwks.json. Verifiers
// cache it for five minutes; a new key is published KeyLeadTime (twice that) before it signs.
func jwksHandler(a *auth.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		keys := a.JWKS(r.Context())
		set := struct {
			Keys []jwk `json:"keys"`
		}{Keys: make([]jwk, len(keys))}
		for i, k := range keys {
			set.Keys[i] = jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Key), Kid: k.ID, Alg: "EdDSA", Use: "sig"}
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		// Public keys: any origin may read them.
		h.Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(set)
	}
}
