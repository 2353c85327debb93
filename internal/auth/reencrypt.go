package auth

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
)

// Rotating the encryption key. Secrets at rest (TOTP secrets, pending ones, the signing
// keys' private halves, the code key) are sealed under PANGUARD_ENCRYPTION_KEY. To change it,
// every replica runs with the new key as PANGUARD_ENCRYPTION_KEY and the old one as
// PANGUARD_ENCRYPTION_KEY_PREVIOUS — sealing under the new key and opening with either —
// while ReencryptSecrets re-seals what is still under the old one; then the previous key
// goes away.
//
// Backup codes are kept only as hashes keyed with the code key, so they cannot be re-keyed:
// the code key itself must outlive encryption keys. It is a setting of its own, sealed like
// the other secrets, whose value is the one every deployment has used so far (derived from
// the encryption key it started with) and never changes.

// codeKeySetting is the settings row holding the sealed code key; codeKeyAD binds it there.
const (
	codeKeySetting = "code_key"
	codeKeyAD      = "setting:code_key"
)

// signingKeyAD binds a sealed private key to its kid.
func signingKeyAD(kid string) string { return "signing-key:" + kid }

// UnsealableError is a stored secret that no configured encryption key opens. It matches
// ErrKeyUnsealable (errors.Is). Its message names the value, never the secret.
type UnsealableError struct {
	// What names the value: "signing key k…", "the TOTP secret of user usr_…".
	What string
	// WithPrevious is whether a previous key was configured (and failed too).
	WithPrevious bool
}

func (e *UnsealableError) Error() string {
	if e.WithPrevious {
		return "auth: " + e.What + " in the database opens with neither PANGUARD_ENCRYPTION_KEY nor " +
			"PANGUARD_ENCRYPTION_KEY_PREVIOUS; one of them must be the key it was sealed with"
	}
	return "auth: " + e.What + " in the database was sealed with another encryption key than the configured one " +
		"(PANGUARD_ENCRYPTION_KEY); start with the key it was sealed with (during a rotation, as PANGUARD_ENCRYPTION_KEY_PREVIOUS)"
}

// Is makes an UnsealableError match ErrKeyUnsealable.
func (e *UnsealableError) Is(target error) bool { return target == ErrKeyUnsealable }

func (s *Service) unsealable(what string) error {
	return &UnsealableError{What: what, WithPrevious: s.sealer.rotating()}
}

// loadCodeKey reads the code key, storing it first when the database has none: that is the
// first start of a version that keeps it, and the value stored is the one in use until then.
// Errors: ErrKeyUnsealable (an *UnsealableError), store failures.
func (s *Service) loadCodeKey(ctx context.Context) error {
	v, err := s.store.Setting(ctx, codeKeySetting)
	if errors.Is(err, ErrNoRecord) {
		var legacy []byte
		if legacy, err = s.legacyCodeKeyInUse(ctx); err != nil {
			return err
		}
		sealed, err := s.sealer.seal(hex.EncodeToString(legacy), codeKeyAD)
		if err != nil {
			return err
		}
		// Replicas starting together store one value (they all derive the same key).
		v, err = s.store.EnsureSetting(ctx, codeKeySetting, sealed)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	raw, err := s.sealer.open(v, codeKeyAD)
	if err != nil {
		return s.unsealable("the backup-code key (settings row " + codeKeySetting + ")")
	}
	key, err := hex.DecodeString(raw)
	if err != nil || len(key) != 32 {
		return s.unsealable("the backup-code key (settings row " + codeKeySetting + ")")
	}
	s.sealer.hmacKey = key
	return nil
}

// legacyCodeKeyInUse is the code key a database without a stored one has used so far:
// derived from the encryption key its secrets were sealed with. That is the current key,
// except when this first start is already a rotation's (the previous key then sealed them),
// so the oldest sealed value decides: the first signing key, else a user's TOTP secret; a
// database with neither is new and takes the current key.
func (s *Service) legacyCodeKeyInUse(ctx context.Context) ([]byte, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	var sealed, ad, what string
	if len(keys) > 0 {
		first := keys[0]
		for _, k := range keys[1:] {
			if k.Generation < first.Generation {
				first = k
			}
		}
		sealed, ad, what = first.PrivateSealed, signingKeyAD(first.ID), "signing key "+first.ID
	} else {
		users, err := s.store.SealedUsers(ctx, "", 1)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			u := users[0]
			sealed, ad, what = cmp.Or(u.Secret, u.Pending), u.UserID, "the TOTP secret of user "+u.UserID
		}
	}
	if sealed == "" {
		return s.sealer.legacy[currentKey], nil
	}
	_, i, err := s.sealer.unseal(sealed, ad)
	if err != nil {
		return nil, s.unsealable(what)
	}
	return s.sealer.legacy[i], nil
}

// ErrNoPreviousKey is ReencryptSecrets without a previous encryption key to re-seal from.
var ErrNoPreviousKey = errors.New("auth: PANGUARD_ENCRYPTION_KEY_PREVIOUS is not set: set it to the old " +
	"encryption key and PANGUARD_ENCRYPTION_KEY to the new one")

// ReencryptCount counts the values of one kind: those re-sealed under the current key, and
// those found under it already.
type ReencryptCount struct{ Resealed, Current int }

// ReencryptReport is what ReencryptSecrets did, by kind of value.
type ReencryptReport struct {
	TOTPSecrets, PendingSecrets, SigningKeys, CodeKey ReencryptCount
}

// defaultReencryptBatch is how many users ReencryptSecrets reads at a time.
const defaultReencryptBatch = 100

// maxResealAttempts bounds the retries of one value that keeps changing under a re-seal.
const maxResealAttempts = 5

// ReencryptSecrets re-seals under the current encryption key every stored secret still
// sealed under the previous one: TOTP secrets, pending ones, signing keys and the code key.
// It first opens every value and changes nothing unless all open; then it rewrites users a
// batch at a time, each value with a compare-and-set on its old sealed form, so a change
// made meanwhile (a new TOTP setup on another replica) is kept, not overwritten. Values
// already under the current key are left, so running it again is harmless.
// Errors: ErrNoPreviousKey, ErrKeyUnsealable (an *UnsealableError naming the value), store
// failures.
func (s *Service) ReencryptSecrets(ctx context.Context) (ReencryptReport, error) {
	if !s.sealer.rotating() {
		return ReencryptReport{}, ErrNoPreviousKey
	}
	if _, err := s.reencrypt(ctx, false); err != nil {
		return ReencryptReport{}, fmt.Errorf("%w; nothing was re-sealed", err)
	}
	return s.reencrypt(ctx, true)
}

// reencrypt opens every sealed value and, when write is set, re-seals those under the
// previous key.
func (s *Service) reencrypt(ctx context.Context, write bool) (ReencryptReport, error) {
	var r ReencryptReport
	after := ""
	for {
		users, err := s.store.SealedUsers(ctx, after, s.reencryptBatch)
		if err != nil {
			return r, err
		}
		for _, u := range users {
			if err := s.resealUser(ctx, u, write, &r); err != nil {
				return r, err
			}
		}
		if len(users) < s.reencryptBatch {
			break
		}
		after = users[len(users)-1].UserID
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return r, err
	}
	for _, k := range keys {
		kid := k.ID
		reread := func(ctx context.Context) (string, error) {
			keys, err := s.store.SigningKeys(ctx)
			for _, k := range keys {
				if k.ID == kid {
					return k.PrivateSealed, err
				}
			}
			return "", err
		}
		swap := func(ctx context.Context, old, next string) (bool, error) {
			return s.store.ResealSigningKey(ctx, kid, old, next)
		}
		if err := s.resealValue(ctx, "signing key "+kid, signingKeyAD(kid), k.PrivateSealed, write, reread, swap, &r.SigningKeys); err != nil {
			return r, err
		}
	}
	code, err := s.store.Setting(ctx, codeKeySetting)
	if errors.Is(err, ErrNoRecord) {
		return r, nil // New stores it; nothing to re-seal without it
	}
	if err != nil {
		return r, err
	}
	reread := func(ctx context.Context) (string, error) { return s.store.Setting(ctx, codeKeySetting) }
	swap := func(ctx context.Context, old, next string) (bool, error) {
		return s.store.SwapSetting(ctx, codeKeySetting, old, next)
	}
	err = s.resealValue(ctx, "the backup-code key (settings row "+codeKeySetting+")", codeKeyAD, code, write, reread, swap, &r.CodeKey)
	return r, err
}

// resealValue re-seals one value (when write is set and it is under the previous key) in a
// transaction with a compare-and-set on sealed, re-reading it and trying again when it
// changed meanwhile, and counts it in c.
func (s *Service) resealValue(ctx context.Context, what, ad, sealed string, write bool,
	reread func(context.Context) (string, error), swap func(ctx context.Context, old, next string) (bool, error), c *ReencryptCount) error {
	for range maxResealAttempts {
		if sealed == "" {
			return nil // gone meanwhile
		}
		pt, i, err := s.sealer.unseal(sealed, ad)
		if err != nil {
			return s.unsealable(what)
		}
		if i == currentKey {
			c.Current++
			return nil
		}
		if !write {
			c.Resealed++
			return nil
		}
		next, err := s.sealer.seal(pt, ad)
		if err != nil {
			return err
		}
		var ok bool
		if err := s.store.RunInTx(ctx, func(ctx context.Context) (err error) {
			ok, err = swap(ctx, sealed, next)
			return err
		}); err != nil {
			return err
		}
		if ok {
			c.Resealed++
			return nil
		}
		if sealed, err = reread(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("auth: %s kept changing while being re-sealed; run the rotation again", what)
}

// resealUser re-seals a user's TOTP secret and pending secret (when write is set and they are
// under the previous key) in one transaction with a compare-and-set on both old values,
// re-reading them and trying again when either changed meanwhile, and counts them in r.
func (s *Service) resealUser(ctx context.Context, u SealedUser, write bool, r *ReencryptReport) error {
	for range maxResealAttempts {
		next := u
		var resealed [2]bool
		for j, f := range []struct {
			v    *string
			what string
		}{{&next.Secret, "the TOTP secret of user "}, {&next.Pending, "the pending TOTP secret of user "}} {
			if *f.v == "" {
				continue
			}
			pt, i, err := s.sealer.unseal(*f.v, u.UserID)
			if err != nil {
				return s.unsealable(f.what + u.UserID)
			}
			if i == currentKey {
				continue
			}
			resealed[j] = true
			if write {
				if *f.v, err = s.sealer.seal(pt, u.UserID); err != nil {
					return err
				}
			}
		}
		ok := true
		if write && (resealed[0] || resealed[1]) {
			if err := s.store.RunInTx(ctx, func(ctx context.Context) (err error) {
				ok, err = s.store.ResealUser(ctx, u, next)
				return err
			}); err != nil {
				return err
			}
		}
		if ok {
			count(&r.TOTPSecrets, u.Secret, resealed[0])
			count(&r.PendingSecrets, u.Pending, resealed[1])
			return nil
		}
		// Changed meanwhile (a setup, a verify, a disable): start again from what is stored.
		cur, err := s.store.LockUser(ctx, u.UserID)
		if errors.Is(err, ErrNoRecord) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		u = SealedUser{UserID: cur.ID, Secret: cur.TOTPSecret, Pending: cur.TOTPPendingSecret}
	}
	return fmt.Errorf("auth: the TOTP secrets of user %s kept changing while being re-sealed; run the rotation again", u.UserID)
}

func count(c *ReencryptCount, sealed string, resealed bool) {
	switch {
	case sealed == "":
	case resealed:
		c.Resealed++
	default:
		c.Current++
	}
}
