package store

import (
	"context"
	"time"
)

// SetPendingTOTP implements auth.SecondFactors.
func (s *Store) SetPendingTOTP(ctx context.Context, userID, sealed string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_pending_secret = ?", sealed).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Where("totp_enabled = ?", false).
		Exec(ctx)
	return affected("set pending totp", res, err)
}

// EnableTOTP implements auth.SecondFactors as one conditional UPDATE, so concurrent verifies
// and replays on any replica are decided by the database.
func (s *Store) EnableTOTP(ctx context.Context, userID, sealedPending string, step int64, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_enabled = ?", true).
		Set("totp_secret = totp_pending_secret").
		Set("totp_pending_secret = NULL").
		Set("totp_last_step = ?", step).
		Set("totp_enabled_at = ?", ms(at)).
		Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).
		Where("totp_enabled = ?", false).
		Where("totp_pending_secret = ?", sealedPending).
		Where("totp_last_step < ?", step).
		Exec(ctx)
	return affected("enable totp", res, err)
}

// AdvanceTOTPStep implements auth.SecondFactors as a compare-and-set on the last used step.
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_last_step = ?", step).
		Where("id = ?", userID).Where("totp_enabled = ?", true).Where("totp_last_step < ?", step).
		Exec(ctx)
	return affected("advance totp step", res, err)
}

// DisableTOTP implements auth.SecondFactors.
func (s *Store) DisableTOTP(ctx context.Context, userID string, at time.Time) error {
	return s.RunInTx(ctx, func(ctx context.Context) error {
		if _, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
			Set("totp_enabled = ?", false).Set("totp_secret = NULL").Set("totp_pending_secret = NULL").Set("totp_enabled_at = NULL").
			Set("updated_at = ?", ms(at)).
			Where("id = ?", userID).Exec(ctx); err != nil {
			return wrap("disable totp", err)
		}
		_, err := s.idb(ctx).NewDelete().Model((*backupCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
		return wrap("disable totp: backup codes", err)
	})
}

// ReplaceBackupCodes implements auth.SecondFactors.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string, at time.Time) error {
	return s.RunInTx(ctx, func(ctx context.Context) error {
		if _, err := s.idb(ctx).NewDelete().Model((*backupCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return wrap("replace backup codes", err)
		}
		rows := make([]backupCodeRow, len(hashes))
		for i, h := range hashes {
			rows[i] = backupCodeRow{UserID: userID, CodeHash: h, CreatedAt: ms(at)}
		}
		if len(rows) == 0 {
			return nil
		}
		_, err := s.idb(ctx).NewInsert().Model(&rows).Exec(ctx)
		return wrap("replace backup codes", err)
	})
}

// ConsumeBackupCode implements auth.SecondFactors: the conditional UPDATE lets exactly one of
// any number of concurrent uses win.
func (s *Store) ConsumeBackupCode(ctx context.Context, userID, hash string, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*backupCodeRow)(nil)).
		Set("used_at = ?", ms(at)).
		Where("user_id = ?", userID).Where("code_hash = ?", hash).Where("used_at IS NULL").
		Exec(ctx)
	return affected("consume backup code", res, err)
}

// CountBackupCodes implements auth.SecondFactors, counting unused codes.
func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	n, err := s.idb(ctx).NewSelect().Model((*backupCodeRow)(nil)).
		Where("user_id = ?", userID).Where("used_at IS NULL").Count(ctx)
	return int(n), wrap("count backup codes", err)
}
