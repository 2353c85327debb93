package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

type signingKeyRow struct {
	bun.BaseModel `bun:"table:signing_keys,alias:sk"`

	KID           string `bun:"kid,pk"`
	Generation    int64  `bun:"generation"`
	PublicKey     string `bun:"public_key"`
	PrivateSealed string `bun:"private_sealed"`
	CreatedAt     int64  `bun:"created_at"`
	ActivatesAt   int64  `bun:"activates_at"`
}

type serviceKeyRow struct {
	bun.BaseModel `bun:"table:service_keys,alias:svk"`

	Name      string `bun:"name,pk"`
	KeyHash   string `bun:"key_hash"`
	Hint      string `bun:"hint"`
	CreatedAt int64  `bun:"created_at"`
}

func (r serviceKeyRow) domain() auth.ServiceKey {
	return auth.ServiceKey{Name: r.Name, Hash: r.KeyHash, Hint: r.Hint, CreatedAt: fromMS(r.CreatedAt)}
}

// SigningKeys implements auth.Keys.
func (s *Store) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	var rows []signingKeyRow
	if err := s.idb(ctx).NewSelect().Model(&rows).Order("generation").Scan(ctx); err != nil {
		return nil, wrap("signing keys", err)
	}
	out := make([]auth.SigningKey, len(rows))
	for i, r := range rows {
		pub, err := base64.RawURLEncoding.DecodeString(r.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("store: signing key %s: malformed public key", r.KID)
		}
		out[i] = auth.SigningKey{
			ID: r.KID, Generation: r.Generation, Public: pub, PrivateSealed: r.PrivateSealed,
			CreatedAt: fromMS(r.CreatedAt), ActivatesAt: fromMS(r.ActivatesAt),
		}
	}
	return out, nil
}

// AddSigningKey implements auth.Keys: the unique generation decides a race between replicas.
func (s *Store) AddSigningKey(ctx context.Context, k auth.SigningKey) (bool, error) {
	row := signingKeyRow{
		KID: k.ID, Generation: k.Generation, PublicKey: base64.RawURLEncoding.EncodeToString(k.Public),
		PrivateSealed: k.PrivateSealed, CreatedAt: ms(k.CreatedAt), ActivatesAt: ms(k.ActivatesAt),
	}
	res, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (generation) DO NOTHING").Exec(ctx)
	return affected("add signing key", res, err)
}

// CreateServiceKey implements auth.ServiceKeys.
func (s *Store) CreateServiceKey(ctx context.Context, k auth.ServiceKey) (bool, error) {
	row := serviceKeyRow{Name: k.Name, KeyHash: k.Hash, Hint: k.Hint, CreatedAt: ms(k.CreatedAt)}
	res, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (name) DO NOTHING").Exec(ctx)
	return affected("create service key", res, err)
}

// ServiceKeyByHash implements auth.ServiceKeys.
func (s *Store) ServiceKeyByHash(ctx context.Context, hash string) (auth.ServiceKey, error) {
	var row serviceKeyRow
	if err := s.idb(ctx).NewSelect().Model(&row).Where("key_hash = ?", hash).Scan(ctx); err != nil {
		return auth.ServiceKey{}, wrap("service key", err)
	}
	return row.domain(), nil
}

// ListServiceKeys implements auth.ServiceKeys.
func (s *Store) ListServiceKeys(ctx context.Context) ([]auth.ServiceKey, error) {
	var rows []serviceKeyRow
	if err := s.idb(ctx).NewSelect().Model(&rows).Order("name").Scan(ctx); err != nil {
		return nil, wrap("list service keys", err)
	}
	out := make([]auth.ServiceKey, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DeleteServiceKey implements auth.ServiceKeys.
func (s *Store) DeleteServiceKey(ctx context.Context, name string) (bool, error) {
	res, err := s.idb(ctx).NewDelete().Model((*serviceKeyRow)(nil)).Where("name = ?", name).Exec(ctx)
	return affected("delete service key", res, err)
}
