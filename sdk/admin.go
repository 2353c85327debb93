package sdk

// The admin plane: operators find accounts, change plans, suspend, reset a lost second
// factor, delete, and read the audit trail. Every call needs the token of an admin; anyone
// else gets ErrForbidden.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"panguard.ai/auth/sdk/apitime"
	"panguard.ai/auth/sdk/rest"
)

// AdminClient calls the admin operations with its Client's token. Get one with Client.Admin.
type AdminClient struct{ c *Client }

// Admin returns the admin operations of c.
func (c *Client) Admin() *AdminClient { return &AdminClient{c: c} }

// AdminUser is an account as an admin sees it.
type AdminUser struct {
	User
	Suspended       bool
	SuspendedAt     *time.Time
	SuspendedReason string
	LastLoginAt     *time.Time // nil: never signed in
	// SessionCount is the live sessions; -1 in ListUsers, which does not count them.
	SessionCount int
}

func adminUser(u rest.AdminUser) AdminUser {
	out := AdminUser{
		User: User{
			ID: u.Id, Email: u.Email, Name: u.Name, Tier: string(u.Tier), TOTPEnabled: u.TotpEnabled,
			MachineLimit: u.MachineLimit, TrialEndsAt: timePtr(u.TrialEndsAt), EmailVerified: u.EmailVerified,
			Role: string(u.Role), PlanExpiresAt: timePtr(u.PlanExpiresAt), CreatedAt: u.CreatedAt.Time, UpdatedAt: u.UpdatedAt.Time,
		},
		Suspended: u.Suspended, SuspendedAt: timePtr(u.SuspendedAt), LastLoginAt: timePtr(u.LastLoginAt), SessionCount: -1,
	}
	if u.SuspendedReason != nil {
		out.SuspendedReason = *u.SuspendedReason
	}
	if u.SessionCount != nil {
		out.SessionCount = *u.SessionCount
	}
	return out
}

// UserQuery filters ListUsers. The zero value lists every account, 50 per page.
type UserQuery struct {
	Query  string // case-insensitive substring of the email or name, taken literally
	Tier   string // effective tier; "" for any
	Limit  int    // 1-100; 0 for the default, 50
	Cursor string // the NextCursor of the previous page
}

// UserPage is a page of accounts, newest first; NextCursor is "" on the last page.
type UserPage struct {
	Users      []AdminUser
	NextCursor string
}

func optional[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

// ListUsers returns a page of accounts, newest first.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation (unknown tier, limit out of range),
// ErrInvalidCursor.
func (a *AdminClient) ListUsers(ctx context.Context, q UserQuery) (*UserPage, error) {
	params := &rest.ListUsersParams{Query: optional[string](q.Query), Tier: optional[rest.Tier](q.Tier), Cursor: optional[string](q.Cursor)}
	if q.Limit != 0 {
		params.Limit = &q.Limit
	}
	r, err := a.c.api.ListUsersWithResponse(ctx, params, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: list users: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	p := &UserPage{Users: make([]AdminUser, len(r.JSON200.Data.Users))}
	for i, u := range r.JSON200.Data.Users {
		p.Users[i] = adminUser(u)
	}
	if r.JSON200.Data.NextCursor != nil {
		p.NextCursor = *r.JSON200.Data.NextCursor
	}
	return p, nil
}

// GetUser returns one account with its live session count.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation (malformed id), ErrNotFound.
func (a *AdminClient) GetUser(ctx context.Context, id string) (*AdminUser, error) {
	r, err := a.c.api.GetUserWithResponse(ctx, id, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: get user: %w", err)
	}
	return adminResult(r.JSON200, r.StatusCode(), r.HTTPResponse.Header, r.Body)
}

func adminResult(env *rest.AdminUserEnvelope, status int, h http.Header, body []byte) (*AdminUser, error) {
	if env == nil {
		return nil, responseError(status, h, body)
	}
	u := adminUser(env.Data)
	return &u, nil
}

// SetPlan puts the account on tier (community, solo, pro, business or enterprise) until
// expiresAt, or with no end when expiresAt is nil. A paid tier ends any trial; community
// with no end removes the plan.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation (unknown tier, an end not in the
// future, community with an end, malformed id), ErrNotFound, ErrRateLimited.
func (a *AdminClient) SetPlan(ctx context.Context, id, tier string, expiresAt *time.Time) (*AdminUser, error) {
	r, err := a.c.api.SetPlanWithResponse(ctx, id, rest.PlanRequest{Tier: tier, PlanExpiresAt: apitime.Ptr(expiresAt)}, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: set plan: %w", err)
	}
	return adminResult(r.JSON200, r.StatusCode(), r.HTTPResponse.Header, r.Body)
}

// SuspendUser suspends the account (reason: 1-500 characters): every session ends at once
// and signing in answers ErrSuspended until UnsuspendUser.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation, ErrNotFound, ErrConflict (your
// own account), ErrRateLimited.
func (a *AdminClient) SuspendUser(ctx context.Context, id, reason string) (*AdminUser, error) {
	r, err := a.c.api.SuspendUserWithResponse(ctx, id, rest.ReasonRequest{Reason: reason}, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: suspend user: %w", err)
	}
	return adminResult(r.JSON200, r.StatusCode(), r.HTTPResponse.Header, r.Body)
}

// UnsuspendUser lifts a suspension. Errors: ErrUnauthenticated, ErrForbidden, ErrValidation,
// ErrNotFound, ErrRateLimited.
func (a *AdminClient) UnsuspendUser(ctx context.Context, id string) (*AdminUser, error) {
	r, err := a.c.api.UnsuspendUserWithResponse(ctx, id, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: unsuspend user: %w", err)
	}
	return adminResult(r.JSON200, r.StatusCode(), r.HTTPResponse.Header, r.Body)
}

// RevokeUserSessions ends every session of the account and returns how many.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation, ErrNotFound, ErrRateLimited.
func (a *AdminClient) RevokeUserSessions(ctx context.Context, id string) (int, error) {
	r, err := a.c.api.RevokeUserSessionsWithResponse(ctx, id, a.c.auth)
	if err != nil {
		return 0, fmt.Errorf("sdk: revoke user sessions: %w", err)
	}
	if r.JSON200 == nil {
		return 0, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Revoked, nil
}

// ResetUserTotp removes the account's second factor and backup codes (reason: 1-500
// characters); the owner gets an email.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation, ErrNotFound, ErrTOTPNotEnabled,
// ErrRateLimited.
func (a *AdminClient) ResetUserTotp(ctx context.Context, id, reason string) (*AdminUser, error) {
	r, err := a.c.api.ResetUserTotpWithResponse(ctx, id, rest.ReasonRequest{Reason: reason}, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: reset user 2FA: %w", err)
	}
	return adminResult(r.JSON200, r.StatusCode(), r.HTTPResponse.Header, r.Body)
}

// DeleteUser erases the account as its owner deleting it would.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation, ErrNotFound, ErrConflict (your
// own account), ErrRateLimited.
func (a *AdminClient) DeleteUser(ctx context.Context, id string) error {
	r, err := a.c.api.DeleteUserWithResponse(ctx, id, a.c.auth)
	if err != nil {
		return fmt.Errorf("sdk: delete user: %w", err)
	}
	if r.JSON200 == nil {
		return responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return nil
}

// AuditQuery filters ListAudit. The zero value lists every event, 50 per page.
type AuditQuery struct {
	UserID string // one account's events only
	Type   string // one event type only (e.g. "suspended")
	Limit  int    // 1-100; 0 for the default, 50
	Cursor string // the NextCursor of the previous page
}

// ListAudit returns a page of the events of every account, newest first, each with UserID.
// Errors: ErrUnauthenticated, ErrForbidden, ErrValidation (malformed user id, unknown type,
// limit out of range), ErrInvalidCursor.
func (a *AdminClient) ListAudit(ctx context.Context, q AuditQuery) (*ActivityPage, error) {
	params := &rest.ListAuditParams{UserId: optional[string](q.UserID), Type: optional[rest.EventType](q.Type), Cursor: optional[string](q.Cursor)}
	if q.Limit != 0 {
		params.Limit = &q.Limit
	}
	r, err := a.c.api.ListAuditWithResponse(ctx, params, a.c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: list audit: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	p := &ActivityPage{Events: events(r.JSON200.Data.Events)}
	if r.JSON200.Data.NextCursor != nil {
		p.NextCursor = *r.JSON200.Data.NextCursor
	}
	return p, nil
}
