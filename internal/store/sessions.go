package store

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// CreateSession implements auth.Sessions.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session) error {
	row := sessionRow{
		ID: sess.ID, UserID: sess.UserID, CreatedAt: ms(sess.CreatedAt), ExpiresAt: ms(sess.ExpiresAt),
		LastSeenAt: ms(sess.LastSeenAt), IP: sess.IP, UserAgent: sess.UserAgent, Method: string(sess.Method),
	}
	_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
	return wrap("create session", err)
}

// ActiveSession implements auth.Sessions with a single indexed join, prepared once: it is the
// one query of every authenticated request.
func (s *Store) ActiveSession(ctx context.Context, sessionID string, now time.Time) (auth.Session, auth.User, error) {
	var row userRow
	var lastSeen int64
	dest := []any{
		&row.ID, &row.Email, &row.Name, &row.PasswordHash, &row.Tier, &row.TrialEndsAt, &row.TOTPEnabled,
		&row.CreatedAt, &row.UpdatedAt, &row.TOTPSecret, &row.TOTPPendingSecret, &row.TOTPLastStep, &row.EmailVerifiedAt,
		&row.TOTPEnabledAt, &row.Role, &row.PlanExpiresAt, &row.SuspendedAt, &row.SuspendedReason, &row.LastLoginAt,
		&lastSeen,
	}
	var err error
	if _, inTx := ctx.Value(txKey{}).(bun.Tx); !inTx && s.sessionUser != nil {
		err = s.sessionUser.QueryRowContext(ctx, sessionID, ms(now)).Scan(dest...)
	} else {
		q := strings.NewReplacer("$1", "?", "$2", "?").Replace(sessionUserSQL)
		err = s.idb(ctx).NewRaw(q, sessionID, ms(now)).Scan(ctx, dest...)
	}
	if err != nil {
		return auth.Session{}, auth.User{}, wrap("active session", err)
	}
	return auth.Session{ID: sessionID, UserID: row.ID, LastSeenAt: fromMS(lastSeen)}, row.domain(), nil
}

// TouchSession implements auth.Sessions: one conditional UPDATE, so replicas racing to
// refresh the same session write once.
func (s *Store) TouchSession(ctx context.Context, sessionID string, now, before time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("last_seen_at = ?", ms(now)).
		Where("id = ?", sessionID).Where("last_seen_at < ?", ms(before)).
		Exec(ctx)
	return wrap("touch session", err)
}

// UserSessions implements auth.Sessions.
func (s *Store) UserSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	var rows []sessionRow
	err := s.idb(ctx).NewSelect().Model(&rows).
		Where("user_id = ?", userID).Where("revoked_at IS NULL").Where("expires_at > ?", ms(now)).
		OrderExpr("created_at DESC, id DESC").
		Scan(ctx)
	if err != nil {
		return nil, wrap("user sessions", err)
	}
	out := make([]auth.Session, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RevokeSession implements auth.Sessions.
func (s *Store) RevokeSession(ctx context.Context, sessionID string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("revoked_at = ?", ms(at)).
		Where("id = ?", sessionID).Where("revoked_at IS NULL").
		Exec(ctx)
	return affected("revoke session", res, err)
}

// RevokeUserSession implements auth.Sessions: the user id is part of the condition, so one
// user can never revoke (or learn of) another's session.
func (s *Store) RevokeUserSession(ctx context.Context, userID, sessionID string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("revoked_at = ?", ms(at)).
		Where("id = ?", sessionID).Where("user_id = ?", userID).
		Where("revoked_at IS NULL").Where("expires_at > ?", ms(at)).
		Exec(ctx)
	return affected("revoke user session", res, err)
}

// RevokeUserSessions implements auth.Sessions.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep string, at time.Time) (int, error) {
	// Expired sessions are dead already: they are neither revoked again nor counted.
	q := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("revoked_at = ?", ms(at)).
		Where("user_id = ?", userID).Where("revoked_at IS NULL").Where("expires_at > ?", ms(at))
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("revoke user sessions", err)
}
