package store

import (
	"context"
	"fmt"
	"time"

	"panguard.ai/auth/internal/auth"
)

// CreateResetToken implements auth.Store: older unused tokens of the user are voided
// (deleted), so only the newest link works.
func (s *Store) CreateResetToken(ctx context.Context, t auth.ResetToken) error {
	return s.RunInTx(ctx, func(ctx context.Context) error {
		if _, err := s.idb(ctx).NewDelete().Model((*resetTokenRow)(nil)).
			Where("user_id = ?", t.UserID).Where("used_at IS NULL").Exec(ctx); err != nil {
			return err
		}
		row := resetTokenRow{TokenHash: t.Hash, UserID: t.UserID, CreatedAt: ms(t.CreatedAt), ExpiresAt: ms(t.ExpiresAt)}
		_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
		return err
	})
}

// VoidResetTokens implements auth.Store.
func (s *Store) VoidResetTokens(ctx context.Context, userID string) error {
	_, err := s.idb(ctx).NewDelete().Model((*resetTokenRow)(nil)).
		Where("user_id = ?", userID).Where("used_at IS NULL").Exec(ctx)
	return err
}

// ResetTokenUser implements auth.Store.
func (s *Store) ResetTokenUser(ctx context.Context, hash string) (string, error) {
	var userID string
	if err := s.idb(ctx).NewSelect().Model((*resetTokenRow)(nil)).Column("user_id").
		Where("token_hash = ?", hash).Scan(ctx, &userID); err != nil {
		return "", noRecord(err)
	}
	return userID, nil
}

// ConsumeResetToken implements auth.Store with one conditional UPDATE … RETURNING, so a
// token can be used once even under concurrent resets.
func (s *Store) ConsumeResetToken(ctx context.Context, hash string, now time.Time) (string, error) {
	var userID string
	err := s.idb(ctx).NewUpdate().Model((*resetTokenRow)(nil)).
		Set("used_at = ?", ms(now)).
		Where("token_hash = ?", hash).Where("used_at IS NULL").Where("expires_at > ?", ms(now)).
		Returning("user_id").
		Scan(ctx, &userID)
	if err != nil {
		return "", noRecord(err)
	}
	return userID, nil
}

// ClaimDuplicateNotice implements auth.Store as a compare-and-set on duplicate_notice_at.
func (s *Store) ClaimDuplicateNotice(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error) {
	return affected(s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("duplicate_notice_at = ?", ms(now)).
		Where("id = ?", userID).
		Where("(duplicate_notice_at IS NULL OR duplicate_notice_at <= ?)", ms(now.Add(-interval))).
		Exec(ctx))
}

// MarkEmailVerified implements auth.Store: it records at as the moment the user's address
// was proved, unless it already was, reporting whether it changed anything.
func (s *Store) MarkEmailVerified(ctx context.Context, userID string, at time.Time) (bool, error) {
	ok, err := affected(s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("email_verified_at = ?", ms(at)).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Where("email_verified_at IS NULL").
		Exec(ctx))
	if err != nil {
		return false, fmt.Errorf("store: mark email verified: %w", err)
	}
	return ok, nil
}
