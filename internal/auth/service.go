// Package auth is the domain core of Panguard Auth: every rule about accounts, passwords,
// sessions, tiers and second factors lives here, with one method per operation. It knows no
// transport, no ORM and no generated wire types; adapters decode requests into the plain
// inputs below, call a method, and encode its result or its *Error.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is the persistence the domain needs. Implementations return ErrNoRecord for missing
// rows and run fn of RunInTx atomically: every Store call made with the ctx passed to fn joins
// that transaction.
type Store interface {
	RunInTx(ctx context.Context, fn func(ctx context.Context) error) error

	// CreateUser inserts u unless its email is taken, reporting whether it inserted.
	CreateUser(ctx context.Context, u User) (created bool, err error)
	UserByEmail(ctx context.Context, email string) (User, error)
	UpdatePasswordHash(ctx context.Context, userID, hash string, at time.Time) error

	CreateSession(ctx context.Context, s Session) error
	// ActiveSessionUser returns the user of a session that is neither revoked nor expired at now.
	ActiveSessionUser(ctx context.Context, sessionID string, now time.Time) (User, error)
	// RevokeSession revokes one session, reporting whether it was active.
	RevokeSession(ctx context.Context, sessionID string, at time.Time) (bool, error)
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) error

	// SetPendingTOTP stores a new pending secret unless 2FA is enabled, reporting whether it did.
	SetPendingTOTP(ctx context.Context, userID, sealedSecret string, at time.Time) (bool, error)
	// EnableTOTP promotes the pending secret to the active one and records step, only if the
	// pending secret is still sealedPending and step is after the last used one.
	EnableTOTP(ctx context.Context, userID, sealedPending string, step int64, at time.Time) (bool, error)
	// AdvanceTOTPStep records step as used if it is after the last used one (compare-and-set).
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// DisableTOTP removes both secrets and every backup code.
	DisableTOTP(ctx context.Context, userID string, at time.Time) error
	// ReplaceBackupCodes deletes the user's backup codes and stores the given hashes.
	ReplaceBackupCodes(ctx context.Context, userID string, hashes []string, at time.Time) error
	// ConsumeBackupCode marks an unused code as used, reporting whether it was unused.
	ConsumeBackupCode(ctx context.Context, userID, hash string, at time.Time) (bool, error)
	CountBackupCodes(ctx context.Context, userID string) (int, error)

	// Enqueue writes an outbox entry (inside ctx's transaction, if any).
	Enqueue(ctx context.Context, e OutboxEntry) error
	// CreateResetToken voids the user's unused tokens and stores t.
	CreateResetToken(ctx context.Context, t ResetToken) error
	// ConsumeResetToken marks the token with this hash used if it is unused and unexpired at
	// now, returning its user id, or ErrNoRecord.
	ConsumeResetToken(ctx context.Context, hash string, now time.Time) (userID string, err error)
	// ClaimDuplicateNotice records now as the user's last registration-attempt notice unless
	// one was recorded less than interval ago, reporting whether it did.
	ClaimDuplicateNotice(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error)
	// LockUser returns a user and, inside a transaction, locks its row until the end of the
	// transaction, so work that reads then writes a user's state is serialized per user.
	LockUser(ctx context.Context, id string) (User, error)
	// VoidResetTokens deletes the user's unused reset tokens.
	VoidResetTokens(ctx context.Context, userID string) error
	// ResetTokenUser returns the user id of the token with this hash, without locking or
	// checking it, or ErrNoRecord.
	ResetTokenUser(ctx context.Context, hash string) (string, error)
	// MarkKnown records key (a client that logged in to an account) as known until until.
	MarkKnown(ctx context.Context, key string, now, until time.Time) error

	// TakeToken spends one request of key's budget: one request per emission on average,
	// bursts up to window/emission. It reports whether it was allowed and, if not, when to retry.
	TakeToken(ctx context.Context, key string, now time.Time, emission, window time.Duration) (bool, time.Duration, error)
	// Throttles returns the failure state of the keys that have one.
	Throttles(ctx context.Context, keys ...string) (map[string]Throttle, error)
	// Reserve counts one attempt against b at now, atomically and only if b lets it through
	// (see Budget). It reports whether it did, and the key's state: after the attempt when
	// it did, as it stands when it did not. Inside a transaction the key stays locked to
	// others until the transaction ends.
	Reserve(ctx context.Context, b Budget, now time.Time) (Reservation, bool, Throttle, error)
	// Release gives a reservation back: one attempt less, and the lock it set lifted.
	Release(ctx context.Context, r Reservation) error
	// MarkEmailVerified records that the user proved their address at at, unless already
	// recorded, reporting whether it changed anything.
	MarkEmailVerified(ctx context.Context, userID string, at time.Time) (bool, error)
	// ClearFailures forgets the failures of the keys, and of every key starting with one of
	// the prefixes.
	ClearFailures(ctx context.Context, keys []string, prefixes []string) error
}

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
	// Issuer and Audience are the JWT iss and aud (default "panguard-auth" and "panguard").
	Issuer, Audience string
	// Hash are the argon2id parameters (default DefaultHashParams); HashSlots bounds the hashes
	// running at once (default one per CPU) and HashMaxWait how long a request queues for one.
	Hash        HashParams
	HashSlots   int
	HashMaxWait time.Duration
	// EncryptionKey (32 bytes) seals TOTP secrets and keys backup-code hashes.
	EncryptionKey []byte
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
}

// New builds a Service. It returns an error when the configuration is unusable (no store,
// a short JWT secret).
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
	if cfg.Issuer == "" {
		cfg.Issuer = "panguard-auth"
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
	if cfg.OnEnqueue == nil {
		cfg.OnEnqueue = func() {}
	}
	if cfg.AccountWriteLimit == 0 {
		cfg.AccountWriteLimit = 60
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Panguard"
	}
	hasher := NewHasher(cfg.Hash, cfg.Rand, cfg.HashSlots, cfg.HashMaxWait)
	hasher.onWait = cfg.OnHashWait
	sl, err := newSealer(cfg.EncryptionKey, cfg.Rand)
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
	}
	dummy := make([]byte, 24)
	if _, err := io.ReadFull(cfg.Rand, dummy); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if s.dummyHash, err = s.hasher.Hash(context.Background(), hex.EncodeToString(dummy)); err != nil {
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

// newSession creates a session row for userID inside ctx's transaction and returns it with its token.
func (s *Service) newSession(ctx context.Context, userID string, now time.Time) (Session, string, error) {
	id, err := s.newID("ses_", 16)
	if err != nil {
		return Session{}, "", err
	}
	sess := Session{ID: id, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Session{}, "", err
	}
	tok, err := s.tokens.issue(sess)
	if err != nil {
		return Session{}, "", fmt.Errorf("auth: sign token: %w", err)
	}
	return sess, tok, nil
}

// RegisterInput is what a new account is made from.
type RegisterInput struct{ Email, Name, Password string }

// RegisterResult is the outcome of Register. Created is false when the email already had an
// account: then only Message is set and nothing was changed.
type RegisterResult struct {
	Created   bool
	Message   string
	User      Profile
	Token     string
	ExpiresAt time.Time
}

// Register creates an account on a 14-day Solo trial and logs it in. An email that already
// has an account yields Created false after the same hashing work, so timing does not tell,
// and queues a password-reset email to its holder (at most one per DuplicateNoticeInterval).
// Errors: CodeValidation for bad input, CodeRateLimited, ErrBusy when hashing is saturated.
func (s *Service) Register(ctx context.Context, in RegisterInput) (RegisterResult, error) {
	if err := s.allow(ctx); err != nil {
		return RegisterResult{}, err
	}
	email, name := NormalizeEmail(in.Email), trimSpace(in.Name)
	if err := validateEmail(email); err != nil {
		return RegisterResult{}, err
	}
	if err := validateName(name); err != nil {
		return RegisterResult{}, err
	}
	if err := validatePassword("Password", in.Password); err != nil {
		return RegisterResult{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return RegisterResult{}, err
	}
	id, err := s.newID("usr_", 12)
	if err != nil {
		return RegisterResult{}, err
	}
	now := s.now()
	trialEnds := now.Add(TrialLength)
	u := User{
		ID: id, Email: email, Name: name, PasswordHash: hash,
		Tier: TierSolo, TrialEndsAt: &trialEnds, CreatedAt: now, UpdatedAt: now,
	}
	var res RegisterResult
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		created, err := s.store.CreateUser(ctx, u)
		if err != nil || !created {
			return err
		}
		sess, tok, err := s.newSession(ctx, u.ID, now)
		if err != nil {
			return err
		}
		res = RegisterResult{Created: true, User: u.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if err != nil {
		return RegisterResult{}, err
	}
	if !res.Created {
		// Tell the holder, in the background and throttled; the caller learns nothing.
		if err := s.enqueue(ctx, OutboxResetRequest, resetRequest{Email: email, Reason: reasonDuplicate}); err != nil {
			return RegisterResult{}, err
		}
		s.onEnqueue()
		return RegisterResult{Message: MsgRegisterDuplicate}, nil
	}
	return res, nil
}

// LoginInput is a login attempt. TOTPCode and BackupCode are nil when not sent.
type LoginInput struct {
	Email, Password      string
	TOTPCode, BackupCode *string
}

// LoginResult is the outcome of Login. When TOTPRequired is set the password was right but a
// second factor must be sent; nothing else is set and no session exists.
type LoginResult struct {
	TOTPRequired bool
	User         Profile
	Token        string
	ExpiresAt    time.Time
}

// Login checks the credentials and opens a new session. Unknown email and wrong password
// give the same ErrInvalidCredentials after the same work. With 2FA on, a TOTP or backup code
// is required (without one the result is TOTPRequired) and consumed in the same transaction
// that opens the session. A stored hash with outdated parameters is replaced.
// Repeated failures make the client wait (see the brute-force policy in throttle.go).
// Errors: ErrInvalidCredentials, ErrInvalidTOTP, CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	if err := s.allow(ctx); err != nil {
		return LoginResult{}, err
	}
	email := NormalizeEmail(in.Email)
	if email == "" || in.Password == "" {
		return LoginResult{}, invalid("Email and password are required")
	}
	if err := validateEmail(email); err != nil {
		// Syntax only, so it tells nothing about accounts; and nothing malformed (NUL bytes,
		// invalid UTF-8) travels on to the database.
		return LoginResult{}, err
	}
	if in.TOTPCode != nil && in.BackupCode != nil {
		return LoginResult{}, invalid("Send either totpCode or backupCode, not both")
	}
	at, err := s.reserve(ctx, email, in.TOTPCode != nil || in.BackupCode != nil)
	if err != nil {
		return LoginResult{}, err
	}
	res, err := s.login(ctx, email, in)
	if err != nil || res.TOTPRequired {
		// A wrong password or code stays counted; a TOTPRequired answer (the password was
		// right) or a check that never ran gives the attempt back.
		if err := s.settle(ctx, at, err); err != nil {
			return LoginResult{}, err
		}
		return res, nil
	}
	if err := s.succeeded(ctx, at); err != nil {
		return LoginResult{}, err
	}
	// This client has proved it holds the credentials: account-wide locks spare it from now on.
	now := s.now()
	if err := s.store.MarkKnown(ctx, knownKey(ctx, email), now, now.Add(knownFor)); err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// login checks the credentials of a reserved attempt and opens the session.
func (s *Service) login(ctx context.Context, email string, in LoginInput) (LoginResult, error) {
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNoRecord) {
		if _, _, err := s.hasher.Verify(ctx, in.Password, s.dummyHash); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	ok, rehash, err := s.hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, ErrInvalidCredentials
	}
	if u.TOTPEnabled && in.TOTPCode == nil && in.BackupCode == nil {
		return LoginResult{TOTPRequired: true}, nil
	}
	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return LoginResult{}, err
		}
	}
	now := s.now()
	var res LoginResult
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The password was checked outside this transaction. Lock the row and make sure it
		// is still the one checked: a reset (or 2FA change) committed meanwhile must win, or
		// this login would open a session after the reset revoked them all.
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash || cur.TOTPEnabled != u.TOTPEnabled {
			return ErrInvalidCredentials
		}
		if newHash != "" {
			if err := s.store.UpdatePasswordHash(ctx, u.ID, newHash, now); err != nil {
				return err
			}
			u.PasswordHash, u.UpdatedAt = newHash, now
		}
		if cur.TOTPEnabled {
			// The locked row, so a secret rotated since the password check is the one used.
			if err := s.checkSecondFactor(ctx, cur, in.TOTPCode, in.BackupCode, now); err != nil {
				return err
			}
		}
		sess, tok, err := s.newSession(ctx, u.ID, now)
		if err != nil {
			return err
		}
		res = LoginResult{User: u.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// Authenticate resolves a bearer token to its live session and user with one store read.
// Errors: ErrUnauthenticated for a missing, malformed, forged, expired or revoked token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return Principal{}, err
	}
	u, err := s.store.ActiveSessionUser(ctx, c.SessionID, s.now())
	if err == ErrNoRecord || (err == nil && u.ID != c.Subject) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{SessionID: c.SessionID, User: u}, nil
}

// Logout revokes the session of token; the user's other sessions are untouched.
// Errors: ErrUnauthenticated.
func (s *Service) Logout(ctx context.Context, token string) error {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	revoked, err := s.store.RevokeSession(ctx, p.SessionID, s.now())
	if err != nil {
		return err
	}
	if !revoked {
		// Lost a race with another logout of the same token: it is dead either way, but this
		// caller presented a token that is no longer valid.
		return ErrUnauthenticated
	}
	return nil
}

// Me returns the caller's profile with the effective tier at this moment.
// Errors: ErrUnauthenticated.
func (s *Service) Me(ctx context.Context, token string) (Profile, error) {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return Profile{}, err
	}
	return p.User.profile(s.now()), nil
}
