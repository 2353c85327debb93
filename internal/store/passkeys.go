package store

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

type passkeyRow struct {
	bun.BaseModel `bun:"table:passkeys,alias:pk"`

	ID             string `bun:"id,pk"`
	UserID         string `bun:"user_id"`
	CredentialID   string `bun:"credential_id"`
	PublicKey      string `bun:"public_key"`
	SignCount      int64  `bun:"sign_count"`
	Transports     string `bun:"transports"`
	AAGUID         string `bun:"aaguid"`
	AttestationFmt string `bun:"attestation_fmt"`
	UserVerified   bool   `bun:"user_verified"`
	BackupEligible bool   `bun:"backup_eligible"`
	BackupState    bool   `bun:"backup_state"`
	Name           string `bun:"name"`
	CreatedAt      int64  `bun:"created_at"`
	LastUsedAt     *int64 `bun:"last_used_at"`
}

type challengeRow struct {
	bun.BaseModel `bun:"table:webauthn_challenges,alias:wc"`

	ID        string  `bun:"id,pk"`
	UserID    *string `bun:"user_id"`
	Kind      string  `bun:"kind"`
	Session   string  `bun:"session"`
	CreatedAt int64   `bun:"created_at"`
	ExpiresAt int64   `bun:"expires_at"`
	UsedAt    *int64  `bun:"used_at"`
}

// b64 is how binary WebAuthn values are kept in TEXT columns, portable across both databases.
var b64 = base64.RawURLEncoding

func unb64(s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func (r passkeyRow) domain() auth.Passkey {
	pk := auth.Passkey{
		ID: r.ID, UserID: r.UserID, CredentialID: unb64(r.CredentialID), PublicKey: unb64(r.PublicKey),
		SignCount: uint32(r.SignCount), AAGUID: unb64(r.AAGUID), AttestationFormat: r.AttestationFmt,
		UserVerified: r.UserVerified, BackupEligible: r.BackupEligible, BackupState: r.BackupState,
		Name: r.Name, CreatedAt: fromMS(r.CreatedAt), LastUsedAt: fromMSPtr(r.LastUsedAt),
	}
	if r.Transports != "" {
		pk.Transports = strings.Split(r.Transports, ",")
	}
	return pk
}

// CreatePasskey implements auth.Passkeys: the unique credential id decides, so of two
// registrations of one credential (by any accounts) exactly one is stored.
func (s *Store) CreatePasskey(ctx context.Context, pk auth.Passkey) (bool, error) {
	row := passkeyRow{
		ID: pk.ID, UserID: pk.UserID, CredentialID: b64.EncodeToString(pk.CredentialID), PublicKey: b64.EncodeToString(pk.PublicKey),
		SignCount: int64(pk.SignCount), Transports: strings.Join(pk.Transports, ","), AAGUID: b64.EncodeToString(pk.AAGUID),
		AttestationFmt: pk.AttestationFormat, UserVerified: pk.UserVerified, BackupEligible: pk.BackupEligible, BackupState: pk.BackupState,
		Name: pk.Name, CreatedAt: ms(pk.CreatedAt), LastUsedAt: msPtr(pk.LastUsedAt),
	}
	res, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (credential_id) DO NOTHING").Exec(ctx)
	return affected("create passkey", res, err)
}

// PasskeyByCredentialID implements auth.Passkeys.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (auth.Passkey, error) {
	var row passkeyRow
	err := s.idb(ctx).NewSelect().Model(&row).Where("credential_id = ?", b64.EncodeToString(credentialID)).Scan(ctx)
	if err != nil {
		return auth.Passkey{}, wrap("passkey by credential", err)
	}
	return row.domain(), nil
}

// UserPasskeys implements auth.Passkeys.
func (s *Store) UserPasskeys(ctx context.Context, userID string) ([]auth.Passkey, error) {
	var rows []passkeyRow
	err := s.idb(ctx).NewSelect().Model(&rows).Where("user_id = ?", userID).OrderExpr("created_at ASC, id ASC").Scan(ctx)
	if err != nil {
		return nil, wrap("user passkeys", err)
	}
	out := make([]auth.Passkey, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RenamePasskey implements auth.Passkeys.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*passkeyRow)(nil)).Set("name = ?", name).
		Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	return affected("rename passkey", res, err)
}

// DeletePasskey implements auth.Passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) (bool, error) {
	res, err := s.idb(ctx).NewDelete().Model((*passkeyRow)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	return affected("delete passkey", res, err)
}

// DeletePasskeysBefore implements auth.Passkeys.
func (s *Store) DeletePasskeysBefore(ctx context.Context, userID string, t time.Time) ([]string, error) {
	var ids []string
	if err := s.idb(ctx).NewSelect().Model((*passkeyRow)(nil)).Column("id").
		Where("user_id = ?", userID).Where("created_at <= ?", ms(t)).Scan(ctx, &ids); err != nil {
		return nil, wrap("delete passkeys before", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	_, err := s.idb(ctx).NewDelete().Model((*passkeyRow)(nil)).
		Where("user_id = ?", userID).Where("id IN (?)", bun.List(ids)).Exec(ctx)
	return ids, wrap("delete passkeys before", err)
}

// UsePasskey implements auth.Passkeys as a compare-and-set on sign_count.
func (s *Store) UsePasskey(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, at time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*passkeyRow)(nil)).
		Set("sign_count = ?", int64(newCount)).Set("backup_state = ?", backupState).Set("last_used_at = ?", ms(at)).
		Where("id = ?", id).Where("sign_count = ?", int64(oldCount)).Exec(ctx)
	return affected("use passkey", res, err)
}

// CreateChallenge implements auth.Passkeys.
func (s *Store) CreateChallenge(ctx context.Context, c auth.Challenge) error {
	row := challengeRow{ID: c.ID, UserID: strPtr(c.UserID), Kind: c.Kind, Session: string(c.Session), CreatedAt: ms(c.CreatedAt), ExpiresAt: ms(c.ExpiresAt)}
	_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
	return wrap("create challenge", err)
}

// ConsumeChallenge implements auth.Passkeys with one conditional UPDATE … RETURNING, so a
// challenge is used once even when replicas race for it.
func (s *Store) ConsumeChallenge(ctx context.Context, id, kind, userID string, now time.Time) (auth.Challenge, error) {
	var row challengeRow
	q := s.idb(ctx).NewUpdate().Model(&row).Set("used_at = ?", ms(now)).
		Where("id = ?", id).Where("kind = ?", kind).Where("used_at IS NULL").Where("expires_at > ?", ms(now))
	if userID == "" {
		q = q.Where("user_id IS NULL")
	} else {
		q = q.Where("user_id = ?", userID)
	}
	if err := q.Returning("*").Scan(ctx); err != nil {
		return auth.Challenge{}, wrap("consume challenge", err)
	}
	c := auth.Challenge{ID: row.ID, Kind: row.Kind, Session: []byte(row.Session), CreatedAt: fromMS(row.CreatedAt), ExpiresAt: fromMS(row.ExpiresAt)}
	if row.UserID != nil {
		c.UserID = *row.UserID
	}
	return c, nil
}
