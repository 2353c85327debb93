// Package oathtest computes HOTP/TOTP codes independently of the code under test (and of
// the library it uses), from RFC 4226 and RFC 6238 directly. For tests only.
package oathtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"time"
)

// HOTP is the RFC 4226 code of key at counter with the given number of digits.
func HOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTP is the 6-digit, 30-second code of a base32 secret at t shifted by drift steps.
// It returns an error when the secret is not base32.
func TOTP(secretB32 string, t time.Time, drift int) (string, error) {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secretB32)
	if err != nil {
		return "", fmt.Errorf("oathtest: secret is not base32: %w", err)
	}
	return HOTP(key, uint64(t.Unix()/30+int64(drift)), 6), nil
}
