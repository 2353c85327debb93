package store

import (
	"cmp"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// Rows are this package's own: the domain never sees them and they never leave it.

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID           string `bun:"id,pk"`
	Email        string `bun:"email"`
	Name         string `bun:"name"`
	PasswordHash string `bun:"password_hash"`
	Tier         string `bun:"tier"`
	TrialEndsAt  *int64 `bun:"trial_ends_at"`
	TOTPEnabled  bool   `bun:"totp_enabled"`
	CreatedAt    int64  `bun:"created_at"`
	UpdatedAt    int64  `bun:"updated_at"`

	TOTPSecret        *string `bun:"totp_secret"`
	TOTPPendingSecret *string `bun:"totp_pending_secret"`
	TOTPLastStep      int64   `bun:"totp_last_step"`
	EmailVerifiedAt   *int64  `bun:"email_verified_at"`
	TOTPEnabledAt     *int64  `bun:"totp_enabled_at"`
	Role              string  `bun:"role"`
	PlanExpiresAt     *int64  `bun:"plan_expires_at"`
	SuspendedAt       *int64  `bun:"suspended_at"`
	SuspendedReason   *string `bun:"suspended_reason"`
	LastLoginAt       *int64  `bun:"last_login_at"`
}

type backupCodeRow struct {
	bun.BaseModel `bun:"table:backup_codes,alias:bc"`

	UserID    string `bun:"user_id,pk"`
	CodeHash  string `bun:"code_hash,pk"`
	CreatedAt int64  `bun:"created_at"`
	UsedAt    *int64 `bun:"used_at"`
}

type sessionRow struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`

	ID         string `bun:"id,pk"`
	UserID     string `bun:"user_id"`
	CreatedAt  int64  `bun:"created_at"`
	ExpiresAt  int64  `bun:"expires_at"`
	RevokedAt  *int64 `bun:"revoked_at"`
	LastSeenAt int64  `bun:"last_seen_at"`
	IP         string `bun:"ip"`
	UserAgent  string `bun:"user_agent"`
	Method     string `bun:"method"`
}

func (r sessionRow) domain() auth.Session {
	return auth.Session{
		ID: r.ID, UserID: r.UserID, CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt),
		LastSeenAt: fromMS(r.LastSeenAt), IP: r.IP, UserAgent: r.UserAgent, Method: auth.SessionMethod(r.Method),
	}
}

type eventRow struct {
	bun.BaseModel `bun:"table:activity_events,alias:ev"`

	ID        string  `bun:"id,pk"`
	UserID    string  `bun:"user_id"`
	Type      string  `bun:"type"`
	At        int64   `bun:"at"`
	IP        string  `bun:"ip"`
	UserAgent string  `bun:"user_agent"`
	Actor     string  `bun:"actor"`
	Detail    *string `bun:"detail"`
}

type settingRow struct {
	bun.BaseModel `bun:"table:settings"`

	Key   string `bun:"key,pk"`
	Value string `bun:"value"`
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromMSPtr(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}

func toUserRow(u auth.User) userRow {
	return userRow{
		ID: u.ID, Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash, Tier: string(u.Tier),
		TrialEndsAt: msPtr(u.TrialEndsAt), TOTPEnabled: u.TOTPEnabled,
		CreatedAt: ms(u.CreatedAt), UpdatedAt: ms(u.UpdatedAt),
		TOTPSecret: strPtr(u.TOTPSecret), TOTPPendingSecret: strPtr(u.TOTPPendingSecret), TOTPLastStep: u.TOTPLastStep,
		EmailVerifiedAt: msPtr(u.EmailVerifiedAt), TOTPEnabledAt: msPtr(u.TOTPEnabledAt),
		Role: string(cmp.Or(u.Role, auth.RoleUser)), PlanExpiresAt: msPtr(u.PlanExpiresAt),
		SuspendedAt: msPtr(u.SuspendedAt), SuspendedReason: strPtr(u.SuspendedReason), LastLoginAt: msPtr(u.LastLoginAt),
	}
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (r userRow) domain() auth.User {
	return auth.User{
		ID: r.ID, Email: r.Email, Name: r.Name, PasswordHash: r.PasswordHash, Tier: auth.Tier(r.Tier),
		TrialEndsAt: fromMSPtr(r.TrialEndsAt), TOTPEnabled: r.TOTPEnabled,
		CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt),
		TOTPSecret: deref(r.TOTPSecret), TOTPPendingSecret: deref(r.TOTPPendingSecret), TOTPLastStep: r.TOTPLastStep,
		EmailVerifiedAt: fromMSPtr(r.EmailVerifiedAt), TOTPEnabledAt: fromMSPtr(r.TOTPEnabledAt),
		Role: auth.Role(r.Role), PlanExpiresAt: fromMSPtr(r.PlanExpiresAt),
		SuspendedAt: fromMSPtr(r.SuspendedAt), SuspendedReason: deref(r.SuspendedReason), LastLoginAt: fromMSPtr(r.LastLoginAt),
	}
}

type oneTimeTokenRow struct {
	bun.BaseModel `bun:"table:one_time_tokens,alias:ott"`

	TokenHash string  `bun:"token_hash,pk"`
	Purpose   string  `bun:"purpose"`
	UserID    string  `bun:"user_id"`
	Data      *string `bun:"data"`
	CreatedAt int64   `bun:"created_at"`
	ExpiresAt int64   `bun:"expires_at"`
	UsedAt    *int64  `bun:"used_at"`
}

func (r oneTimeTokenRow) domain() auth.OneTimeToken {
	return auth.OneTimeToken{
		Hash: r.TokenHash, Purpose: auth.Purpose(r.Purpose), UserID: r.UserID, Data: deref(r.Data),
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt),
	}
}

type outboxRow struct {
	bun.BaseModel `bun:"table:outbox,alias:o"`

	ID            string  `bun:"id,pk"`
	Kind          string  `bun:"kind"`
	Payload       string  `bun:"payload"`
	Status        string  `bun:"status"`
	Attempts      int     `bun:"attempts"`
	NextAttemptAt int64   `bun:"next_attempt_at"`
	LastError     *string `bun:"last_error"`
	CreatedAt     int64   `bun:"created_at"`
	UpdatedAt     int64   `bun:"updated_at"`
}
