package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id parameters. The defaults follow the OWASP minimum
// (m=19 MiB, t=2, p=1); stored hashes with other parameters are upgraded at the next login.
type HashParams struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultHashParams are the parameters used when none are configured.
var DefaultHashParams = HashParams{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Hasher hashes and verifies passwords with argon2id. At most Slots hashes run at once,
// so a burst of logins queues instead of multiplying memory; a caller that waits longer
// than MaxWait gets ErrBusy.
type Hasher struct {
	params  HashParams
	rand    io.Reader
	slots   chan struct{}
	derive  Deriver
	maxWait time.Duration
	waiting atomic.Int64
	// onWait, when set, observes how long each hash waited for a slot.
	onWait func(time.Duration)
}

// Deriver computes an argon2id key with the arguments of golang.org/x/crypto/argon2.IDKey.
// The service's binary hands hashing to worker processes (internal/hashworker) so that
// hashing never stalls cheap requests; the default runs argon2.IDKey in this process. An
// error (a worker that died) fails the one hash that met it.
type Deriver func(ctx context.Context, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error)

// inProcess is the default Deriver.
func inProcess(_ context.Context, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	return argon2.IDKey(password, salt, time, memory, threads, keyLen), nil
}

// Queue reports how many hashes are running and how many requests wait for a slot.
func (h *Hasher) Queue() (running, waiting int) {
	return len(h.slots), int(h.waiting.Load())
}

// NewHasher returns a Hasher. slots <= 0 means one per CPU; maxWait <= 0 means 5 seconds.
func NewHasher(p HashParams, rand io.Reader, slots int, maxWait time.Duration) *Hasher {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	return &Hasher{params: p, rand: rand, slots: make(chan struct{}, slots), derive: inProcess, maxWait: maxWait}
}

// SetDeriver makes later hashes run through d (nil: in this process). The hasher admits as
// many hashes at once as it has slots, so a pool of workers needs as many workers.
func (h *Hasher) SetDeriver(d Deriver) {
	if d == nil {
		d = inProcess
	}
	h.derive = d
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		h.observe(0)
		return nil
	default:
	}
	start := time.Now()
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		h.observe(time.Since(start))
		return nil
	case <-t.C:
		h.observe(time.Since(start))
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) observe(d time.Duration) {
	if h.onWait != nil {
		h.onWait(d)
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of password under the configured parameters.
// It returns ErrBusy when no hashing slot frees up in time, the context's error, or the
// deriver's error (a hash worker that failed).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key, err := h.derive(ctx, []byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	if err != nil {
		return "", fmt.Errorf("auth: hash: %w", err)
	}
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, and whether the hash
// should be replaced because its parameters differ from the configured ones. A malformed
// hash verifies as false. It returns ErrBusy or the context's error when it cannot run, and
// the deriver's error (a hash worker that failed).
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	// No stored password is longer than PasswordMaxChars runes (4 bytes each at most), so a
	// longer one is wrong; it is still hashed, cut to that size, so it takes a hash's time
	// like any other wrong password instead of being refused by the deriver.
	tooLong := len(password) > 4*PasswordMaxChars
	if tooLong {
		password = password[:4*PasswordMaxChars]
	}
	p, salt, key, perr := decodePHC(encoded)
	if perr != nil {
		// Still do the work of a hash so that a damaged row is not a timing oracle.
		p, salt, key = h.params, make([]byte, h.params.SaltLen), make([]byte, h.params.KeyLen)
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got, err := h.derive(ctx, []byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	if err != nil {
		return false, false, fmt.Errorf("auth: verify: %w", err)
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1 && perr == nil && !tooLong
	rehash = p.MemoryKiB != h.params.MemoryKiB || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || uint32(len(key)) != h.params.KeyLen ||
		uint32(len(salt)) != h.params.SaltLen
	return ok, rehash, nil
}

var b64 = base64.RawStdEncoding

func encodePHC(p HashParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(s string) (p HashParams, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("auth: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("auth: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, fmt.Errorf("auth: bad argon2 parameters: %w", err)
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 4<<20 || p.Iterations == 0 || p.Iterations > 100 || p.Parallelism == 0 {
		return p, nil, nil, fmt.Errorf("auth: argon2 parameters out of range")
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("auth: bad salt: %w", err)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, fmt.Errorf("auth: bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// checkPassword verifies the password of an already authenticated user, under the same
// per-IP budget and brute-force policy as login.
func (s *Service) checkPassword(ctx context.Context, u User, password string) error {
	if err := s.allow(ctx); err != nil {
		return err
	}
	if password == "" {
		return invalid("Password is required")
	}
	at, err := s.reserve(ctx, u.Email, false)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err == nil && !ok {
		err = ErrInvalidPassword
	}
	return s.settle(ctx, at, err)
}

// Reauth is the proof a sensitive operation asks for: the current password and, when 2FA is
// on, a TOTP code or a backup code in the same request.
type Reauth struct {
	Password             string
	TOTPCode, BackupCode *string
}

// reauthenticate checks r for u as the contract's "Re-authentication" says: the password
// first (wrong: ErrInvalidPassword, whatever code is sent), then, with 2FA on, the code (none:
// ErrSecondFactorRequired; wrong: ErrInvalidTOTP). Both count toward the account's
// brute-force budgets as at login, and a code is used up.
// Errors: those, CodeValidation (both codes sent, no password), CodeRateLimited, ErrBusy.
func (s *Service) reauthenticate(ctx context.Context, u User, r Reauth) error {
	if r.TOTPCode != nil && r.BackupCode != nil {
		return invalid("Send either totpCode or backupCode, not both")
	}
	if err := s.checkPassword(ctx, u, r.Password); err != nil {
		return err
	}
	if !u.TOTPEnabled {
		return nil
	}
	if r.TOTPCode == nil && r.BackupCode == nil {
		return ErrSecondFactorRequired
	}
	at, err := s.reserve(ctx, u.Email, true)
	if err != nil {
		return err
	}
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The locked row: a secret rotated or 2FA turned off since the caller authenticated
		// is what counts.
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil || !cur.TOTPEnabled {
			return err
		}
		if err := s.checkSecondFactor(ctx, cur, r.TOTPCode, r.BackupCode, s.now()); err != nil {
			return err
		}
		if r.BackupCode != nil {
			return s.record(ctx, u.ID, EventBackupCodeUsed, nil)
		}
		return nil
	})
	if err != nil {
		return s.settle(ctx, at, err)
	}
	return s.succeeded(ctx, at)
}

// MsgPasswordChanged is the answer to a password change.
const MsgPasswordChanged = "Password changed; your other sessions were signed out"

// ChangePasswordInput is a password change, re-authenticated with the current password.
type ChangePasswordInput struct {
	NewPassword string
	Reauth
}

// ChangePassword sets a new password after re-authentication, revokes every other session
// of the caller (the calling one stays), voids every outstanding reset, verify and
// email-change link, records the change and sends a notice, in one transaction.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP,
// CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) ChangePassword(ctx context.Context, p Principal, in ChangePasswordInput) error {
	u, err := p.caller()
	if err != nil {
		return err
	}
	if err := validatePassword("New password", in.NewPassword); err != nil {
		return err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, u, in.Reauth); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The locked row must still hold the password just checked: of two concurrent
		// changes (or a change and a reset) exactly one wins, and the loser changes nothing.
		cur, err := s.lockCaller(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash {
			return ErrInvalidPassword
		}
		if err := s.store.UpdatePasswordHash(ctx, u.ID, hash, now); err != nil {
			return err
		}
		if _, err := s.revokeSessions(ctx, u.ID, p.SessionID, now); err != nil {
			return err
		}
		if err := s.store.VoidTokens(ctx, u.ID); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, EventPasswordChanged, nil); err != nil {
			return err
		}
		return s.notify(ctx, cur, TemplatePasswordChanged)
	})
	if err == nil {
		s.onEnqueue()
	}
	return err
}
