package store

import (
	"context"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// SealedUsers implements auth.SealedSecrets: a keyset page by id.
func (s *Store) SealedUsers(ctx context.Context, afterID string, limit int) ([]auth.SealedUser, error) {
	var rows []userRow
	err := s.idb(ctx).NewSelect().Model(&rows).Column("id", "totp_secret", "totp_pending_secret").
		Where("u.id > ?", afterID).
		Where("(u.totp_secret IS NOT NULL OR u.totp_pending_secret IS NOT NULL)").
		Order("u.id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap("sealed users", err)
	}
	out := make([]auth.SealedUser, len(rows))
	for i, r := range rows {
		out[i] = auth.SealedUser{UserID: r.ID, Secret: deref(r.TOTPSecret), Pending: deref(r.TOTPPendingSecret)}
	}
	return out, nil
}

// ResealUser implements auth.SealedSecrets as one conditional UPDATE on both secrets.
func (s *Store) ResealUser(ctx context.Context, old, next auth.SealedUser) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_secret = ?", strPtr(next.Secret)).
		Set("totp_pending_secret = ?", strPtr(next.Pending)).
		Where("id = ?", old.UserID).
		Apply(equalsOrNull("totp_secret", old.Secret), equalsOrNull("totp_pending_secret", old.Pending)).
		Exec(ctx)
	return affected("reseal user", res, err)
}

// ResealSigningKey implements auth.SealedSecrets as a compare-and-set on private_sealed.
func (s *Store) ResealSigningKey(ctx context.Context, kid, old, next string) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*signingKeyRow)(nil)).
		Set("private_sealed = ?", next).Where("kid = ?", kid).Where("private_sealed = ?", old).Exec(ctx)
	return affected("reseal signing key", res, err)
}

// equalsOrNull matches column = v, or column IS NULL when v is "" (portable, unlike
// IS NOT DISTINCT FROM).
func equalsOrNull(column, v string) func(*bun.UpdateQuery) *bun.UpdateQuery {
	return func(q *bun.UpdateQuery) *bun.UpdateQuery {
		if v == "" {
			return q.Where("? IS NULL", bun.Ident(column))
		}
		return q.Where("? = ?", bun.Ident(column), v)
	}
}
