package auth

import (
	"errors"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token claims beyond the registered ones.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// tokens issues and checks HS256 JWTs that name a server-side session.
type tokens struct {
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	parser   *jwt.Parser
	now      func() time.Time

	// verified remembers the claims of tokens whose signature and claims were checked, keyed
	// by the exact token string, so a client's repeated calls skip the HMAC and JSON work.
	// Only time-dependent checks are redone; revocation is always the store's. Bounded: it is
	// simply emptied when full.
	mu       sync.RWMutex
	verified map[string]*claims
}

const verifiedCacheSize = 50_000

func newTokens(secret []byte, issuer, audience string, ttl, leeway time.Duration, now func() time.Time) *tokens {
	if now == nil {
		now = time.Now
	}
	return &tokens{
		secret: secret, issuer: issuer, audience: audience, ttl: ttl, leeway: leeway, now: now,
		verified: map[string]*claims{},
		parser: jwt.NewParser(
			// Pinning the method refuses "none" and every asymmetric-key confusion.
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
	}
}

func (t *tokens) issue(s Session) (string, error) {
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
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
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
	tok, err := t.parser.ParseWithClaims(raw, c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil || !tok.Valid || c.SessionID == "" || c.Subject == "" || c.ExpiresAt == nil || c.NotBefore == nil {
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
