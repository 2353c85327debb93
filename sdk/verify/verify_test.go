package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"panguard.ai/auth/sdk/verify"
)

func TestNewValidatesTheConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  verify.Config
		ok   bool
	}{
		{"an https issuer is enough", verify.Config{Issuer: "https://auth.panguard.ai"}, true},
		{"an http issuer with a port and a trailing slash", verify.Config{Issuer: "http://localhost:3000/"}, true},
		{"no issuer", verify.Config{}, false},
		{"an issuer without a scheme", verify.Config{Issuer: "auth.panguard.ai"}, false},
		{"an ftp issuer", verify.Config{Issuer: "ftp://auth.panguard.ai"}, false},
		{"an issuer with a query", verify.Config{Issuer: "https://auth.panguard.ai?x=1"}, false},
		{"an issuer with credentials", verify.Config{Issuer: "https://u:p@auth.panguard.ai"}, false},
		{"a JWKS URL that is not http(s)", verify.Config{Issuer: "https://a.example", JWKSURL: "file:///etc/jwks"}, false},
		{"a negative refetch interval", verify.Config{Issuer: "https://a.example", RefetchInterval: -time.Second}, false},
		{"introspection without a service key", verify.Config{Issuer: "https://a.example", Introspection: &verify.IntrospectionConfig{}}, false},
		{"introspection with a service key", verify.Config{Issuer: "https://a.example", Introspection: &verify.IntrospectionConfig{ServiceKey: "psk_x"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New(tt.cfg)
			if tt.ok != (err == nil) || tt.ok != (v != nil) {
				t.Fatalf("New = %v, %v; want ok=%v", v, err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, verify.ErrInvalidConfig) {
				t.Fatalf("error %v is not ErrInvalidConfig", err)
			}
		})
	}
}

func TestVerifyAcceptsOnlyGenuineTokens(t *testing.T) {
	iss := newIssuer(t, "k1")
	iss.addKey("k-unpublished", false)
	now := iss.clock.Now()
	pub := iss.privateKey("k1").Public().(ed25519.PublicKey)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)

	// Every forged header below carries a valid Ed25519 signature by the real key: only the
	// check under test can refuse it.
	withHeader := func(k string, val any) func(h, c map[string]any) {
		return func(h, _ map[string]any) { h[k] = val }
	}
	withClaim := func(k string, val any) func(h, c map[string]any) {
		return func(_, c map[string]any) {
			if val == nil {
				delete(c, k)
			} else {
				c[k] = val
			}
		}
	}
	hmacToken := func(secret []byte) string {
		input := encode(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}) + "." + encode(iss.claims())
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64.EncodeToString(m.Sum(nil))
	}
	tampered := func() string {
		tok := iss.token("k1", nil)
		parts := strings.Split(tok, ".")
		c := iss.claims()
		c["sub"] = "usr_admin"
		return parts[0] + "." + encode(c) + "." + parts[2]
	}
	byGolangJWT := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(iss.claims()))
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(iss.privateKey("k1"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	noneToken := encode(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + encode(iss.claims()) + "."

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"a valid token", iss.token("k1", nil), nil},
		{"a valid token signed by golang-jwt", byGolangJWT(), nil},
		{"aud as a one-element array", iss.token("k1", withClaim("aud", []string{"panguard"})), nil},
		{"expired, but within the leeway", iss.token("k1", withClaim("exp", now.Add(-10*time.Second).Unix())), nil},
		{"no nbf nor iat", iss.token("k1", func(_, c map[string]any) { delete(c, "nbf"); delete(c, "iat") }), nil},

		{"alg none without a signature", noneToken, verify.ErrInvalidToken},
		{"alg none with a valid signature", iss.token("k1", withHeader("alg", "none")), verify.ErrInvalidToken},
		{"HS256 with the public key as the HMAC secret", hmacToken(pub), verify.ErrInvalidToken},
		{"HS256 with the JWKS x as the HMAC secret", hmacToken([]byte(b64.EncodeToString(pub))), verify.ErrInvalidToken},
		{"RS256 header", iss.token("k1", withHeader("alg", "RS256")), verify.ErrInvalidToken},
		{"ES256 header", iss.token("k1", withHeader("alg", "ES256")), verify.ErrInvalidToken},
		{"alg in lower case", iss.token("k1", withHeader("alg", "eddsa")), verify.ErrInvalidToken},
		{"alg missing", iss.token("k1", func(h, _ map[string]any) { delete(h, "alg") }), verify.ErrInvalidToken},
		{"jku header", iss.token("k1", withHeader("jku", "https://evil.example/jwks.json")), verify.ErrInvalidToken},
		{"x5u header", iss.token("k1", withHeader("x5u", "https://evil.example/cert.pem")), verify.ErrInvalidToken},
		{"jwk header", iss.token("k1", withHeader("jwk", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)})), verify.ErrInvalidToken},
		{"x5c header", iss.token("k1", withHeader("x5c", []string{"MIIB"})), verify.ErrInvalidToken},
		{"crit header", iss.token("k1", withHeader("crit", []string{"exp"})), verify.ErrInvalidToken},
		{"typ not JWT", iss.token("k1", withHeader("typ", "at+jwt")), verify.ErrInvalidToken},
		{"kid missing", iss.token("k1", func(h, _ map[string]any) { delete(h, "kid") }), verify.ErrInvalidToken},
		{"kid not a string", iss.token("k1", withHeader("kid", 1)), verify.ErrInvalidToken},
		{"kid unknown", iss.token("k-unpublished", nil), verify.ErrUnknownKey},
		{"signed by another key under a known kid", sign(stranger, map[string]any{"alg": "EdDSA", "kid": "k1"}, iss.claims()), verify.ErrInvalidToken},
		{"tampered payload", tampered(), verify.ErrInvalidToken},
		{"wrong iss", iss.token("k1", withClaim("iss", "https://evil.example")), verify.ErrInvalidToken},
		{"iss with a trailing slash", iss.token("k1", withClaim("iss", iss.URL+"/")), verify.ErrInvalidToken},
		{"iss missing", iss.token("k1", withClaim("iss", nil)), verify.ErrInvalidToken},
		{"wrong aud", iss.token("k1", withClaim("aud", "billing")), verify.ErrInvalidToken},
		{"aud array without panguard", iss.token("k1", withClaim("aud", []string{"billing"})), verify.ErrInvalidToken},
		{"aud missing", iss.token("k1", withClaim("aud", nil)), verify.ErrInvalidToken},
		{"expired beyond the leeway", iss.token("k1", withClaim("exp", now.Add(-31*time.Second).Unix())), verify.ErrExpired},
		{"exp missing", iss.token("k1", withClaim("exp", nil)), verify.ErrInvalidToken},
		{"exp a string", iss.token("k1", withClaim("exp", fmt.Sprint(now.Add(time.Hour).Unix()))), verify.ErrInvalidToken},
		{"not yet valid", iss.token("k1", withClaim("nbf", now.Add(time.Minute).Unix())), verify.ErrNotYetValid},
		{"issued in the future", iss.token("k1", withClaim("iat", now.Add(time.Minute).Unix())), verify.ErrNotYetValid},
		{"sub missing", iss.token("k1", withClaim("sub", nil)), verify.ErrInvalidToken},
		{"sid missing", iss.token("k1", withClaim("sid", nil)), verify.ErrInvalidToken},
		{"sid empty", iss.token("k1", withClaim("sid", "")), verify.ErrInvalidToken},
		{"two parts", "eyJhbGciOiJFZERTQSJ9.e30", verify.ErrInvalidToken},
		{"four parts", iss.token("k1", nil) + ".x", verify.ErrInvalidToken},
		{"padded base64", iss.token("k1", nil) + "==", verify.ErrInvalidToken},
		{"empty", "", verify.ErrMissingToken},
		{"huge", strings.Repeat("a", 9000), verify.ErrInvalidToken},
	}
	v := iss.verifier(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.UserID != "usr_ada" || c.SessionID != "ses_1" || c.ExpiresAt.IsZero() || c.Introspected {
					t.Fatalf("Caller = %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.want)
			}
			if c != (verify.Caller{}) {
				t.Fatalf("a refused token gave a Caller: %+v", c)
			}
		})
	}
}

func TestConfiguredAudienceAndLeeway(t *testing.T) {
	iss := newIssuer(t, "k1")
	now := iss.clock.Now()
	billing := iss.token("k1", func(_, c map[string]any) { c["aud"] = []string{"billing", "panguard"} })
	late := iss.token("k1", func(_, c map[string]any) { c["aud"] = "billing"; c["exp"] = now.Add(-5 * time.Second).Unix() })

	v := iss.verifier(t, func(c *verify.Config) { c.Audience = "billing"; c.Leeway = -1 })
	if _, err := v.Verify(context.Background(), billing); err != nil {
		t.Fatalf("a token for billing, verified for billing: %v", err)
	}
	if _, err := v.Verify(context.Background(), iss.token("k1", nil)); !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("a panguard-only token, verified for billing: %v", err)
	}
	if _, err := v.Verify(context.Background(), late); !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("5 s late without leeway: %v", err)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	iss := newIssuer(t, "k1")
	v := iss.verifier(t, nil)
	tok := iss.token("k1", func(_, c map[string]any) { c["exp"] = iss.clock.Now().Add(time.Minute).Unix() })
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	iss.clock.Add(time.Minute + 29*time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	iss.clock.Add(time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("the cached token past exp+leeway: %v", err)
	}
	if n := iss.jwksHits.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
}

func TestKeyRotation(t *testing.T) {
	iss := newIssuer(t, "k1")
	iss.jwksDelay = 20 * time.Millisecond // so that the bursts below overlap the fetch
	v := iss.verifier(t, nil)
	ctx := context.Background()
	burst := func(tok string) (errs []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := v.Verify(ctx, tok)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
		wg.Wait()
		return errs
	}
	allAre := func(errs []error, want error) bool {
		for _, err := range errs {
			if !errors.Is(err, want) && !(want == nil && err == nil) {
				return false
			}
		}
		return len(errs) > 0
	}

	if _, err := v.Verify(ctx, iss.token("k1", nil)); err != nil {
		t.Fatal(err)
	}
	t.Run("a new kid in the JWKS is fetched once", func(t *testing.T) {
		iss.addKey("k2", true)
		iss.clock.Add(2 * time.Minute)
		if errs := burst(iss.token("k2", nil)); !allAre(errs, nil) {
			t.Fatalf("tokens of the new key: %v", errs)
		}
		if n := iss.jwksHits.Load(); n != 2 {
			t.Fatalf("%d JWKS fetches, want 2", n)
		}
	})
	t.Run("unknown kids within the refetch interval cause no fetch", func(t *testing.T) {
		iss.addKey("k3", false)
		iss.clock.Add(59 * time.Second)
		if errs := burst(iss.token("k3", nil)); !allAre(errs, verify.ErrUnknownKey) {
			t.Fatalf("tokens of an unpublished key: %v", errs)
		}
		if n := iss.jwksHits.Load(); n != 2 {
			t.Fatalf("%d JWKS fetches, want still 2", n)
		}
	})
	t.Run("a burst of unknown kids causes one fetch per interval", func(t *testing.T) {
		iss.clock.Add(time.Second)
		if errs := burst(iss.token("k3", nil)); !allAre(errs, verify.ErrUnknownKey) {
			t.Fatalf("tokens of an unpublished key: %v", errs)
		}
		if n := iss.jwksHits.Load(); n != 3 {
			t.Fatalf("%d JWKS fetches, want 3", n)
		}
		if _, err := v.Verify(ctx, iss.token("k1", nil)); err != nil {
			t.Fatalf("the known key still works: %v", err)
		}
	})
	t.Run("a retired key stops working once the set is stale and refetched", func(t *testing.T) {
		old := iss.token("k1", func(_, c map[string]any) { c["exp"] = iss.clock.Now().Add(time.Hour).Unix() })
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatal(err)
		}
		iss.publish("k2")
		iss.clock.Add(5 * time.Minute) // the max-age the fake JWKS sends
		if _, err := v.Verify(ctx, old); !errors.Is(err, verify.ErrUnknownKey) {
			t.Fatalf("a cached token of a retired key: %v", err)
		}
		if _, err := v.Verify(ctx, iss.token("k2", nil)); err != nil {
			t.Fatalf("the current key: %v", err)
		}
		if n := iss.jwksHits.Load(); n != 4 {
			t.Fatalf("%d JWKS fetches, want 4", n)
		}
	})
}

func TestVerifyFailsClosedWhenTheKeysAreUnreachable(t *testing.T) {
	usable := func(f *fakeIssuer) string {
		return b64.EncodeToString(f.privateKey("k1").Public().(ed25519.PublicKey))
	}
	tests := []struct {
		name string
		jwks func(f *fakeIssuer) http.HandlerFunc
	}{
		{"500", func(*fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }
		}},
		{"404", func(*fakeIssuer) http.HandlerFunc { return http.NotFound }},
		{"garbage", func(*fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>hello</html>")) }
		}},
		{"no keys", func(*fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }
		}},
		{"only an RSA key", func(*fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`))
			}
		}},
		{"a 31-byte x", func(*fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintf(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`, b64.EncodeToString(make([]byte, 31)))
			}
		}},
		{"the key marked for HS256", func(f *fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintf(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"HS256","x":%q}]}`, usable(f))
			}
		}},
		{"the kid published with two keys", func(f *fakeIssuer) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintf(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q},{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`,
					usable(f), b64.EncodeToString(make([]byte, 32)))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, "k1")
			tok := iss.token("k1", nil)
			iss.setJWKS(tt.jwks(iss))
			v := iss.verifier(t, nil)
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verify.ErrKeysUnavailable) {
				t.Fatalf("Verify: %v, want ErrKeysUnavailable", err)
			}
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, verify.ErrKeysUnavailable) || iss.jwksHits.Load() != 1 {
				t.Fatalf("at once again: %v after %d fetches, want the same error without a fetch", err, iss.jwksHits.Load())
			}
			iss.setJWKS(nil)
			iss.clock.Add(time.Second)
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("after the outage: %v", err)
			}
		})
	}
}

func TestVerifyGivesUpOnAHangingJWKS(t *testing.T) {
	iss := newIssuer(t, "k1")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	iss.setJWKS(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	tok := iss.token("k1", nil)

	t.Run("within the HTTP client's timeout", func(t *testing.T) {
		v := iss.verifier(t, func(c *verify.Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} })
		start := time.Now()
		_, err := v.Verify(context.Background(), tok)
		if !errors.Is(err, verify.ErrKeysUnavailable) {
			t.Fatalf("Verify: %v", err)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("within the caller's context", func(t *testing.T) {
		v := iss.verifier(t, func(c *verify.Config) { c.HTTPClient = &http.Client{} })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := v.Verify(ctx, tok)
		if !errors.Is(err, verify.ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func TestTokenCacheIsBounded(t *testing.T) {
	iss := newIssuer(t, "k1")
	v := iss.verifier(t, func(c *verify.Config) { c.TokenCacheSize = 10 })
	first := iss.token("k1", func(_, c map[string]any) { c["sid"] = "ses_first" })
	if _, err := v.Verify(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		tok := iss.token("k1", func(_, c map[string]any) { c["sid"] = fmt.Sprint("ses_", i) })
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := verify.TokenCacheLen(v); n > 10 {
		t.Fatalf("%d cached tokens, bound 10", n)
	}
	if _, err := v.Verify(context.Background(), first); err != nil {
		t.Fatalf("an evicted token is verified again: %v", err)
	}
}
