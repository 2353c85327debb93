package auth

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The admin plane: operators find accounts, change plans, suspend abusers, reset a lost
// second factor and read the audit trail. Every operation here decides itself whether its
// caller may run it (requireAdmin), so no transport can forget to; every change is recorded
// as an event of the target account, with the admin as its actor, in the change's own
// transaction.

// Events the admin plane records.
const (
	EventPlanChanged            = "plan_changed"
	EventSuspended              = "suspended"
	EventUnsuspended            = "unsuspended"
	EventTOTPResetByAdmin       = "totp_reset_by_admin"
	EventSessionsRevokedByAdmin = "sessions_revoked_by_admin"
	// EventRoleChanged is an operator's grant or revoke of the admin role (actor "system").
	EventRoleChanged = "role_changed"
)

// EventTypes lists every event type, in the order the contract lists them.
var EventTypes = []string{
	EventRegistered, EventLogin, EventLoginFailed, EventLogout, EventSessionRevoked, EventPasswordChanged,
	EventPasswordReset, EventTOTPEnabled, EventTOTPDisabled, EventBackupCodesRegenerated, EventBackupCodeUsed,
	EventEmailVerified, EventEmailChangeRequested, EventEmailChanged, "passkey_added", "passkey_removed",
	"device_approved", EventDataExported, EventPlanChanged, EventSuspended, EventUnsuspended,
	EventTOTPResetByAdmin, EventSessionsRevokedByAdmin, EventAccountDeleted, EventRoleChanged,
}

// Tiers lists the tiers, from free to unlimited.
var Tiers = []Tier{TierCommunity, TierSolo, TierPro, TierBusiness, TierEnterprise}

// ReasonMaxChars bounds the reason an admin gives for a suspension or a 2FA reset.
const ReasonMaxChars = 500

// Admin page sizes.
const (
	AdminDefaultLimit = 50
	AdminMaxLimit     = 100
	// queryMaxChars bounds a user search.
	queryMaxChars = 254
)

// Messages of the admin operations.
const (
	MsgUserDeleted = "User deleted"
)

// TemplateTOTPResetByAdmin tells a user an admin removed their second factor.
const TemplateTOTPResetByAdmin = "totp_reset_by_admin"

// ActorAdmin is the actor of an event an admin caused.
func ActorAdmin(adminID string) string { return "admin:" + adminID }

// AdminUser is an account as an admin sees it.
type AdminUser struct {
	Profile
	SuspendedAt     *time.Time
	SuspendedReason string
	LastLoginAt     *time.Time
	// SessionCount is the live sessions; only GetUser fills it (-1 elsewhere).
	SessionCount int
}

// Suspended reports whether the account is suspended.
func (a AdminUser) Suspended() bool { return a.SuspendedAt != nil }

func (u User) adminView(now time.Time) AdminUser {
	return AdminUser{Profile: u.profile(now), SuspendedAt: u.SuspendedAt, SuspendedReason: u.SuspendedReason, LastLoginAt: u.LastLoginAt, SessionCount: -1}
}

// UserQuery asks for a page of users: Query matches email or name (case-insensitive
// substring, taken literally), Tier the effective tier ("" for any), Limit (nil: 50; 1-100),
// Cursor the previous page's NextCursor.
type UserQuery struct {
	Query  string
	Tier   string
	Limit  *int
	Cursor string
}

// UserFilter is a UserQuery as the store runs it.
type UserFilter struct {
	// Query is lowercased; "" matches every user.
	Query string
	// Tier filters on the effective tier at Now (nil: any).
	Tier   *Tier
	Now    time.Time
	Limit  int
	Before *EventCursor
}

// UserPage is a page of users, newest first; NextCursor is "" at the end.
type UserPage struct {
	Users      []AdminUser
	NextCursor string
}

// AuditQuery asks for a page of events across every account: UserID and Type filter ("" for
// any), Limit (nil: 50; 1-100), Cursor the previous page's NextCursor.
type AuditQuery struct {
	UserID, Type string
	Limit        *int
	Cursor       string
}

// AuditFilter is an AuditQuery as the store runs it.
type AuditFilter struct {
	UserID, Type string
	Limit        int
	Before       *EventCursor
}

// PlanInput changes a user's plan: Tier until PlanExpiresAt (nil: no end).
type PlanInput struct {
	Tier          string
	PlanExpiresAt *time.Time
}

// Cursor scopes: a cursor of one listing is refused by another.
const (
	scopeUsers = "admin:users"
	scopeAudit = "admin:audit"
)

var userIDPattern = regexp.MustCompile(`^usr_[0-9a-f]{24}$`)

// validUserID refuses anything that is not a user id, before it reaches a query.
func validUserID(id string) error {
	if !userIDPattern.MatchString(id) {
		return invalid("User id must look like usr_ followed by 24 hex digits")
	}
	return nil
}

// requireAdmin returns the admin behind p. Errors: ErrUnauthenticated, ErrForbidden.
func requireAdmin(p Principal) (User, error) {
	u, err := p.caller()
	if err != nil {
		return User{}, err
	}
	if u.role() != RoleAdmin {
		return User{}, ErrForbidden
	}
	return u, nil
}

func pageLimit(limit *int) (int, error) {
	n := AdminDefaultLimit
	if limit != nil {
		n = *limit
	}
	if n < 1 || n > AdminMaxLimit {
		return 0, invalid("limit must be 1-%d", AdminMaxLimit)
	}
	return n, nil
}

func validReason(reason string) (string, error) {
	reason = trimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < 1 || n > ReasonMaxChars {
		return "", invalid("Reason must be 1-%d characters", ReasonMaxChars)
	}
	if !utf8.ValidString(reason) || strings.ContainsRune(reason, 0) {
		return "", invalid("Reason must be valid text")
	}
	return reason, nil
}

// ListUsers returns a page of accounts, newest first. Pages are keyed on (creation time,
// id), so accounts created while an admin pages through never shift or repeat a page.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation (unknown tier, limit outside
// 1-100, a query over 254 characters), ErrInvalidCursor.
func (s *Service) ListUsers(ctx context.Context, p Principal, q UserQuery) (UserPage, error) {
	if _, err := requireAdmin(p); err != nil {
		return UserPage{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return UserPage{}, err
	}
	query := strings.ToLower(trimSpace(q.Query))
	if utf8.RuneCountInString(query) > queryMaxChars || !utf8.ValidString(query) || strings.ContainsRune(query, 0) {
		return UserPage{}, invalid("query must be valid text of at most %d characters", queryMaxChars)
	}
	now := s.now()
	f := UserFilter{Query: query, Now: now, Limit: limit + 1}
	if q.Tier != "" {
		t, err := parseTier(q.Tier)
		if err != nil {
			return UserPage{}, err
		}
		f.Tier = &t
	}
	if f.Before, err = s.pageAfter(scopeUsers, q.Cursor); err != nil {
		return UserPage{}, err
	}
	users, err := s.store.SearchUsers(ctx, f)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: make([]AdminUser, 0, min(len(users), limit))}
	for _, u := range users[:min(len(users), limit)] {
		page.Users = append(page.Users, u.adminView(now))
	}
	if len(users) > limit {
		last := users[limit-1]
		page.NextCursor = s.cursor(scopeUsers, EventCursor{At: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

func parseTier(name string) (Tier, error) {
	if t := Tier(name); slices.Contains(Tiers, t) {
		return t, nil
	}
	return "", invalid("tier must be one of community, solo, pro, business, enterprise")
}

// target reads the account an admin names. Errors: CodeValidation for a malformed id,
// ErrNotFound.
func (s *Service) target(ctx context.Context, id string) (User, error) {
	if err := validUserID(id); err != nil {
		return User{}, err
	}
	u, err := s.store.LockUser(ctx, id)
	if errors.Is(err, ErrNoRecord) {
		return User{}, ErrNotFound
	}
	return u, err
}

// GetUser returns one account with its live session count.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation, ErrNotFound.
func (s *Service) GetUser(ctx context.Context, p Principal, id string) (AdminUser, error) {
	if _, err := requireAdmin(p); err != nil {
		return AdminUser{}, err
	}
	u, err := s.target(ctx, id)
	if err != nil {
		return AdminUser{}, err
	}
	return s.detail(ctx, u)
}

// detail is u as GetUser shows it.
func (s *Service) detail(ctx context.Context, u User) (AdminUser, error) {
	now := s.now()
	sessions, err := s.store.UserSessions(ctx, u.ID, now)
	if err != nil {
		return AdminUser{}, err
	}
	v := u.adminView(now)
	v.SessionCount = len(sessions)
	return v, nil
}

// adminChange runs change on the target account inside one transaction, with the target's
// row locked, then returns the account as it stands. Errors: those of requireAdmin and
// target, CodeRateLimited, and change's.
func (s *Service) adminChange(ctx context.Context, p Principal, id string, change func(ctx context.Context, admin, u User, now time.Time) error) (AdminUser, error) {
	admin, err := requireAdmin(p)
	if err != nil {
		return AdminUser{}, err
	}
	if err := validUserID(id); err != nil {
		return AdminUser{}, err
	}
	if err := s.allowWrite(ctx, admin.ID); err != nil {
		return AdminUser{}, err
	}
	var out AdminUser
	queued := false
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		u, err := s.target(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if err := change(withQueued(ctx, &queued), admin, u, now); err != nil {
			return err
		}
		if u, err = s.store.LockUser(ctx, id); err != nil {
			return err
		}
		out, err = s.detail(ctx, u)
		return err
	})
	if err != nil {
		return AdminUser{}, err
	}
	if queued {
		s.onEnqueue()
	}
	return out, nil
}

type queuedKey struct{}

// withQueued lets a change say it queued an email, to wake the sender after the commit.
func withQueued(ctx context.Context, queued *bool) context.Context {
	return context.WithValue(ctx, queuedKey{}, queued)
}

func markQueued(ctx context.Context) {
	if q, ok := ctx.Value(queuedKey{}).(*bool); ok {
		*q = true
	}
}

// recordAs appends an event about userID caused by actor, in ctx's transaction.
func (s *Service) recordAs(ctx context.Context, userID, typ, actor string, detail map[string]string) error {
	id, err := s.newID("evt_", 12)
	if err != nil {
		return err
	}
	return s.store.AddEvent(ctx, Event{
		ID: id, UserID: userID, Type: typ, At: s.now(), IP: ClientIP(ctx), UserAgent: UserAgent(ctx),
		Actor: actor, Detail: detail,
	})
}

// SetPlan puts an account on a tier until an end date (none when nil). A paid tier ends any
// trial; community with no end removes the plan, and the trial does not come back. The
// effective tier is computed on every read, so the account's next request sees it.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation (unknown tier, an end not in the
// future, community with an end), ErrNotFound, CodeRateLimited.
func (s *Service) SetPlan(ctx context.Context, p Principal, id string, in PlanInput) (AdminUser, error) {
	if _, err := requireAdmin(p); err != nil {
		return AdminUser{}, err // before the input: a non-admin learns nothing from it
	}
	tier, err := parseTier(in.Tier)
	if err != nil {
		return AdminUser{}, err
	}
	if in.PlanExpiresAt != nil && !in.PlanExpiresAt.After(s.now()) {
		return AdminUser{}, invalid("planExpiresAt must be in the future")
	}
	if tier == TierCommunity && in.PlanExpiresAt != nil {
		return AdminUser{}, invalid("The community tier has no end date")
	}
	return s.adminChange(ctx, p, id, func(ctx context.Context, admin, u User, now time.Time) error {
		var end *time.Time
		if in.PlanExpiresAt != nil {
			t := in.PlanExpiresAt.UTC().Truncate(time.Millisecond)
			end = &t
		}
		if err := s.store.SetPlan(ctx, u.ID, tier, nil, end, now); err != nil {
			return err
		}
		detail := map[string]string{"tier": string(tier), "from": string(u.EffectiveTier(now))}
		if end != nil {
			detail["planExpiresAt"] = end.Format(time.RFC3339)
		}
		return s.recordAs(ctx, u.ID, EventPlanChanged, ActorAdmin(admin.ID), detail)
	})
}

// SuspendUser suspends an account: every session dies at once, every emailed link is
// voided, sign-in answers ErrSuspended and no reset email is sent until UnsuspendUser.
// Suspending a suspended account updates the reason.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation (reason not 1-500 characters),
// ErrNotFound, ErrConflict (the admin's own account), CodeRateLimited.
func (s *Service) SuspendUser(ctx context.Context, p Principal, id, reason string) (AdminUser, error) {
	if _, err := requireAdmin(p); err != nil {
		return AdminUser{}, err // before the input: a non-admin learns nothing from it
	}
	reason, err := validReason(reason)
	if err != nil {
		return AdminUser{}, err
	}
	return s.adminChange(ctx, p, id, func(ctx context.Context, admin, u User, now time.Time) error {
		if u.ID == admin.ID {
			return &Error{Kind: KindConflict, Code: CodeConflict, Message: "You cannot suspend your own account"}
		}
		since := now
		if u.SuspendedAt != nil {
			since = *u.SuspendedAt
		}
		if err := s.store.SetSuspended(ctx, u.ID, &since, reason, now); err != nil {
			return err
		}
		n, err := s.revokeSessions(ctx, u.ID, "", now)
		if err != nil {
			return err
		}
		if err := s.store.VoidTokens(ctx, u.ID); err != nil {
			return err
		}
		return s.recordAs(ctx, u.ID, EventSuspended, ActorAdmin(admin.ID), map[string]string{"reason": reason, "sessionsRevoked": strconv.Itoa(n)})
	})
}

// UnsuspendUser lifts a suspension; the account signs in again (its old sessions stay
// dead). An account that is not suspended is returned unchanged.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation, ErrNotFound, CodeRateLimited.
func (s *Service) UnsuspendUser(ctx context.Context, p Principal, id string) (AdminUser, error) {
	return s.adminChange(ctx, p, id, func(ctx context.Context, admin, u User, now time.Time) error {
		if !u.Suspended() {
			return nil
		}
		if err := s.store.SetSuspended(ctx, u.ID, nil, "", now); err != nil {
			return err
		}
		return s.recordAs(ctx, u.ID, EventUnsuspended, ActorAdmin(admin.ID), nil)
	})
}

// RevokeUserSessions ends every live session of an account at once (when it is the admin's
// own, every one but the calling session) and returns how many.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation, ErrNotFound, CodeRateLimited.
func (s *Service) RevokeUserSessions(ctx context.Context, p Principal, id string) (int, error) {
	var n int
	_, err := s.adminChange(ctx, p, id, func(ctx context.Context, admin, u User, now time.Time) error {
		keep := ""
		if u.ID == admin.ID {
			keep = p.SessionID
		}
		var err error
		if n, err = s.revokeSessions(ctx, u.ID, keep, now); err != nil {
			return err
		}
		return s.recordAs(ctx, u.ID, EventSessionsRevokedByAdmin, ActorAdmin(admin.ID), map[string]string{"count": strconv.Itoa(n)})
	})
	return n, err
}

// ResetUserTotp removes an account's second factor (secret, pending setup and backup codes)
// for someone who lost their device, and tells them by email. Their sessions stay.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation (reason not 1-500 characters),
// ErrNotFound, ErrTOTPNotEnabled (nothing to reset), CodeRateLimited.
func (s *Service) ResetUserTotp(ctx context.Context, p Principal, id, reason string) (AdminUser, error) {
	if _, err := requireAdmin(p); err != nil {
		return AdminUser{}, err // before the input: a non-admin learns nothing from it
	}
	reason, err := validReason(reason)
	if err != nil {
		return AdminUser{}, err
	}
	return s.adminChange(ctx, p, id, func(ctx context.Context, admin, u User, now time.Time) error {
		if !u.TOTPEnabled && u.TOTPPendingSecret == "" {
			return ErrTOTPNotEnabled
		}
		if err := s.store.DisableTOTP(ctx, u.ID, now); err != nil {
			return err
		}
		if err := s.recordAs(ctx, u.ID, EventTOTPResetByAdmin, ActorAdmin(admin.ID), map[string]string{"reason": reason}); err != nil {
			return err
		}
		markQueued(ctx)
		return s.notify(ctx, u, TemplateTOTPResetByAdmin)
	})
}

// DeleteUser erases an account exactly as its owner deleting it would (see DeleteAccount),
// the remaining account_deleted event naming the admin.
// Errors: ErrUnauthenticated, ErrForbidden, CodeValidation, ErrNotFound, ErrConflict (the
// admin's own account), CodeRateLimited.
func (s *Service) DeleteUser(ctx context.Context, p Principal, id string) error {
	admin, err := requireAdmin(p)
	if err != nil {
		return err
	}
	if err := validUserID(id); err != nil {
		return err
	}
	if id == admin.ID {
		return &Error{Kind: KindConflict, Code: CodeConflict, Message: "You cannot delete your own account from the admin plane"}
	}
	if err := s.allowWrite(ctx, admin.ID); err != nil {
		return err
	}
	return s.erase(ctx, id, ActorAdmin(admin.ID))
}

// ListAudit returns a page of events across every account, newest first, each naming its
// account. Errors: ErrUnauthenticated, ErrForbidden, CodeValidation (malformed user id,
// unknown type, limit outside 1-100), ErrInvalidCursor.
func (s *Service) ListAudit(ctx context.Context, p Principal, q AuditQuery) (ActivityPage, error) {
	if _, err := requireAdmin(p); err != nil {
		return ActivityPage{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return ActivityPage{}, err
	}
	if q.UserID != "" {
		if err := validUserID(q.UserID); err != nil {
			return ActivityPage{}, err
		}
	}
	if q.Type != "" && !slices.Contains(EventTypes, q.Type) {
		return ActivityPage{}, invalid("type must be one of the event types")
	}
	f := AuditFilter{UserID: q.UserID, Type: q.Type, Limit: limit + 1}
	if f.Before, err = s.pageAfter(scopeAudit, q.Cursor); err != nil {
		return ActivityPage{}, err
	}
	events, err := s.store.AuditEvents(ctx, f)
	if err != nil {
		return ActivityPage{}, err
	}
	page := ActivityPage{Events: events}
	if len(events) > limit {
		page.Events = events[:limit]
		last := page.Events[limit-1]
		page.NextCursor = s.cursor(scopeAudit, EventCursor{At: last.At, ID: last.ID})
	}
	return page, nil
}

// SetRole is the operator's grant (RoleAdmin) or revoke (RoleUser) of the admin role, by
// email; it is not reachable over the network. Setting the role an account already has
// changes nothing. Errors: CodeValidation (unknown role), ErrNotFound, ErrConflict (revoking
// the last admin).
func (s *Service) SetRole(ctx context.Context, email string, role Role) (Profile, error) {
	if role != RoleUser && role != RoleAdmin {
		return Profile{}, invalid("role must be user or admin")
	}
	email = NormalizeEmail(email)
	if err := validateEmail(email); err != nil {
		return Profile{}, err
	}
	var out Profile
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		// Admins first, then the target: the order every role change takes.
		admins, err := s.store.LockAdmins(ctx)
		if err != nil {
			return err
		}
		u, err := s.store.UserByEmail(ctx, email)
		if errors.Is(err, ErrNoRecord) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if u, err = s.store.LockUser(ctx, u.ID); err != nil {
			return err
		}
		now := s.now()
		if u.role() == role {
			out = u.profile(now)
			return nil
		}
		if role == RoleUser && len(admins) <= 1 {
			return &Error{Kind: KindConflict, Code: CodeConflict, Message: "The last admin cannot be revoked; grant another admin first"}
		}
		if err := s.store.SetRole(ctx, u.ID, role, now); err != nil {
			return err
		}
		if err := s.recordAs(ctx, u.ID, EventRoleChanged, ActorSystem, map[string]string{"role": string(role)}); err != nil {
			return err
		}
		u.Role = role
		out = u.profile(now)
		return nil
	})
	return out, err
}
