package auth

import "time"

// Tier is a subscription tier.
type Tier string

// The tiers, from free to unlimited.
const (
	TierCommunity  Tier = "community"
	TierSolo       Tier = "solo"
	TierPro        Tier = "pro"
	TierBusiness   Tier = "business"
	TierEnterprise Tier = "enterprise"
)

// TrialLength is how long the Solo trial of a new account lasts.
const TrialLength = 14 * 24 * time.Hour

// MachineLimit is how many machines tier t may register; nil means unlimited.
func (t Tier) MachineLimit() *int {
	n := 0
	switch t {
	case TierSolo:
		n = 3
	case TierPro:
		n = 10
	case TierBusiness:
		n = 25
	case TierEnterprise:
		return nil
	default:
		n = 1
	}
	return &n
}

// User is an account as the domain sees it.
type User struct {
	ID           string
	Email        string // lowercased and trimmed
	Name         string
	PasswordHash string // argon2id, PHC string form
	// Tier is the plan on record. While TrialEndsAt is set the plan is a trial of Tier that
	// ends then; a paid plan has TrialEndsAt nil.
	Tier        Tier
	TrialEndsAt *time.Time
	TOTPEnabled bool
	// TOTPSecret and TOTPPendingSecret are sealed (encrypted) secrets, "" when absent.
	TOTPSecret        string
	TOTPPendingSecret string
	// TOTPLastStep is the last TOTP time step accepted; codes of it or earlier are refused.
	TOTPLastStep int64
	// EmailVerifiedAt is when the owner proved they read the address's mail; nil: never.
	EmailVerifiedAt *time.Time
	// TOTPEnabledAt is when 2FA was turned on; nil while off (or turned on before it was kept).
	TOTPEnabledAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Role is read with every request, so a grant or revoke takes effect at once.
	Role Role
	// PlanExpiresAt is when a paid plan of Tier ends (nil: no end, or no paid plan).
	PlanExpiresAt *time.Time
	// SuspendedAt is when an admin suspended the account (nil: not suspended), and
	// SuspendedReason why.
	SuspendedAt     *time.Time
	SuspendedReason string
	// LastLoginAt is when a session was last opened for the account (nil: never).
	LastLoginAt *time.Time
}

// EffectiveTier is the tier the user has at now: a trial or a paid plan that has ended
// falls back to community, with no job having to run.
func (u User) EffectiveTier(now time.Time) Tier {
	if u.TrialEndsAt != nil && !now.Before(*u.TrialEndsAt) {
		return TierCommunity
	}
	if u.PlanExpiresAt != nil && !now.Before(*u.PlanExpiresAt) {
		return TierCommunity
	}
	return u.Tier
}

// Suspended reports whether an admin has suspended the account.
func (u User) Suspended() bool { return u.SuspendedAt != nil }

// role is the account's role; rows written before roles existed read as RoleUser.
func (u User) role() Role {
	if u.Role == RoleAdmin {
		return RoleAdmin
	}
	return RoleUser
}

// Profile is a user as shown to its owner at a given moment.
type Profile struct {
	ID            string
	Email         string
	Name          string
	Tier          Tier // effective tier
	TOTPEnabled   bool
	MachineLimit  *int // nil: unlimited
	TrialEndsAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	EmailVerified bool
	Role          Role
	// PlanExpiresAt is when a paid plan ends; nil for no end or no plan.
	PlanExpiresAt *time.Time
}

func (u User) profile(now time.Time) Profile {
	tier := u.EffectiveTier(now)
	return Profile{
		ID: u.ID, Email: u.Email, Name: u.Name, Tier: tier, TOTPEnabled: u.TOTPEnabled,
		MachineLimit: tier.MachineLimit(), TrialEndsAt: u.TrialEndsAt,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		EmailVerified: u.EmailVerifiedAt != nil, Role: u.role(), PlanExpiresAt: u.PlanExpiresAt,
	}
}

// Session is a server-side login; the token names it, and revoking it kills the token.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastSeenAt is refreshed at most once per LastSeenInterval.
	LastSeenAt time.Time
	// IP and UserAgent are the client's when the session was opened (UserAgent at most
	// 256 characters).
	IP        string
	UserAgent string
	Method    SessionMethod
}

// SessionMethod says how a session was opened.
type SessionMethod string

// The ways a session is opened.
const (
	MethodPassword SessionMethod = "password"
	MethodRegister SessionMethod = "register"
	MethodReset    SessionMethod = "reset"
	MethodPasskey  SessionMethod = "passkey"
	MethodDevice   SessionMethod = "device"
)

// Role is what an account may do beyond its own data.
type Role string

// The roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Principal is the authenticated caller of an operation. Only Authenticate makes one (its
// snapshot of the account is unexported), so an adapter cannot call an authenticated
// operation without having checked a token; the zero Principal is refused.
type Principal struct {
	UserID    string
	SessionID string
	// Role is the account's role as read with this request's session.
	Role Role
	// user is the account as read with the session. Operations that decide on state that
	// may have changed since re-read it inside their transaction.
	user User
}

// caller returns the account behind p. Errors: ErrUnauthenticated for a Principal that
// Authenticate did not make.
func (p Principal) caller() (User, error) {
	if p.UserID == "" || p.SessionID == "" || p.user.ID != p.UserID {
		return User{}, ErrUnauthenticated
	}
	return p.user, nil
}

// Messages returned by operations that answer with text only. Both transports send the same.
const (
	MsgRegisterDuplicate = "Registration received. If this email already has an account, a password reset link has been sent to it."
	MsgLoggedOut         = "Logged out successfully"
	// MsgTOTPRequired is the text of a login that needs a second factor (the docs' wording).
	MsgTOTPRequired = "2FA_REQUIRED"
)
