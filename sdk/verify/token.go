package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxTokenSize bounds what is parsed at all; the service's tokens are a few hundred bytes.
const maxTokenSize = 8 << 10

var b64 = base64.RawURLEncoding.Strict()

// forbiddenHeaders would let a token choose its own key or extend the rules it is checked
// by; the keys come from the configured JWKS only.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit"}

// verifiedToken is what the token cache keeps of a token that passed verifyOffline.
type verifiedToken struct {
	caller Caller
	times  times
	key    *publicKey // the key that verified it: a hit counts only while it is still published
}

type times struct{ exp, nbf, iat time.Time } // nbf, iat zero when absent

type claims struct {
	Iss string   `json:"iss"`
	Aud audience `json:"aud"`
	Sub string   `json:"sub"`
	Sid string   `json:"sid"`
	Exp *float64 `json:"exp"`
	Nbf *float64 `json:"nbf"`
	Iat *float64 `json:"iat"`
}

// audience is the aud claim: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*a = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// verifyOffline does the whole offline check of a token not in the cache.
func (v *Verifier) verifyOffline(ctx context.Context, token string, now time.Time) (verifiedToken, error) {
	if len(token) > maxTokenSize {
		return verifiedToken{}, invalid("longer than %d bytes", maxTokenSize)
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return verifiedToken{}, invalid("not a compact JWS (three dot-separated parts)")
	}
	kid, err := checkHeader(h64)
	if err != nil {
		return verifiedToken{}, err
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return verifiedToken{}, invalid("signature is not %d bytes of base64url", ed25519.SignatureSize)
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return verifiedToken{}, invalid("payload is not base64url")
	}
	// Only a well-formed EdDSA token reaches the key lookup, which may fetch the key set.
	key, err := v.key(ctx, kid)
	if err != nil {
		return verifiedToken{}, err
	}
	if !ed25519.Verify(key.key, []byte(token[:len(h64)+1+len(p64)]), sig) {
		return verifiedToken{}, invalid("signature does not match key %q", kid)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return verifiedToken{}, invalid("claims: %v", err)
	}
	if c.Iss != v.issuer {
		return verifiedToken{}, invalid("iss %q, want %q", c.Iss, v.issuer)
	}
	found := false
	for _, a := range c.Aud {
		found = found || a == v.audience
	}
	if !found {
		return verifiedToken{}, invalid("aud %q does not contain %q", []string(c.Aud), v.audience)
	}
	if c.Sub == "" || c.Sid == "" {
		return verifiedToken{}, invalid("sub and sid are required")
	}
	var t times
	if t.exp, ok1 = numericDate(c.Exp); !ok1 || t.exp.IsZero() {
		return verifiedToken{}, invalid("exp is required (a NumericDate)")
	}
	if t.nbf, ok1 = numericDate(c.Nbf); !ok1 {
		return verifiedToken{}, invalid("nbf is not a NumericDate")
	}
	if t.iat, ok1 = numericDate(c.Iat); !ok1 {
		return verifiedToken{}, invalid("iat is not a NumericDate")
	}
	if err := v.checkTimes(t, now); err != nil {
		return verifiedToken{}, err
	}
	return verifiedToken{
		caller: Caller{UserID: c.Sub, SessionID: c.Sid, ExpiresAt: t.exp},
		times:  t,
		key:    key,
	}, nil
}

// checkHeader checks the protected header and returns its kid.
func checkHeader(h64 string) (string, error) {
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return "", invalid("header is not base64url")
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", invalid("header is not a JSON object")
	}
	for _, name := range forbiddenHeaders {
		if _, ok := h[name]; ok {
			return "", invalid("header parameter %q is not allowed", name)
		}
	}
	str := func(name string) (string, bool) {
		raw, ok := h[name]
		if !ok {
			return "", false
		}
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	}
	// The algorithm is pinned: the key is an Ed25519 key whatever the header says, and a
	// header saying anything else is refused before any key is looked at.
	if alg, _ := str("alg"); alg != "EdDSA" {
		return "", invalid("alg %s is not allowed (only EdDSA)", h["alg"])
	}
	if _, present := h["typ"]; present {
		if typ, ok := str("typ"); !ok || !strings.EqualFold(typ, "JWT") {
			return "", invalid("typ %s is not JWT", h["typ"])
		}
	}
	kid, ok := str("kid")
	if !ok || kid == "" {
		return "", invalid("kid is required")
	}
	return kid, nil
}

// numericDate converts an optional NumericDate; the zero time when absent, false when out of
// range.
func numericDate(f *float64) (time.Time, bool) {
	if f == nil {
		return time.Time{}, true
	}
	if *f <= 0 || *f > 1e11 { // 1e11 s is the year 5138
		return time.Time{}, false
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// checkTimes applies exp, nbf and iat with the leeway.
func (v *Verifier) checkTimes(t times, now time.Time) error {
	if !now.Before(t.exp.Add(v.leeway)) {
		return fmt.Errorf("%w: at %s", ErrExpired, t.exp.UTC().Format(time.RFC3339))
	}
	if !t.nbf.IsZero() && now.Add(v.leeway).Before(t.nbf) {
		return fmt.Errorf("%w: nbf %s", ErrNotYetValid, t.nbf.UTC().Format(time.RFC3339))
	}
	if !t.iat.IsZero() && now.Add(v.leeway).Before(t.iat) {
		return fmt.Errorf("%w: issued in the future (iat %s)", ErrNotYetValid, t.iat.UTC().Format(time.RFC3339))
	}
	return nil
}
