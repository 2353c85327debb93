package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Tokens are signed with Ed25519 keys kept in the database, so other services can check
// them against the published public halves (the JWKS) without any shared secret. Keys rotate:
// a new key is created and published KeyLeadTime before it signs anything, so a verifier with
// a cached JWKS never meets an unknown kid; a key stops signing when the next one activates,
// and its public half stays published until the last token it signed has expired.

// KeyLeadTime is how long a new key is published before it signs: twice the JWKS cache age
// (five minutes), so every verifier's cached copy has it by then.
const KeyLeadTime = 10 * time.Minute

// DefaultKeyRotation is how long a key signs before the next one takes over.
const DefaultKeyRotation = 30 * 24 * time.Hour

// SigningKey is one generation of token-signing key.
type SigningKey struct {
	ID         string // the JWT kid
	Generation int64
	Public     ed25519.PublicKey
	// PrivateSealed is the private key sealed with the encryption key.
	PrivateSealed string
	CreatedAt     time.Time
	// ActivatesAt is when the key starts signing (it is published from CreatedAt).
	ActivatesAt time.Time
}

// KeyStatus is a key as the operator's `keys list` shows it.
type KeyStatus struct {
	SigningKey
	// RetiresAt is when the next key took or takes over (nil while this is the newest);
	// UnpublishedAt when its public half leaves the JWKS (nil while it may still sign).
	RetiresAt, UnpublishedAt *time.Time
	Signing, Published       bool
}

// Keys keeps the token-signing keys.
type Keys interface {
	// SigningKeys returns every key, by generation.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k unless its generation exists, reporting whether it did.
	AddSigningKey(ctx context.Context, k SigningKey) (bool, error)
}

// keyring is an immutable snapshot of the keys a replica signs and verifies with.
type keyring struct {
	keys []SigningKey // by generation
	pub  map[string]ed25519.PublicKey
	priv map[string]ed25519.PrivateKey
	// legacyBefore is when the first Ed25519 key was made: only HS256 tokens issued before
	// it are accepted (nothing after it was signed with the shared secret).
	legacyBefore time.Time
}

// signer is the key that signs at now: the newest generation whose activation has passed.
func (r *keyring) signer(now time.Time) (SigningKey, ed25519.PrivateKey, bool) {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if k := r.keys[i]; !now.Before(k.ActivatesAt) {
			return k, r.priv[k.ID], true
		}
	}
	return SigningKey{}, nil, false
}

// status says, for every key, whether it signs and whether it is published at now, given
// tokens live ttl (plus leeway).
func (r *keyring) status(now time.Time, ttl time.Duration) []KeyStatus {
	out := make([]KeyStatus, len(r.keys))
	signing, _, hasSigner := r.signer(now)
	for i, k := range r.keys {
		st := KeyStatus{SigningKey: k, Signing: hasSigner && k.ID == signing.ID}
		if i+1 < len(r.keys) {
			retires := r.keys[i+1].ActivatesAt
			gone := retires.Add(ttl)
			st.RetiresAt, st.UnpublishedAt = &retires, &gone
		}
		st.Published = st.UnpublishedAt == nil || now.Before(*st.UnpublishedAt)
		out[i] = st
	}
	return out
}

func (s *Service) sealKey(kid string, priv ed25519.PrivateKey) (string, error) {
	return s.sealer.seal(base64.RawStdEncoding.EncodeToString(priv), signingKeyAD(kid))
}

func (s *Service) openKey(k SigningKey) (ed25519.PrivateKey, error) {
	raw, err := s.sealer.open(k.PrivateSealed, signingKeyAD(k.ID))
	if err != nil {
		return nil, s.unsealable("signing key " + k.ID)
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(b) != ed25519.PrivateKeySize {
		return nil, s.unsealable("signing key " + k.ID)
	}
	priv := ed25519.PrivateKey(b)
	if !priv.Public().(ed25519.PublicKey).Equal(k.Public) {
		return nil, s.unsealable("signing key " + k.ID)
	}
	return priv, nil
}

// ErrKeyUnsealable is a stored secret (a signing key, the code key, a TOTP secret) that no
// configured encryption key opens: the service was started with another
// PANGUARD_ENCRYPTION_KEY than the one that sealed it. Errors returned match it with
// errors.Is and are an *UnsealableError naming the value.
var ErrKeyUnsealable = errors.New("auth: the secrets in the database were sealed with another encryption key than the configured one (PANGUARD_ENCRYPTION_KEY); start with the key they were sealed with")

// LoadKeys reads the signing keys from the store and makes them the ones this replica signs
// and verifies with. Replicas call it periodically (well within KeyLeadTime), so a key any
// replica adds is known everywhere before it signs. Errors: ErrKeyUnsealable, store failures.
func (s *Service) LoadKeys(ctx context.Context) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Generation < keys[j].Generation })
	r := &keyring{keys: keys, pub: map[string]ed25519.PublicKey{}, priv: map[string]ed25519.PrivateKey{}}
	for i, k := range keys {
		priv, err := s.openKey(k)
		if err != nil {
			return err
		}
		r.pub[k.ID], r.priv[k.ID] = k.Public, priv
		if i == 0 {
			r.legacyBefore = k.CreatedAt
		}
	}
	s.tokens.keys.Store(r)
	s.keysLoadedAt.Store(time.Now().UnixNano())
	return nil
}

// newSigningKey makes generation gen, signing from activates.
func (s *Service) newSigningKey(gen int64, now, activates time.Time) (SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(s.rand)
	if err != nil {
		return SigningKey{}, fmt.Errorf("auth: generate signing key: %w", err)
	}
	id, err := s.newID("k", 8)
	if err != nil {
		return SigningKey{}, err
	}
	sealed, err := s.sealKey(id, priv)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: id, Generation: gen, Public: pub, PrivateSealed: sealed, CreatedAt: now, ActivatesAt: activates}, nil
}

// RotateKeys adds the next signing key when one is due — the newest key has signed for the
// rotation period less the lead time, and no newer key is waiting — or, with force, in any
// case. The new key is published now and signs from KeyLeadTime on; the very first key signs
// at once (no token exists to be checked against an older JWKS). Replicas rotating at once
// race on the generation number: exactly one new key results, and every caller then loads
// it. It reports the key added, if this call added one. Errors: ErrKeyUnsealable, store
// failures.
func (s *Service) RotateKeys(ctx context.Context, force bool) (*SigningKey, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var latest *SigningKey
	for i := range keys {
		if latest == nil || keys[i].Generation > latest.Generation {
			latest = &keys[i]
		}
	}
	var k SigningKey
	switch {
	case latest == nil:
		k, err = s.newSigningKey(1, now, now)
	case force || (!now.Before(latest.ActivatesAt.Add(s.keyRotation-KeyLeadTime)) && !latest.ActivatesAt.After(now)):
		k, err = s.newSigningKey(latest.Generation+1, now, now.Add(KeyLeadTime))
	default:
		return nil, s.LoadKeys(ctx)
	}
	if err != nil {
		return nil, err
	}
	added, err := s.store.AddSigningKey(ctx, k)
	if err != nil {
		return nil, err
	}
	if err := s.LoadKeys(ctx); err != nil {
		return nil, err
	}
	if !added {
		return nil, nil // another replica made this generation
	}
	return &k, nil
}

// PublicKey is a public half as the JWKS publishes it.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// jwksFreshness is how stale the keys behind a JWKS answer may be: a key the operator added
// reaches every replica's JWKS within it, long before it signs.
const jwksFreshness = 10 * time.Second

// JWKS returns the public keys to publish now: every key that signs, will sign, or signed a
// token that has not yet expired. It reloads the keys first when they are older than
// jwksFreshness; if that fails it answers from the keys it has (they are still right until
// another key activates, which is at least KeyLeadTime away).
func (s *Service) JWKS(ctx context.Context) []PublicKey {
	if time.Since(time.Unix(0, s.keysLoadedAt.Load())) > jwksFreshness {
		_ = s.LoadKeys(ctx)
	}
	r := s.tokens.keys.Load()
	if r == nil {
		return nil
	}
	var out []PublicKey
	for _, st := range r.status(s.now(), s.ttl+s.tokens.leeway) {
		if st.Published {
			out = append(out, PublicKey{ID: st.ID, Key: st.Public})
		}
	}
	return out
}

// KeyStatuses lists every signing key with whether it signs and is published now, for the
// operator. Errors: store failures, ErrKeyUnsealable.
func (s *Service) KeyStatuses(ctx context.Context) ([]KeyStatus, error) {
	if err := s.LoadKeys(ctx); err != nil {
		return nil, err
	}
	return s.tokens.keys.Load().status(s.now(), s.ttl+s.tokens.leeway), nil
}
