package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

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

// UpdateName implements auth.Users.
func (s *Store) UpdateName(ctx context.Context, userID, name string, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("name = ?", name).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Exec(ctx)
	return wrap("update name", err)
}

// UpdateEmail implements auth.Users. Whether the address is free is decided by the unique
// index, inside the caller's transaction: a pre-check for a friendly answer, then the
// UPDATE, whose unique violation (a concurrent taker) also reads as "taken".
func (s *Store) UpdateEmail(ctx context.Context, userID, email string, at time.Time) (bool, error) {
	taken, err := s.idb(ctx).NewSelect().Model((*userRow)(nil)).
		Where("email = ?", email).Where("id <> ?", userID).Exists(ctx)
	if err != nil {
		return false, wrap("update email", err)
	}
	if taken {
		return false, nil
	}
	// Only a concurrent taker gets past the check; its unique violation also reads as
	// "taken" (on PostgreSQL it ends the caller's transaction, which must then roll back).
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("email = ?", email).Set("email_verified_at = ?", ms(at)).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Exec(ctx)
	if isUniqueViolation(err) {
		return false, nil
	}
	return affected("update email", res, err)
}

// ClaimVerificationEmail implements auth.Users as a compare-and-set on verification_sent_at.
func (s *Store) ClaimVerificationEmail(ctx context.Context, userID string, now time.Time, interval time.Duration) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("verification_sent_at = ?", ms(now)).
		Where("id = ?", userID).
		Where("(verification_sent_at IS NULL OR verification_sent_at <= ?)", ms(now.Add(-interval))).
		Exec(ctx)
	return affected("claim verification email", res, err)
}

// DeleteUser implements auth.Users: the rows that reference the user by foreign key
// (sessions, backup codes, one-time tokens) go with it by ON DELETE CASCADE, activity events
// (which have no foreign key) explicitly, all in the caller's transaction.
func (s *Store) DeleteUser(ctx context.Context, userID string) (bool, error) {
	var ok bool
	err := s.RunInTx(ctx, func(ctx context.Context) error {
		if _, err := s.idb(ctx).NewDelete().Model((*eventRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return wrap("delete user: activity", err)
		}
		res, err := s.idb(ctx).NewDelete().Model((*userRow)(nil)).Where("id = ?", userID).Exec(ctx)
		ok, err = affected("delete user", res, err)
		return err
	})
	return ok, err
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		return pe.Field('C') == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
