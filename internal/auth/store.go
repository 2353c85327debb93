package auth

import (
	"context"
	"time"
)

// Store is the persistence the domain needs, composed of one small interface per aggregate.
// Implementations wrap every error with the operation that failed, return an error matching
// ErrNoRecord (errors.Is) for missing rows, and run fn of RunInTx atomically: every Store call
// made with the ctx passed to fn joins that transaction.
type Store interface {
	RunInTx(ctx context.Context, fn func(ctx context.Context) error) error
	Users
	Sessions
	SecondFactors
	OneTimeTokens
	Throttles
	Outbox
	Activity
	Admin
	Keys
	ServiceKeys
	Settings
	SealedSecrets
	DeviceGrants
	Passkeys
}

// Settings keeps service-wide values by name (the generated secrets, the sealed code key).
type Settings interface {
	// Setting returns the value of key, or an error matching ErrNoRecord.
	Setting(ctx context.Context, key string) (string, error)
	// EnsureSetting stores generated under key unless a value is there, and returns the stored
	// value: concurrent callers all get the same one.
	EnsureSetting(ctx context.Context, key, generated string) (string, error)
	// SwapSetting sets key to value if it is still old (compare-and-set), reporting whether it did.
	SwapSetting(ctx context.Context, key, old, value string) (bool, error)
}

// SealedUser is a user's sealed TOTP secrets ("" where there is none).
type SealedUser struct {
	UserID          string
	Secret, Pending string
}

// SealedSecrets is what re-sealing every secret under a new encryption key reads and rewrites.
type SealedSecrets interface {
	// SealedUsers returns up to limit users that have a TOTP secret or a pending one, by id,
	// those with an id after afterID ("" for the first page).
	SealedUsers(ctx context.Context, afterID string, limit int) ([]SealedUser, error)
	// ResealUser sets the user's two secrets to next's if both are still old's
	// (compare-and-set), reporting whether it did.
	ResealUser(ctx context.Context, old, next SealedUser) (bool, error)
	// ResealSigningKey sets the sealed private half of kid to next if it is still old
	// (compare-and-set), reporting whether it did.
	ResealSigningKey(ctx context.Context, kid, old, next string) (bool, error)
}

// Users keeps accounts.
type Users interface {
	// CreateUser inserts u unless its email is taken, reporting whether it inserted.
	CreateUser(ctx context.Context, u User) (created bool, err error)
	UserByEmail(ctx context.Context, email string) (User, error)
	// LockUser returns a user and, inside a transaction, locks its row until the end of the
	// transaction, so work that reads then writes a user's state is serialized per user.
	LockUser(ctx context.Context, id string) (User, error)
	UpdatePasswordHash(ctx context.Context, userID, hash string, at time.Time) error
	// ClaimDuplicateNotice records now as the user's last registration-attempt notice unless
	// one was recorded less than interval ago, reporting whether it did.
	ClaimDuplicateNotice(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error)
	// MarkEmailVerified records that the user proved their address at at, unless already
	// recorded, reporting whether it changed anything.
	MarkEmailVerified(ctx context.Context, userID string, at time.Time) (bool, error)
	// UpdateName sets the user's name.
	UpdateName(ctx context.Context, userID, name string, at time.Time) error
	// UpdateEmail sets the user's address (and marks it verified at at), reporting false when
	// another account holds it.
	UpdateEmail(ctx context.Context, userID, email string, at time.Time) (bool, error)
	// ClaimVerificationEmail records now as the moment the user's last verification email was
	// queued unless one was less than interval ago, reporting whether it did.
	ClaimVerificationEmail(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error)
	// DeleteUser erases the user and every row keyed to them (sessions, second factors,
	// one-time tokens, activity events), reporting whether the user existed.
	DeleteUser(ctx context.Context, userID string) (bool, error)
	// SetLastLogin records at as the moment a session was last opened for the user.
	SetLastLogin(ctx context.Context, userID string, at time.Time) error
}

// Admin is what the admin plane reads and changes across accounts.
type Admin interface {
	// SearchUsers returns up to f.Limit users matching f, newest first by (created, id).
	SearchUsers(ctx context.Context, f UserFilter) ([]User, error)
	// LockAdmins returns the ids of every admin and, inside a transaction, locks their rows,
	// so that two demotions cannot both see another admin left.
	LockAdmins(ctx context.Context) ([]string, error)
	// SetRole sets the user's role.
	SetRole(ctx context.Context, userID string, role Role, at time.Time) error
	// SetPlan sets the user's tier, trial end and plan end together.
	SetPlan(ctx context.Context, userID string, tier Tier, trialEndsAt, planExpiresAt *time.Time, at time.Time) error
	// SetSuspended suspends the user since since with reason, or lifts a suspension (nil).
	SetSuspended(ctx context.Context, userID string, since *time.Time, reason string, at time.Time) error
	// AuditEvents returns up to f.Limit events of every user matching f, newest first.
	AuditEvents(ctx context.Context, f AuditFilter) ([]Event, error)
}

// Sessions keeps server-side sessions, which tokens name.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// ActiveSession returns a session that is neither revoked nor expired at now, with its user.
	ActiveSession(ctx context.Context, sessionID string, now time.Time) (Session, User, error)
	// TouchSession sets the session's last-seen time to now if it is older than before.
	TouchSession(ctx context.Context, sessionID string, now, before time.Time) error
	// UserSessions returns the user's sessions live at now, newest first.
	UserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RevokeSession revokes one session, reporting whether it was active.
	RevokeSession(ctx context.Context, sessionID string, at time.Time) (bool, error)
	// RevokeUserSession revokes the session if it is the user's and active, reporting whether it did.
	RevokeUserSession(ctx context.Context, userID, sessionID string, at time.Time) (bool, error)
	// RevokeUserSessions revokes every active session of the user but the one named keep
	// ("" for none), returning how many.
	RevokeUserSessions(ctx context.Context, userID, keep string, at time.Time) (int, error)
}

// SecondFactors keeps TOTP secrets and backup codes.
type SecondFactors interface {
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
}

// OneTimeTokens keeps the single-use tokens sent by email (password reset now; email
// verification and email change use the same table and code path), only as hashes.
type OneTimeTokens interface {
	// CreateToken voids the user's unused tokens of t's purpose and stores t.
	CreateToken(ctx context.Context, t OneTimeToken) error
	// TokenUser returns the user id of the token with this purpose and hash, without locking
	// or checking it, or ErrNoRecord.
	TokenUser(ctx context.Context, purpose Purpose, hash string) (string, error)
	// ConsumeToken marks the token with this purpose and hash used if it is unused and
	// unexpired at now, returning it, or ErrNoRecord.
	ConsumeToken(ctx context.Context, purpose Purpose, hash string, now time.Time) (OneTimeToken, error)
	// VoidTokens deletes the user's unused tokens of the given purposes (every purpose when
	// none is given).
	VoidTokens(ctx context.Context, userID string, purposes ...Purpose) error
}

// Throttles keeps request budgets and brute-force counters, shared by every replica.
type Throttles interface {
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
	// ClearFailures forgets the failures of the keys, and of every key starting with one of
	// the prefixes.
	ClearFailures(ctx context.Context, keys []string, prefixes []string) error
	// MarkKnown records key (a client that logged in to an account) as known until until.
	MarkKnown(ctx context.Context, key string, now, until time.Time) error
}

// Activity keeps the append-only security activity log.
type Activity interface {
	// AddEvent appends e (inside ctx's transaction, if any).
	AddEvent(ctx context.Context, e Event) error
	// Events returns up to limit of the user's events older than before (all when nil),
	// newest first (by time, then id).
	Events(ctx context.Context, userID string, limit int, before *EventCursor) ([]Event, error)
}

// Outbox queues background work in the transaction that decides it.
type Outbox interface {
	// Enqueue writes an outbox entry (inside ctx's transaction, if any).
	Enqueue(ctx context.Context, e OutboxEntry) error
}
