// Package verify checks Panguard Auth session tokens inside other services, without a
// shared secret: tokens are Ed25519-signed JWTs (JWS compact form, alg EdDSA) whose public
// keys the auth service publishes at {issuer}/.well-known/jwks.json.
//
// A Verifier checks a token offline (signature, algorithm, headers, iss, aud, exp, nbf, iat,
// sub, sid) against keys it fetches lazily and caches, refetching on an unknown kid at most
// once per RefetchInterval. Optionally it also asks the auth service whether the session is
// still active (introspection, with a service key), which catches revocation and suspension
// before the token expires and adds the caller's email, tier and machine limit.
//
// It fails closed: when the keys or the introspection endpoint cannot be reached, Verify
// returns an error (ErrKeysUnavailable, ErrIntrospectionUnavailable), never a Caller.
//
//	v, err := verify.New(verify.Config{Issuer: "https://auth.panguard.ai"})
//	…
//	mux.Handle("GET /whoami", v.Middleware(whoami))
//	// in whoami: caller, _ := verify.CallerFrom(r.Context())
package verify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultAudience is Config.Audience's default: the aud of every Panguard session token.
	DefaultAudience = "panguard"
	// DefaultHTTPTimeout is the timeout of the default HTTP client, and the bound on each
	// fetch when Config.HTTPClient has no Timeout.
	DefaultHTTPTimeout = 5 * time.Second
	// DefaultLeeway is Config.Leeway's default.
	DefaultLeeway = 30 * time.Second
	// DefaultRefetchInterval is Config.RefetchInterval's default.
	DefaultRefetchInterval = time.Minute
	// DefaultTokenCacheSize is Config.TokenCacheSize's default.
	DefaultTokenCacheSize = 10_000
	// DefaultIntrospectTTL is IntrospectionConfig.CacheTTL's default.
	DefaultIntrospectTTL = 10 * time.Second
)

// Config configures New. Only Issuer is required.
type Config struct {
	// Issuer is the auth service's public URL, e.g. "https://auth.panguard.ai" or
	// "http://localhost:3000"; tokens must carry it as iss (trailing slashes are removed
	// here, since the service writes iss without one). Required; http or https only.
	Issuer string

	// Audience the token's aud must contain. Default "panguard".
	Audience string

	// JWKSURL is where the public keys are fetched. Default Issuer + "/.well-known/jwks.json".
	JWKSURL string

	// HTTPClient fetches the keys and calls introspection. Default: a client with a 5 s
	// timeout. Every fetch is also bounded by the client's Timeout (5 s when it has none).
	HTTPClient *http.Client

	// Leeway tolerated on exp, nbf and iat for clock skew. Zero means the default, 30 s; a
	// negative value means no leeway.
	Leeway time.Duration

	// RefetchInterval is the minimum time between two fetches of the key set triggered by a
	// token with an unknown kid (or by a key set older than its Cache-Control max-age).
	// Concurrent callers share one fetch. Zero means the default, one minute; negative is
	// an error. After a failed fetch with no keys known at all, the next attempt may come
	// after min(RefetchInterval, 1 s). A key set older than its max-age (but at least
	// RefetchInterval) is refetched, so a key the issuer retires stops being accepted;
	// while that refetch fails, the keys already known keep working.
	RefetchInterval time.Duration

	// TokenCacheSize bounds the cache of already verified tokens (keyed by the exact token
	// string; exp, nbf and iat are checked again on every hit, so a cached token still
	// expires). Zero means the default, 10 000 tokens; negative disables the cache.
	TokenCacheSize int

	// Introspection, when set, makes Verify also ask the auth service whether the session is
	// still active. Nil: offline verification only.
	Introspection *IntrospectionConfig

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// IntrospectionConfig configures the online check of Config.Introspection.
type IntrospectionConfig struct {
	// URL of the endpoint. Default Issuer + "/api/auth/introspect".
	URL string

	// ServiceKey ("psk_…") authenticates this service to the auth service. Required.
	ServiceKey string

	// CacheTTL is how long an answer (active or not) is reused for the same token. Zero means
	// the default, 10 s; a negative value disables caching (one request per Verify). A
	// revocation takes effect here at most CacheTTL late.
	CacheTTL time.Duration
}

// Caller is the authenticated caller of a request.
type Caller struct {
	UserID    string    // the token's sub ("usr_…")
	SessionID string    // the token's sid ("ses_…")
	ExpiresAt time.Time // the token's exp

	// Introspected is true when the auth service confirmed the session is active; the
	// fields below are only set then.
	Introspected bool
	Email        string
	Tier         string
	MachineLimit *int // nil: unlimited
}

// Verifier checks tokens of one issuer. It is safe for concurrent use; create one per
// process (it holds the key set and the caches) with New.
type Verifier struct {
	issuer, audience, jwksURL string
	client                    *http.Client
	timeout                   time.Duration // bound on every fetch
	leeway, refetch           time.Duration
	now                       func() time.Time

	verified *boundedCache[verifiedToken]

	keys        atomic.Pointer[keySet]
	mu          sync.Mutex // guards the fields below
	lastAttempt time.Time  // of the last key-set fetch
	lastErr     error      // of the last key-set fetch, nil if it succeeded
	inflight    *flight[*keySet]

	intro *introspector // nil: offline only
}

// New returns a Verifier for cfg. It does no I/O: the keys are fetched by the first Verify.
//
// Errors: ErrInvalidConfig (wrapped, with the reason).
func New(cfg Config) (*Verifier, error) {
	iss := strings.TrimRight(cfg.Issuer, "/")
	if err := checkURL("Issuer", iss); err != nil {
		return nil, err
	}
	v := &Verifier{
		issuer: iss, audience: cfg.Audience, jwksURL: cfg.JWKSURL, client: cfg.HTTPClient,
		leeway: cfg.Leeway, refetch: cfg.RefetchInterval, now: cfg.Now,
	}
	if v.audience == "" {
		v.audience = DefaultAudience
	}
	if v.jwksURL == "" {
		v.jwksURL = iss + "/.well-known/jwks.json"
	} else if err := checkURL("JWKSURL", v.jwksURL); err != nil {
		return nil, err
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	v.timeout = v.client.Timeout
	if v.timeout <= 0 {
		v.timeout = DefaultHTTPTimeout
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	switch {
	case v.refetch == 0:
		v.refetch = DefaultRefetchInterval
	case v.refetch < 0:
		return nil, fmt.Errorf("%w: RefetchInterval must not be negative", ErrInvalidConfig)
	}
	if v.now == nil {
		v.now = time.Now
	}
	size := cfg.TokenCacheSize
	if size == 0 {
		size = DefaultTokenCacheSize
	}
	v.verified = newBoundedCache[verifiedToken](size)
	if ic := cfg.Introspection; ic != nil {
		in := &introspector{url: ic.URL, serviceKey: ic.ServiceKey, ttl: ic.CacheTTL}
		if in.url == "" {
			in.url = iss + "/api/auth/introspect"
		} else if err := checkURL("Introspection.URL", in.url); err != nil {
			return nil, err
		}
		if in.serviceKey == "" {
			return nil, fmt.Errorf("%w: Introspection.ServiceKey is required", ErrInvalidConfig)
		}
		if in.ttl == 0 {
			in.ttl = DefaultIntrospectTTL
		}
		cacheSize := size
		if in.ttl < 0 {
			cacheSize = 0
		}
		in.cache = newBoundedCache[introAnswer](cacheSize)
		v.intro = in
	}
	return v, nil
}

func checkURL(field, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalidConfig, field)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, field, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s must be an http(s) URL without credentials, query or fragment, got %q", ErrInvalidConfig, field, s)
	}
	return nil
}

// Verify checks token and returns its Caller: offline first (see the package comment),
// then, when Config.Introspection is set, with the auth service. ctx bounds any fetch this
// call waits for.
//
// Errors (wrapped, compare with errors.Is): ErrMissingToken (empty token), ErrInvalidToken,
// ErrExpired, ErrNotYetValid, ErrUnknownKey, ErrKeysUnavailable; with introspection also
// ErrRevoked, ErrIntrospectionUnavailable, ErrServiceKeyRejected.
func (v *Verifier) Verify(ctx context.Context, token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrMissingToken
	}
	now := v.now()
	vt, ok := v.verified.get(token)
	if ok && v.keys.Load().current(vt.key, now) {
		if err := v.checkTimes(vt.times, now); err != nil {
			return Caller{}, err
		}
	} else {
		var err error
		if vt, err = v.verifyOffline(ctx, token, now); err != nil {
			return Caller{}, err
		}
		v.verified.put(token, vt)
	}
	if v.intro == nil {
		return vt.caller, nil
	}
	return v.intro.check(ctx, v, token, vt.caller, now)
}

type callerKey struct{}

// WithCaller returns a copy of ctx carrying c (what Middleware and Interceptor do; useful
// in tests of handlers).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller that Middleware, Interceptor or WithCaller put in ctx, and
// false if there is none.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
