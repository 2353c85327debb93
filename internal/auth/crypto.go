package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sealer encrypts secrets at rest (TOTP secrets, signing keys, the code key) with
// AES-256-GCM, binding each ciphertext to what it belongs to (a user id, a kid) as associated
// data so it cannot be moved elsewhere. It seals with the current encryption key and opens
// with the current one or, during a rotation, the previous one.
type sealer struct {
	// keys are the current encryption key and, while a rotation is under way, the previous
	// one; legacy holds, for each, the code key derived from it (see legacyCodeKey).
	keys   []cipher.AEAD
	legacy [][]byte
	rand   io.Reader
	// hmacKey is the code key: backup-code hashes and tags are keyed with it. It is kept in
	// the settings table, sealed (see Service.loadCodeKey), so it survives key rotations.
	hmacKey []byte
}

const sealPrefix = "v1:"

// Indexes into sealer.keys.
const (
	currentKey  = 0
	previousKey = 1
)

// newSealer makes a sealer of key and, when not nil, previous.
func newSealer(key, previous []byte, rand io.Reader) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("auth: the encryption key must be 32 bytes")
	}
	s := &sealer{rand: rand}
	for _, k := range [][]byte{key, previous} {
		if k == nil {
			continue
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("auth: the previous encryption key must be 32 bytes")
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys, s.legacy = append(s.keys, aead), append(s.legacy, legacyCodeKey(k))
	}
	s.hmacKey = s.legacy[currentKey]
	return s, nil
}

// legacyCodeKey is the code key as it was before it was stored: derived from the encryption
// key. Every deployment's stored code key starts as this value, so the backup codes made
// before keep verifying.
func legacyCodeKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("panguard-auth backup-code key v1"))
	return m.Sum(nil)
}

// rotating reports whether a previous key is configured.
func (s *sealer) rotating() bool { return len(s.keys) > 1 }

// seal encrypts plaintext under the current key, bound to ad.
func (s *sealer) seal(plaintext, ad string) (string, error) {
	aead := s.keys[currentKey]
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("auth: nonce: %w", err)
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(ad))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

var errUnseal = errors.New("auth: stored secret cannot be decrypted for this user")

// open decrypts sealed with whichever configured key sealed it.
func (s *sealer) open(sealed, ad string) (string, error) {
	pt, _, err := s.unseal(sealed, ad)
	return pt, err
}

// unseal decrypts sealed and says which key opened it (currentKey or previousKey).
func (s *sealer) unseal(sealed, ad string) (string, int, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || !strings.HasPrefix(sealed, sealPrefix) {
		return "", 0, errUnseal
	}
	for i, aead := range s.keys {
		n := aead.NonceSize()
		if len(raw) < n {
			break
		}
		if pt, err := aead.Open(nil, raw[:n], raw[n:], []byte(ad)); err == nil {
			return string(pt), i, nil
		}
	}
	return "", 0, errUnseal
}

// codeHash is the keyed hash under which a backup code is stored.
func (s *sealer) codeHash(userID, code string) string {
	m := hmac.New(sha256.New, s.hmacKey)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// ParseKey decodes a 32-byte key given as 64 hex characters or as standard/URL base64.
// It returns an error for anything else.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("auth: key must be 32 bytes as 64 hex characters or base64")
}

// tag authenticates parts (a cursor and whom it was issued to) under a key of its own,
// derived from the backup-code key with a label, so no tag can pass for a code hash.
func (s *sealer) tag(parts ...string) []byte {
	k := hmac.New(sha256.New, s.hmacKey)
	k.Write([]byte("panguard tag key"))
	m := hmac.New(sha256.New, k.Sum(nil))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:16]
}
