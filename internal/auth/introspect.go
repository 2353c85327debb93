package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Other Panguard services check tokens offline against the JWKS; for instant revocation they
// introspect: they present a service key (made by the operator, stored only as a hash) and a
// token, and learn whether it is live and whose it is.

// ServiceKey is a key other services introspect with; only its hash is kept.
type ServiceKey struct {
	Name string
	Hash string
	// Hint is the key's first characters, so an operator can tell keys apart.
	Hint      string
	CreatedAt time.Time
}

// ServiceKeys keeps the service keys.
type ServiceKeys interface {
	// CreateServiceKey stores k unless its name is taken, reporting whether it did.
	CreateServiceKey(ctx context.Context, k ServiceKey) (bool, error)
	// ServiceKeyByHash returns the key with this hash, or ErrNoRecord.
	ServiceKeyByHash(ctx context.Context, hash string) (ServiceKey, error)
	ListServiceKeys(ctx context.Context) ([]ServiceKey, error)
	// DeleteServiceKey removes the named key, reporting whether it existed.
	DeleteServiceKey(ctx context.Context, name string) (bool, error)
}

// ServicePrincipal is a service authenticated by its key. Only AuthenticateService makes one;
// Introspect refuses the zero value.
type ServicePrincipal struct {
	Name string
	ok   bool
}

const serviceKeyPrefix = "psk_"

var serviceKeyName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// serviceKeyCacheTTL is how long a checked service key is trusted without a database read:
// introspection then costs what `me` costs (one indexed read), and a revoked key stops
// working everywhere within this time.
const serviceKeyCacheTTL = 5 * time.Second

type serviceKeyCache struct {
	mu      sync.Mutex
	entries map[string]serviceKeyEntry // by key hash
}

type serviceKeyEntry struct {
	name    string
	expires time.Time
}

func newServiceKeyCache() *serviceKeyCache {
	return &serviceKeyCache{entries: map[string]serviceKeyEntry{}}
}

// CreateServiceKey makes a service key named name (1-64 of a-z, 0-9, '.', '_', '-') and
// returns it; it is shown this once and kept only as a hash.
// Errors: CodeValidation, ErrConflict (the name is taken).
func (s *Service) CreateServiceKey(ctx context.Context, name string) (string, ServiceKey, error) {
	if !serviceKeyName.MatchString(name) {
		return "", ServiceKey{}, invalid("A service key name is 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	}
	raw, err := s.newID(serviceKeyPrefix, 32)
	if err != nil {
		return "", ServiceKey{}, err
	}
	k := ServiceKey{Name: name, Hash: hashToken(raw), Hint: raw[:len(serviceKeyPrefix)+6], CreatedAt: s.now()}
	ok, err := s.store.CreateServiceKey(ctx, k)
	if err != nil {
		return "", ServiceKey{}, err
	}
	if !ok {
		return "", ServiceKey{}, &Error{Kind: KindConflict, Code: CodeConflict, Message: "A service key named " + name + " exists; revoke it first"}
	}
	return raw, k, nil
}

// ListServiceKeys returns every service key (never the key itself). Errors: store failures.
func (s *Service) ListServiceKeys(ctx context.Context) ([]ServiceKey, error) {
	return s.store.ListServiceKeys(ctx)
}

// RevokeServiceKey deletes the named key; replicas stop accepting it within
// serviceKeyCacheTTL. Errors: ErrNotFound.
func (s *Service) RevokeServiceKey(ctx context.Context, name string) error {
	ok, err := s.store.DeleteServiceKey(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// AuthenticateService resolves a presented service key. Transports call it at the edge of the
// operations other services call. Errors: ErrUnauthenticated for a missing, malformed,
// unknown or revoked key.
func (s *Service) AuthenticateService(ctx context.Context, raw string) (ServicePrincipal, error) {
	if !strings.HasPrefix(raw, serviceKeyPrefix) || len(raw) > 128 {
		return ServicePrincipal{}, ErrUnauthenticated
	}
	hash := hashToken(raw)
	now := time.Now()
	c := s.serviceKeys
	c.mu.Lock()
	e, hit := c.entries[hash]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return ServicePrincipal{Name: e.name, ok: true}, nil
	}
	k, err := s.store.ServiceKeyByHash(ctx, hash)
	if errors.Is(err, ErrNoRecord) {
		return ServicePrincipal{}, ErrUnauthenticated
	}
	if err != nil {
		return ServicePrincipal{}, err
	}
	// The row was found by the hash; comparing it in constant time keeps any index or
	// collation quirk from turning into a timing oracle.
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 {
		return ServicePrincipal{}, ErrUnauthenticated
	}
	c.mu.Lock()
	if len(c.entries) > 1024 {
		c.entries = map[string]serviceKeyEntry{}
	}
	c.entries[hash] = serviceKeyEntry{name: k.Name, expires: now.Add(serviceKeyCacheTTL)}
	c.mu.Unlock()
	return ServicePrincipal{Name: k.Name, ok: true}, nil
}

// Introspection is what a service learns of a token: Active, and when active whose it is.
type Introspection struct {
	Active       bool
	UserID       string
	SessionID    string
	Email        string
	Tier         Tier
	MachineLimit *int
	ExpiresAt    time.Time
}

// Introspect tells a service whether token is live now — validly signed, unexpired, its
// session not revoked, its account not suspended — and whose it is. Anything else is simply
// inactive, never an error, so the answer reveals nothing more.
// Errors: ErrUnauthenticated for a ServicePrincipal AuthenticateService did not make.
func (s *Service) Introspect(ctx context.Context, sp ServicePrincipal, token string) (Introspection, error) {
	if !sp.ok {
		return Introspection{}, ErrUnauthenticated
	}
	c, err := s.tokens.parse(token)
	if err != nil {
		return Introspection{}, nil
	}
	now := s.now()
	sess, u, err := s.store.ActiveSession(ctx, c.SessionID, now)
	if errors.Is(err, ErrNoRecord) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	if u.ID != c.Subject || u.Suspended() {
		return Introspection{}, nil
	}
	tier := u.EffectiveTier(now)
	return Introspection{
		Active: true, UserID: u.ID, SessionID: sess.ID, Email: u.Email, Tier: tier, MachineLimit: tier.MachineLimit(),
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}
