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

// sealer encrypts TOTP secrets at rest with AES-256-GCM, binding each ciphertext to its user
// id as associated data so it cannot be moved to another account.
type sealer struct {
	aead    cipher.AEAD
	rand    io.Reader
	hmacKey []byte // for backup-code hashes, derived from the same key
}

const sealPrefix = "v1:"

func newSealer(key []byte, rand io.Reader) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("auth: the encryption key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("panguard-auth backup-code key v1"))
	return &sealer{aead: aead, rand: rand, hmacKey: m.Sum(nil)}, nil
}

func (s *sealer) seal(plaintext, userID string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("auth: nonce: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(userID))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

var errUnseal = errors.New("auth: stored secret cannot be decrypted for this user")

func (s *sealer) open(sealed, userID string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || !strings.HasPrefix(sealed, sealPrefix) || len(raw) < s.aead.NonceSize() {
		return "", errUnseal
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(userID))
	if err != nil {
		return "", errUnseal
	}
	return string(pt), nil
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
