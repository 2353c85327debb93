package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// CreateToken implements auth.OneTimeTokens: older unused tokens of the user with the same
// purpose are voided (deleted), so only the newest link works.
func (s *Store) CreateToken(ctx context.Context, t auth.OneTimeToken) error {
	return s.RunInTx(ctx, func(ctx context.Context) error {
		if err := s.VoidTokens(ctx, t.UserID, t.Purpose); err != nil {
			return err
		}
		row := oneTimeTokenRow{TokenHash: t.Hash, Purpose: string(t.Purpose), UserID: t.UserID, Data: strPtr(t.Data), CreatedAt: ms(t.CreatedAt), ExpiresAt: ms(t.ExpiresAt)}
		_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
		return wrap("create token", err)
	})
}

// VoidTokens implements auth.OneTimeTokens.
func (s *Store) VoidTokens(ctx context.Context, userID string, purposes ...auth.Purpose) error {
	q := s.idb(ctx).NewDelete().Model((*oneTimeTokenRow)(nil)).
		Where("user_id = ?", userID).Where("used_at IS NULL")
	if len(purposes) > 0 {
		q = q.Where("purpose IN (?)", bun.List(purposes))
	}
	_, err := q.Exec(ctx)
	return wrap("void tokens", err)
}

// TokenUser implements auth.OneTimeTokens.
func (s *Store) TokenUser(ctx context.Context, purpose auth.Purpose, hash string) (string, error) {
	var userID string
	err := s.idb(ctx).NewSelect().Model((*oneTimeTokenRow)(nil)).Column("user_id").
		Where("token_hash = ?", hash).Where("purpose = ?", string(purpose)).Scan(ctx, &userID)
	return userID, wrap("token user", err)
}

// ConsumeToken implements auth.OneTimeTokens with one conditional UPDATE … RETURNING, so a
// token can be used once even under concurrent requests.
func (s *Store) ConsumeToken(ctx context.Context, purpose auth.Purpose, hash string, now time.Time) (auth.OneTimeToken, error) {
	var row oneTimeTokenRow
	err := s.idb(ctx).NewUpdate().Model(&row).
		Set("used_at = ?", ms(now)).
		Where("token_hash = ?", hash).Where("purpose = ?", string(purpose)).
		Where("used_at IS NULL").Where("expires_at > ?", ms(now)).
		Returning("*").
		Scan(ctx)
	if err != nil {
		return auth.OneTimeToken{}, wrap("consume token", err)
	}
	return row.domain(), nil
}
