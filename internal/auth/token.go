package auth

import (
	"crypto/ed25519"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token claims beyond the registered ones.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// tokens issues EdDSA (Ed25519) JWTs that name a server-side session, and checks them — and,
// until they expire, the HS256 tokens issued before the first Ed25519 key existed.
type tokens struct {
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	keys     atomic.Pointer[keyring]
	parser   *jwt.Parser

	// secret and legacyIssuer check the HS256 tokens of before the switch; nothing new is
	// signed with the secret.
	secret       []byte
	legacyIssuer string

	// verified remembers the claims of tokens whose signature and claims were checked, keyed
	// by the exact token string, so a client's repeated calls skip the signature and JSON
	// work. Only time-dependent checks are redone; revocation is always the store's. Bounded:
	// it is simply emptied when full.
	mu       sync.RWMutex
	verified map[string]*claims
}

const verifiedCacheSize = 50_000

// LegacyIssuer is the iss of the HS256 tokens issued before tokens were signed with Ed25519.
const LegacyIssuer = "panguard-auth"

func newTokens(secret []byte, issuer, audience string, ttl, leeway time.Duration, now func() time.Time) *tokens {
	if now == nil {
		now = time.Now
	}
	return &tokens{
		secret: secret, legacyIssuer: LegacyIssuer, issuer: issuer, audience: audience, ttl: ttl, leeway: leeway, now: now,
		verified: map[string]*claims{},
		parser: jwt.NewParser(
			// The key function below pairs each method with its own key; pinning the list
			// refuses "none", RSA and ECDSA outright.
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodHS256.Alg()}),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
	}
}

var errNoSigningKey = errors.New("auth: no token-signing key is loaded")

func (t *tokens) issue(s Session) (string, error) {
	r := t.keys.Load()
	if r == nil {
		return "", errNoSigningKey
	}
	k, priv, ok := r.signer(s.CreatedAt)
	if !ok {
		return "", errNoSigningKey
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   s.UserID,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(s.CreatedAt),
			NotBefore: jwt.NewNumericDate(s.CreatedAt),
			ExpiresAt: jwt.NewNumericDate(s.ExpiresAt),
		},
		SessionID: s.ID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.ID
	return tok.SignedString(priv)
}

// errRejected is any token the key function refuses; callers see ErrUnauthenticated.
var errRejected = errors.New("auth: token rejected")

// key picks the key that must have signed tok: the Ed25519 public key its kid names, or — for
// a token without a kid — the HS256 secret. The method is checked against the key's kind, so
// neither can stand in for the other.
func (t *tokens) key(tok *jwt.Token) (any, error) {
	for _, h := range []string{"jku", "x5u", "jwk", "x5c", "crit"} {
		if _, ok := tok.Header[h]; ok {
			return nil, errRejected
		}
	}
	kid, hasKid := tok.Header["kid"].(string)
	switch tok.Method.Alg() {
	case jwt.SigningMethodEdDSA.Alg():
		r := t.keys.Load()
		if r == nil || !hasKid {
			return nil, errRejected
		}
		pub, ok := r.pub[kid]
		if !ok {
			return nil, errRejected
		}
		return ed25519.PublicKey(pub), nil
	case jwt.SigningMethodHS256.Alg():
		if _, present := tok.Header["kid"]; present || len(t.secret) == 0 {
			return nil, errRejected
		}
		return t.secret, nil
	}
	return nil, errRejected
}

func (t *tokens) parse(raw string) (*claims, error) {
	if raw == "" || len(raw) > 4096 {
		return nil, ErrUnauthenticated
	}
	t.mu.RLock()
	c, ok := t.verified[raw]
	t.mu.RUnlock()
	if ok {
		now := t.now()
		if !now.Before(c.ExpiresAt.Add(t.leeway)) || now.Add(t.leeway).Before(c.NotBefore.Time) {
			return nil, ErrUnauthenticated
		}
		return c, nil
	}
	c = &claims{}
	tok, err := t.parser.ParseWithClaims(raw, c, t.key)
	if err != nil || !tok.Valid || c.SessionID == "" || c.Subject == "" || c.ExpiresAt == nil || c.NotBefore == nil || c.IssuedAt == nil {
		return nil, ErrUnauthenticated
	}
	if tok.Method.Alg() == jwt.SigningMethodHS256.Alg() {
		// Only the tokens of before the switch, with the issuer they were made with.
		r := t.keys.Load()
		if c.Issuer != t.legacyIssuer || r == nil || !c.IssuedAt.Before(r.legacyBefore) {
			return nil, ErrUnauthenticated
		}
	} else if c.Issuer != t.issuer {
		return nil, ErrUnauthenticated
	}
	t.mu.Lock()
	if len(t.verified) >= verifiedCacheSize {
		t.verified = map[string]*claims{}
	}
	t.verified[raw] = c
	t.mu.Unlock()
	return c, nil
}

var errNoSecret = errors.New("auth: a JWT secret of at least 32 bytes is required")
