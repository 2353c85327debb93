package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// CreateUser implements auth.Users.
func (s *Store) CreateUser(ctx context.Context, u auth.User) (bool, error) {
	row := toUserRow(u)
	// ON CONFLICT DO NOTHING lets the unique index decide races between concurrent
	// registrations of one email without an error on either database.
	res, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (email) DO NOTHING").Exec(ctx)
	return affected("create user", res, err)
}

// UserByEmail implements auth.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	var row userRow
	if err := s.idb(ctx).NewSelect().Model(&row).Where("u.email = ?", email).Scan(ctx); err != nil {
		return auth.User{}, wrap("user by email", err)
	}
	return row.domain(), nil
}

// LockUser implements auth.Users: SELECT … FOR UPDATE on PostgreSQL; on SQLite every write
// transaction already holds the database's write lock (immediate transactions).
func (s *Store) LockUser(ctx context.Context, id string) (auth.User, error) {
	var row userRow
	q := s.idb(ctx).NewSelect().Model(&row).Where("u.id = ?", id)
	if _, inTx := ctx.Value(txKey{}).(bun.Tx); inTx && s.dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return auth.User{}, wrap("lock user", err)
	}
	return row.domain(), nil
}

// UpdatePasswordHash implements auth.Users.
func (s *Store) UpdatePasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("password_hash = ?", hash).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Exec(ctx)
	return wrap("update password hash", err)
}

// ClaimDuplicateNotice implements auth.Users as a compare-and-set on duplicate_notice_at.
func (s *Store) ClaimDuplicateNotice(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("duplicate_notice_at = ?", ms(now)).
		Where("id = ?", userID).
		Where("(duplicate_notice_at IS NULL OR duplicate_notice_at <= ?)", ms(now.Add(-interval))).
		Exec(ctx)
	return affected("claim duplicate notice", res, err)
}

// MarkEmailVerified implements auth.Users: it records at as the moment the user's address
// was proved, unless it already was.
func (s *Store) MarkEmailVerified(ctx context.Context, userID string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("email_verified_at = ?", ms(at)).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Where("email_verified_at IS NULL").
		Exec(ctx)
	return affected("mark email verified", res, err)
}
