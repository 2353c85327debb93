package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"panguard.ai/auth/sdk/verify"
)

var b64 = base64.RawURLEncoding

// clock is an injectable, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeIssuer is an auth service as far as a resource server can tell: a JWKS and an
// introspection endpoint, counting the requests they get.
type fakeIssuer struct {
	*httptest.Server
	clock *clock

	mu        sync.Mutex
	keys      map[string]ed25519.PrivateKey // signing keys by kid
	published []string                      // kids in the JWKS, in order
	jwks      http.HandlerFunc              // replaces the JWKS answer when set
	jwksDelay time.Duration
	intro     http.HandlerFunc // replaces the introspection answer when set
	revoked   map[string]bool  // sids introspection calls inactive

	jwksHits, introHits atomic.Int32
}

const serviceKey = "psk_test_good"

func newIssuer(t testing.TB, kids ...string) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{clock: newClock(), keys: map[string]ed25519.PrivateKey{}, revoked: map[string]bool{}}
	for _, kid := range kids {
		f.addKey(kid, true)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		custom, delay := f.jwks, f.jwksDelay
		var doc struct {
			Keys []map[string]string `json:"keys"`
		}
		for _, kid := range f.published {
			doc.Keys = append(doc.Keys, map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
				"kid": kid, "x": b64.EncodeToString(f.keys[kid].Public().(ed25519.PublicKey))})
		}
		f.mu.Unlock()
		time.Sleep(delay)
		if custom != nil {
			custom(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("POST /api/auth/introspect", func(w http.ResponseWriter, r *http.Request) {
		f.introHits.Add(1)
		f.mu.Lock()
		custom := f.intro
		f.mu.Unlock()
		if custom != nil {
			custom(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		var req struct{ Token string }
		if r.Header.Get("Authorization") != "Bearer "+serviceKey || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"ok":false,"error":"invalid service key","code":"unauthenticated"}`))
			return
		}
		c := payload(req.Token)
		f.mu.Lock()
		revoked := f.revoked[c["sid"].(string)]
		f.mu.Unlock()
		if revoked {
			_, _ = w.Write([]byte(`{"ok":true,"data":{"active":false}}`))
			return
		}
		limit := any(10)
		if c["sub"] == "usr_unlimited" {
			limit = nil
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "data": map[string]any{"active": true,
			"sub": c["sub"], "sid": c["sid"], "email": "ada@example.com", "tier": "pro", "machineLimit": limit, "exp": c["exp"]}})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// addKey creates a signing key, published in the JWKS or not yet.
func (f *fakeIssuer) addKey(kid string, publish bool) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = priv
	if publish {
		f.published = append(f.published, kid)
	}
}

func (f *fakeIssuer) publish(kids ...string) {
	f.mu.Lock()
	f.published = kids
	f.mu.Unlock()
}

func (f *fakeIssuer) setJWKS(h http.HandlerFunc) {
	f.mu.Lock()
	f.jwks = h
	f.mu.Unlock()
}

func (f *fakeIssuer) setIntrospection(h http.HandlerFunc) {
	f.mu.Lock()
	f.intro = h
	f.mu.Unlock()
}

func (f *fakeIssuer) revoke(sid string) {
	f.mu.Lock()
	f.revoked[sid] = true
	f.mu.Unlock()
}

func (f *fakeIssuer) privateKey(kid string) ed25519.PrivateKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[kid]
}

// verifier returns a Verifier of f with the fake clock, adjusted by mod.
func (f *fakeIssuer) verifier(t testing.TB, mod func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: f.URL, Now: f.clock.Now, HTTPClient: &http.Client{Timeout: 2 * time.Second}}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claims are a valid token's claims at the fake clock's time.
func (f *fakeIssuer) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{"iss": f.URL, "aud": "panguard", "sub": "usr_ada", "sid": "ses_1",
		"iat": now - 60, "nbf": now - 60, "exp": now + 3600}
}

// token signs a valid token with kid's key, after mod changed its header or claims.
func (f *fakeIssuer) token(kid string, mod func(h, c map[string]any)) string {
	h := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}
	c := f.claims()
	if mod != nil {
		mod(h, c)
	}
	return sign(f.privateKey(kid), h, c)
}

// sign builds a compact JWS signed with Ed25519, whatever header says.
func sign(priv ed25519.PrivateKey, header, claims map[string]any) string {
	input := encode(header) + "." + encode(claims)
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)
}

// payload decodes a token's claims without checking anything.
func payload(token string) map[string]any {
	parts := strings.Split(token, ".")
	var c map[string]any
	if len(parts) == 3 {
		b, _ := b64.DecodeString(parts[1])
		_ = json.Unmarshal(b, &c)
	}
	if c == nil {
		c = map[string]any{}
	}
	if _, ok := c["sid"].(string); !ok {
		c["sid"] = ""
	}
	return c
}
