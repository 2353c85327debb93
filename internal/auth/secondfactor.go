package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: what every authenticator app understands.
const (
	totpPeriod      = 30
	totpDigits      = otp.DigitsSix
	totpSkew        = 1 // steps accepted either side of now
	BackupCodeCount = 10
	backupCodeLen   = 10
	backupAlphabet  = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// Messages of the TOTP operations.
const (
	MsgTOTPEnabled  = "Two-factor authentication enabled successfully"
	MsgTOTPDisabled = "Two-factor authentication disabled"
)

var (
	// errInvalidTOTPSetup is a wrong code while confirming a setup: the request, not the
	// caller's identity, is wrong, so it is KindInvalid (400) rather than 401.
	errInvalidTOTPSetup = &Error{Kind: KindInvalid, Code: CodeInvalidTOTP, Message: ErrInvalidTOTP.Message}
	// ErrTOTPNotEnabled is returned by operations that need 2FA on when it is off.
	ErrTOTPNotEnabled = &Error{Kind: KindInvalid, Code: CodeTOTPNotEnabled, Message: "Two-factor authentication is not enabled"}
)

// TOTPSetup is a new pending secret and the backup codes that go with it, shown once.
type TOTPSetup struct {
	Secret      string // base32
	OTPAuthURL  string
	BackupCodes []string
}

// TOTPStatus describes a user's second factor.
type TOTPStatus struct {
	Enabled              bool
	Pending              bool
	BackupCodesRemaining int
}

func (s *Service) totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
}

func (s *Service) step(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchStep returns the time step within ±totpSkew of now whose code equals code, or 0.
func (s *Service) matchStep(secret, code string, now time.Time) int64 {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0
	}
	cur := s.step(now)
	var found int64
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((cur+d)*totpPeriod, 0), s.totpOpts())
		// Every candidate is compared, in constant time, so timing does not tell which matched.
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = cur + d
		}
	}
	return found
}

func (s *Service) newBackupCodes(userID string) (codes, hashes []string, err error) {
	codes, hashes = make([]string, BackupCodeCount), make([]string, BackupCodeCount)
	buf := make([]byte, 1)
	for i := range codes {
		var b strings.Builder
		for b.Len() < backupCodeLen {
			if _, err := io.ReadFull(s.rand, buf); err != nil {
				return nil, nil, fmt.Errorf("auth: random: %w", err)
			}
			// Rejection sampling keeps the alphabet uniform: 252 = 7*36.
			if buf[0] < 252 {
				b.WriteByte(backupAlphabet[buf[0]%36])
			}
		}
		codes[i] = b.String()
		hashes[i] = s.sealer.codeHash(userID, codes[i])
	}
	return codes, hashes, nil
}

// normalizeBackupCode accepts what people type: any case, spaces or dashes.
func normalizeBackupCode(c string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, strings.TrimSpace(c))
}

// SetupTOTP creates a new pending TOTP secret and 10 backup codes for the caller, replacing
// any earlier pending setup. 2FA turns on only when VerifyTOTP confirms a code.
// Errors: ErrUnauthenticated, ErrAlreadyEnabled, CodeRateLimited (the account's write budget).
func (s *Service) SetupTOTP(ctx context.Context, p Principal) (TOTPSetup, error) {
	u, err := p.caller()
	if err != nil {
		return TOTPSetup{}, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return TOTPSetup{}, err
	}
	if u.TOTPEnabled {
		return TOTPSetup{}, ErrAlreadyEnabled
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.totpIssuer, AccountName: u.Email, Period: totpPeriod, SecretSize: 20,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Rand: s.rand,
	})
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("auth: totp secret: %w", err)
	}
	sealed, err := s.sealer.seal(key.Secret(), u.ID)
	if err != nil {
		return TOTPSetup{}, err
	}
	codes, hashes, err := s.newBackupCodes(u.ID)
	if err != nil {
		return TOTPSetup{}, err
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.SetPendingTOTP(ctx, u.ID, sealed, now)
		if err != nil {
			return err
		}
		if !ok { // enabled meanwhile by a concurrent verify
			return ErrAlreadyEnabled
		}
		return s.store.ReplaceBackupCodes(ctx, u.ID, hashes, now)
	})
	if err != nil {
		return TOTPSetup{}, err
	}
	link := "otpauth://totp/" + url.PathEscape(s.totpIssuer+":"+u.Email) +
		"?secret=" + key.Secret() + "&issuer=" + url.QueryEscape(s.totpIssuer)
	return TOTPSetup{Secret: key.Secret(), OTPAuthURL: link, BackupCodes: codes}, nil
}

// VerifyTOTP confirms the pending secret with a current code (±1 step) and enables 2FA.
// The code's time step is recorded, so the same code cannot then be used to log in.
// Errors: ErrUnauthenticated, ErrAlreadyEnabled, ErrTOTPNotSetUp, invalid_totp_code (400),
// CodeRateLimited.
func (s *Service) VerifyTOTP(ctx context.Context, p Principal, code string) error {
	if err := s.allow(ctx); err != nil {
		return err
	}
	u, err := p.caller()
	if err != nil {
		return err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return err
	}
	if u.TOTPEnabled {
		return ErrAlreadyEnabled
	}
	if u.TOTPPendingSecret == "" {
		return ErrTOTPNotSetUp
	}
	at, err := s.reserve(ctx, u.Email, true)
	if err != nil {
		return err
	}
	if err := s.verifyTOTP(ctx, u, code); err != nil {
		return s.settle(ctx, at, err)
	}
	// A correct code clears the second-factor budget and gives the attempt back, but the
	// client's password failures stay: enrolling one's own TOTP must not buy password guesses.
	if err := s.store.ClearFailures(ctx, []string{at.second.Key}, nil); err != nil {
		return err
	}
	return s.settle(ctx, at, nil)
}

// verifyTOTP checks code against u's pending secret and enables 2FA.
// Errors: invalid_totp_code (400).
func (s *Service) verifyTOTP(ctx context.Context, u User, code string) error {
	secret, err := s.sealer.open(u.TOTPPendingSecret, u.ID)
	if err != nil {
		return err
	}
	step := s.matchStep(secret, code, s.now())
	if step == 0 {
		return errInvalidTOTPSetup
	}
	return s.store.RunInTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.EnableTOTP(ctx, u.ID, u.TOTPPendingSecret, step, s.now())
		if err != nil {
			return err
		}
		if !ok {
			// The step was already used, or a concurrent setup/verify changed the secret.
			return errInvalidTOTPSetup
		}
		return s.record(ctx, u.ID, EventTOTPEnabled, nil)
	})
}

// checkSecondFactor consumes a TOTP or backup code of u inside ctx's transaction.
// Errors: ErrInvalidTOTP.
func (s *Service) checkSecondFactor(ctx context.Context, u User, totpCode, backupCode *string, now time.Time) error {
	if backupCode != nil {
		c := normalizeBackupCode(*backupCode)
		if len(c) != backupCodeLen {
			return ErrInvalidTOTP
		}
		ok, err := s.store.ConsumeBackupCode(ctx, u.ID, s.sealer.codeHash(u.ID, c), now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrInvalidTOTP
		}
		return nil
	}
	secret, err := s.sealer.open(u.TOTPSecret, u.ID)
	if err != nil {
		return err
	}
	step := s.matchStep(secret, *totpCode, now)
	if step == 0 {
		return ErrInvalidTOTP
	}
	// Compare-and-set on the last used step: a replayed code loses, on any replica.
	ok, err := s.store.AdvanceTOTPStep(ctx, u.ID, step)
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvalidTOTP
	}
	return nil
}

// DisableTOTP turns 2FA off after re-authentication (the password and, with 2FA on, a code),
// removing the secret and every backup code (also a pending setup), and sends a notice.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP,
// ErrTOTPNotEnabled, CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) DisableTOTP(ctx context.Context, p Principal, r Reauth) error {
	u, err := p.caller()
	if err != nil {
		return err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, u, r); err != nil {
		return err
	}
	if !u.TOTPEnabled && u.TOTPPendingSecret == "" {
		return ErrTOTPNotEnabled
	}
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		if err := s.store.DisableTOTP(ctx, u.ID, s.now()); err != nil {
			return err
		}
		if !u.TOTPEnabled {
			return nil // only a pending setup went: nothing was protecting the account
		}
		if err := s.record(ctx, u.ID, EventTOTPDisabled, nil); err != nil {
			return err
		}
		return s.notify(ctx, u, TemplateTOTPDisabled)
	})
	if err == nil {
		s.onEnqueue()
	}
	return err
}

// TOTPStatus reports whether 2FA is on and how many backup codes are left.
// Errors: ErrUnauthenticated.
func (s *Service) TOTPStatus(ctx context.Context, p Principal) (TOTPStatus, error) {
	u, err := p.caller()
	if err != nil {
		return TOTPStatus{}, err
	}
	st := TOTPStatus{Enabled: u.TOTPEnabled, Pending: !u.TOTPEnabled && u.TOTPPendingSecret != ""}
	if st.Enabled {
		if st.BackupCodesRemaining, err = s.store.CountBackupCodes(ctx, u.ID); err != nil {
			return TOTPStatus{}, err
		}
	}
	return st, nil
}

// RegenerateBackupCodes replaces every backup code with 10 new ones after re-authentication
// (the password and a code); the old codes stop working at once, and a notice goes out.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP,
// ErrTOTPNotEnabled, CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) RegenerateBackupCodes(ctx context.Context, p Principal, r Reauth) ([]string, error) {
	u, err := p.caller()
	if err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return nil, err
	}
	if !u.TOTPEnabled {
		// Before the re-authentication, which would ask for a code that cannot exist.
		if err := s.checkPassword(ctx, u, r.Password); err != nil {
			return nil, err
		}
		return nil, ErrTOTPNotEnabled
	}
	if err := s.reauthenticate(ctx, u, r); err != nil {
		return nil, err
	}
	codes, hashes, err := s.newBackupCodes(u.ID)
	if err != nil {
		return nil, err
	}
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// Serialized per user: two regenerations at once must leave one set, not both; and
		// 2FA must still be on (a disable may have committed during the password check).
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if !cur.TOTPEnabled {
			return ErrTOTPNotEnabled
		}
		if err := s.store.ReplaceBackupCodes(ctx, u.ID, hashes, s.now()); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, EventBackupCodesRegenerated, nil); err != nil {
			return err
		}
		return s.notify(ctx, u, TemplateBackupCodesRegenerated)
	})
	if err != nil {
		return nil, err
	}
	s.onEnqueue()
	return codes, nil
}
