// Package auth is the domain core of Panguard Auth: every rule about accounts, passwords,
// sessions, tiers and second factors lives here, with one method per operation. It knows no
// transport, no ORM and no generated wire types; adapters decode requests into the plain
// inputs below, call a method, and encode its result or its *Error.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// Config holds what a Service is built from. Zero values take the documented defaults.
type Config struct {
	Store Store
	// Now is the clock (default time.Now); Rand the source of ids, salts and tokens
	// (default crypto/rand.Reader). Tests inject both.
	Now  func() time.Time
	Rand io.Reader
	// JWTSecret signs tokens (HS256); at least 32 bytes.
	JWTSecret []byte
	// TokenTTL is the session and token lifetime (default 24h).
	TokenTTL time.Duration
	// TokenLeeway is the clock skew tolerated on exp/nbf/iat (default 30s).
	TokenLeeway time.Duration
	// Issuer and Audience are the JWT iss and aud (default PublicURL and "panguard").
	Issuer, Audience string
	// KeyRotation is how long a signing key signs before the next takes over (default
	// DefaultKeyRotation; at least twice KeyLeadTime).
	KeyRotation time.Duration
	// Hash are the argon2id parameters (default DefaultHashParams); HashSlots bounds the hashes
	// running at once (default one per CPU) and HashMaxWait how long a request queues for one.
	Hash        HashParams
	HashSlots   int
	HashMaxWait time.Duration
	// Derive, when set, computes the password hashes (Hasher.SetDeriver): the service binary
	// hands them to low-priority worker processes. Nil hashes in this process.
	Derive Deriver
	// EncryptionKey (32 bytes) seals the secrets kept in the store (TOTP secrets, signing keys,
	// the code key that keys backup-code hashes).
	EncryptionKey []byte
	// PreviousEncryptionKey, during a rotation, opens what EncryptionKey cannot: the secrets
	// still sealed under the old key (see ReencryptSecrets). Nil otherwise.
	PreviousEncryptionKey []byte
	// TOTPIssuer names the service in authenticator apps (default "Panguard").
	TOTPIssuer string
	// PublicURL is the base of links in emails (default "http://localhost:3000").
	PublicURL string
	// OnEnqueue, when set, is called after outbox work has been committed, to wake a sender.
	OnEnqueue func()
	// OnHashWait, when set, observes how long each password hash waited for a slot.
	OnHashWait func(time.Duration)
	// RateLimit is the per-client-IP budget of credential operations per minute (register,
	// login, forgot/reset password, TOTP verify/disable, backup codes); 0 turns it off.
	RateLimit int
	// AccountWriteLimit is each account's budget of authenticated writes per minute (TOTP
	// setup, verify and disable, backup-code regeneration); 0 means the default, 60, and a
	// negative value turns it off.
	AccountWriteLimit int
	// DeviceClients are the public clients that may use the device authorization grant
	// (default DefaultDeviceClient).
	DeviceClients []string
}

// Service implements the account and authentication operations.
type Service struct {
	store  Store
	now    func() time.Time
	rand   io.Reader
	hasher *Hasher
	tokens *tokens
	ttl    time.Duration
	sealer *sealer
	// publicURL is the base of links in emails; onEnqueue wakes the outbox sender.
	publicURL string
	onEnqueue func()
	rateLimit int
	// writeLimit is AccountWriteLimit after defaults.
	writeLimit int
	// totpIssuer is shown by authenticator apps.
	totpIssuer string
	// dummyHash is verified when a login names no account, so that path costs the same.
	dummyHash string
	// keysLoadedAt is when LoadKeys last succeeded (Unix nanoseconds, wall clock).
	keysLoadedAt atomic.Int64
	// keyRotation is Config.KeyRotation after defaults.
	keyRotation time.Duration
	// serviceKeys caches recently checked service keys (see AuthenticateService).
	serviceKeys *serviceKeyCache
	// reencryptBatch is how many users ReencryptSecrets reads at a time.
	reencryptBatch int
	// deviceClients are Config.DeviceClients after defaults.
	deviceClients []string
	// rp is the WebAuthn relying party of PublicURL; nil when its host is not a domain
	// (passkey operations then answer ErrPasskeysUnavailable).
	rp *webauthn.WebAuthn
}

// New builds a Service. It returns an error when the configuration is unusable (no store,
// a short JWT secret) or the encryption key opens neither the code key nor the signing keys
// (ErrKeyUnsealable).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("auth: a store is required")
	}
	if len(cfg.JWTSecret) < 32 {
		return nil, errNoSecret
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.TokenLeeway <= 0 {
		cfg.TokenLeeway = 30 * time.Second
	}
	if cfg.KeyRotation <= 0 {
		cfg.KeyRotation = DefaultKeyRotation
	}
	if cfg.KeyRotation < 2*KeyLeadTime {
		return nil, fmt.Errorf("auth: key rotation must be at least %s", 2*KeyLeadTime)
	}
	if cfg.Audience == "" {
		cfg.Audience = "panguard"
	}
	if cfg.Hash == (HashParams{}) {
		cfg.Hash = DefaultHashParams
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:3000"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Issuer == "" {
		cfg.Issuer = cfg.PublicURL
	}
	if cfg.OnEnqueue == nil {
		cfg.OnEnqueue = func() {}
	}
	if cfg.AccountWriteLimit == 0 {
		cfg.AccountWriteLimit = 60
	}
	if len(cfg.DeviceClients) == 0 {
		cfg.DeviceClients = []string{DefaultDeviceClient}
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Panguard"
	}
	hasher := NewHasher(cfg.Hash, cfg.Rand, cfg.HashSlots, cfg.HashMaxWait)
	hasher.onWait = cfg.OnHashWait
	hasher.SetDeriver(cfg.Derive)
	sl, err := newSealer(cfg.EncryptionKey, cfg.PreviousEncryptionKey, cfg.Rand)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:  cfg.Store,
		now:    func() time.Time { return cfg.Now().UTC().Truncate(time.Millisecond) },
		rand:   cfg.Rand,
		hasher: hasher,
		tokens: newTokens(cfg.JWTSecret, cfg.Issuer, cfg.Audience, cfg.TokenTTL, cfg.TokenLeeway, cfg.Now),
		ttl:    cfg.TokenTTL,
		sealer: sl, totpIssuer: cfg.TOTPIssuer,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), onEnqueue: cfg.OnEnqueue,
		rateLimit: cfg.RateLimit, writeLimit: cfg.AccountWriteLimit,
		keyRotation: cfg.KeyRotation, serviceKeys: newServiceKeyCache(),
		reencryptBatch: defaultReencryptBatch,
		deviceClients:  append([]string(nil), cfg.DeviceClients...),
	}
	// A public URL on an IP address (tests, a quick local run) keeps every other operation.
	s.rp, _ = newRelyingParty(s.publicURL, cfg.TOTPIssuer)
	dummy := make([]byte, 24)
	if _, err := io.ReadFull(cfg.Rand, dummy); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if s.dummyHash, err = s.hasher.Hash(context.Background(), hex.EncodeToString(dummy)); err != nil {
		return nil, err
	}
	// The code key is read (stored the first time), then the first signing key is made when
	// there is none; the keys are loaded either way. A value neither configured encryption key
	// opens stops the start.
	if err := s.loadCodeKey(context.Background()); err != nil {
		return nil, err
	}
	if _, err := s.RotateKeys(context.Background(), false); err != nil {
		return nil, err
	}
	return s, nil
}

// HashQueue reports how many password hashes are running and how many requests wait for one.
func (s *Service) HashQueue() (running, waiting int) { return s.hasher.Queue() }

// newID returns prefix followed by n random bytes in hex.
func (s *Service) newID(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// newSession creates a session row for userID inside ctx's transaction, recording where the
// client is and how it signed in, and returns it with its token.
func (s *Service) newSession(ctx context.Context, userID string, now time.Time, method SessionMethod) (Session, string, error) {
	id, err := s.newID("ses_", 16)
	if err != nil {
		return Session{}, "", err
	}
	sess := Session{
		ID: id, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.ttl), LastSeenAt: now,
		IP: ClientIP(ctx), UserAgent: UserAgent(ctx), Method: method,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Session{}, "", err
	}
	if err := s.store.SetLastLogin(ctx, userID, now); err != nil {
		return Session{}, "", err
	}
	tok, err := s.tokens.issue(sess)
	if err != nil {
		return Session{}, "", fmt.Errorf("auth: sign token: %w", err)
	}
	return sess, tok, nil
}
