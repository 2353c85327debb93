package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// CreateSession implements auth.Sessions.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session) error {
	row := sessionRow{ID: sess.ID, UserID: sess.UserID, CreatedAt: ms(sess.CreatedAt), ExpiresAt: ms(sess.ExpiresAt)}
	_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
	return wrap("create session", err)
}

// ActiveSessionUser implements auth.Sessions with a single indexed join, prepared once: it
// is the one query of every authenticated request.
func (s *Store) ActiveSessionUser(ctx context.Context, sessionID string, now time.Time) (auth.User, error) {
	var row userRow
	if _, inTx := ctx.Value(txKey{}).(bun.Tx); !inTx && s.sessionUser != nil {
		err := s.sessionUser.QueryRowContext(ctx, sessionID, ms(now)).Scan(
			&row.ID, &row.Email, &row.Name, &row.PasswordHash, &row.Tier, &row.TrialEndsAt, &row.TOTPEnabled,
			&row.CreatedAt, &row.UpdatedAt, &row.TOTPSecret, &row.TOTPPendingSecret, &row.TOTPLastStep, &row.EmailVerifiedAt)
		if err != nil {
			return auth.User{}, wrap("active session user", err)
		}
		return row.domain(), nil
	}
	err := s.idb(ctx).NewSelect().Model(&row).
		Join("JOIN sessions AS s ON s.user_id = u.id").
		Where("s.id = ?", sessionID).
		Where("s.revoked_at IS NULL").
		Where("s.expires_at > ?", ms(now)).
		Scan(ctx)
	if err != nil {
		return auth.User{}, wrap("active session user", err)
	}
	return row.domain(), nil
}

// RevokeSession implements auth.Sessions.
func (s *Store) RevokeSession(ctx context.Context, sessionID string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("revoked_at = ?", ms(at)).
		Where("id = ?", sessionID).Where("revoked_at IS NULL").
		Exec(ctx)
	return affected("revoke session", res, err)
}

// RevokeUserSessions implements auth.Sessions.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("revoked_at = ?", ms(at)).
		Where("user_id = ?", userID).Where("revoked_at IS NULL").
		Exec(ctx)
	return wrap("revoke user sessions", err)
}
