package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Password-reset rules.
const (
	ResetTokenTTL = time.Hour
	// DuplicateNoticeInterval is the least time between two "someone tried to register with
	// your email" messages to one account, so registration cannot flood an inbox.
	DuplicateNoticeInterval = 15 * time.Minute
	// ResetEmailsPerHour bounds the reset links (forgot-password and registration-attempt
	// emails) one account receives, so nobody can bomb a mailbox or keep voiding the owner's
	// link. Requests beyond it get the same answer and send nothing.
	ResetEmailsPerHour = 3
	resetTokenPrefix   = "rst_"
)

// Messages of the password operations.
const (
	MsgForgotPassword = "If an account with that email exists, a reset link has been sent."
	MsgPasswordReset  = "Password reset successfully"
)

// Outbox kinds. A reset request is resolved in the background (so the request path does the
// same work whether or not the account exists); it queues an email in the same transaction
// that creates the token.
const (
	OutboxResetRequest = "reset_request"
	OutboxEmail        = "email"
)

// Email templates.
const (
	TemplatePasswordReset       = "password_reset"
	TemplateRegistrationAttempt = "registration_attempt"
)

const (
	reasonForgot    = "forgot_password"
	reasonDuplicate = "duplicate_registration"
)

// OutboxEntry is a unit of background work, written in the transaction that decides it.
type OutboxEntry struct {
	ID        string
	Kind      string
	Payload   string // JSON
	Attempts  int
	CreatedAt time.Time
}

// Describe says what the entry is without its content: the template of an email (the kind
// itself for a reset request) and its recipient partly masked ("a***@example.com"). Either
// is "" when the payload does not hold it: a sent entry's payload is dropped, and so is a
// failed one's after a day.
func (e OutboxEntry) Describe() (template, recipient string) {
	var p struct {
		Template string `json:"template"`
		To       string `json:"to"`    // an Email's
		Email    string `json:"email"` // a resetRequest's
	}
	if e.Payload == "" || json.Unmarshal([]byte(e.Payload), &p) != nil {
		return "", ""
	}
	if e.Kind == OutboxResetRequest {
		p.Template = e.Kind
	}
	if to := cmp.Or(p.To, p.Email); to != "" {
		recipient = MaskEmail(to)
	}
	return p.Template, recipient
}

// Email is a message to send: which template, to whom, and its data. It is rendered at send
// time by the mailer.
type Email struct {
	To               string `json:"to"`
	Template         string `json:"template"`
	Name             string `json:"name"`
	Link             string `json:"link"`
	ExpiresInMinutes int    `json:"expiresInMinutes"`
	// Address is an address the message is about (an email change's new address, partly
	// masked in notices to the old one), or "".
	Address string `json:"address"`
	// Device names a device signed in to the account (its client name and IP), or "".
	Device string `json:"device,omitempty"`
}

// Purpose says what a one-time token is for; each purpose has its own prefix and lifetime.
type Purpose string

// The purposes of one-time tokens.
const (
	PurposeReset Purpose = "reset"
)

// OneTimeToken is a stored single-use token: only its SHA-256 hash is kept.
type OneTimeToken struct {
	Hash    string
	Purpose Purpose
	UserID  string
	// Data is what the purpose needs beside the user (an email change's new address), or "".
	Data      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

type resetRequest struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// hashToken is how a one-time token is stored and looked up.
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func (s *Service) enqueue(ctx context.Context, kind string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("auth: outbox payload: %w", err)
	}
	id, err := s.newID("obx_", 12)
	if err != nil {
		return err
	}
	return s.store.Enqueue(ctx, OutboxEntry{ID: id, Kind: kind, Payload: string(payload), CreatedAt: s.now()})
}

// ForgotPassword queues a password-reset email for email. It answers the same, after the same
// work, whether or not an account exists: resolving the address happens in the background
// (HandleResetRequest). Errors: CodeValidation for a malformed address, CodeRateLimited.
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	if err := s.allow(ctx); err != nil {
		return err
	}
	email = NormalizeEmail(email)
	if err := validateEmail(email); err != nil {
		return err
	}
	if err := s.enqueue(ctx, OutboxResetRequest, resetRequest{Email: email, Reason: reasonForgot}); err != nil {
		return err
	}
	s.onEnqueue()
	return nil
}

// HandleResetRequest resolves a queued reset request (an OutboxResetRequest payload): for an
// existing account it voids older tokens, creates a new one and queues the email, all in one
// transaction; for an unknown address it does nothing. A registration-attempt notice is sent
// at most once per DuplicateNoticeInterval per account. Errors: store failures (retried by
// the caller) and a malformed payload.
func (s *Service) HandleResetRequest(ctx context.Context, payload string) error {
	var req resetRequest
	if err := json.Unmarshal([]byte(payload), &req); err != nil {
		return fmt.Errorf("auth: reset request payload: %w", err)
	}
	u, err := s.store.UserByEmail(ctx, req.Email)
	if errors.Is(err, ErrNoRecord) {
		return nil
	}
	if err != nil {
		return err
	}
	raw, err := s.newID(resetTokenPrefix, 32)
	if err != nil {
		return err
	}
	now := s.now()
	queued := false
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// Serialize with other requests for this user, so voiding older tokens (delete, then
		// insert) cannot interleave with a concurrent request and leave two tokens live.
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.Suspended() {
			// A suspended account gets no reset links: the suspension would be undone by
			// whoever holds the mailbox.
			return errNothingToSend
		}
		template := TemplatePasswordReset
		if req.Reason == reasonDuplicate {
			ok, err := s.store.ClaimDuplicateNotice(ctx, u.ID, now, DuplicateNoticeInterval)
			if err != nil || !ok {
				return err
			}
			template = TemplateRegistrationAttempt
		}
		// At most ResetEmailsPerHour in any hour: a burst of that many, then one an hour.
		// Taken in this transaction, so a roll-back gives it back.
		ok, _, err := s.store.TakeToken(ctx, "reset-mail:"+u.ID, now, time.Hour, ResetEmailsPerHour*time.Hour)
		if err != nil {
			return err
		}
		if !ok {
			// Nothing is sent, so the link already out there stays the live one.
			return errNothingToSend
		}
		tok := OneTimeToken{Hash: hashToken(raw), Purpose: PurposeReset, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ResetTokenTTL)}
		if err := s.store.CreateToken(ctx, tok); err != nil {
			return err
		}
		queued = true
		return s.enqueue(ctx, OutboxEmail, Email{
			To: u.Email, Name: u.Name, Template: template,
			Link:             s.publicURL + "/reset-password?token=" + raw,
			ExpiresInMinutes: int(ResetTokenTTL / time.Minute),
		})
	})
	if errors.Is(err, errNothingToSend) {
		return nil
	}
	if err == nil && queued {
		s.onEnqueue()
	}
	return err
}

// errNothingToSend rolls back a reset request that has used up its account's email budget.
var errNothingToSend = errors.New("auth: reset email budget spent")

// ResetPassword sets a new password with a token from a reset email, consuming the token and
// revoking every session of the user and clearing its password locks (never the
// second-factor budget) in one transaction. On an address never verified before, the reset
// verifies it and removes every second factor enrolled until then.
// Errors: CodeValidation for a bad new password, ErrInvalidResetToken for a malformed,
// unknown, used, voided or expired token, CodeRateLimited, ErrBusy.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if err := s.allow(ctx); err != nil {
		return err
	}
	if err := validatePassword("New password", newPassword); err != nil {
		return err
	}
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, resetTokenPrefix) || len(token) > 128 {
		return ErrInvalidResetToken
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// Lock the user row before the token row, the order every other per-user
		// transaction (a reset request voiding tokens) takes, so the two cannot deadlock.
		owner, err := s.store.TokenUser(ctx, PurposeReset, hashToken(token))
		if errors.Is(err, ErrNoRecord) {
			return ErrInvalidResetToken
		}
		if err != nil {
			return err
		}
		u, err := s.store.LockUser(ctx, owner)
		if err != nil {
			return err
		}
		if u.Suspended() {
			// Suspension voids every link; this guards one racing with it.
			return ErrInvalidResetToken
		}
		consumed, err := s.store.ConsumeToken(ctx, PurposeReset, hashToken(token), now)
		if errors.Is(err, ErrNoRecord) || (err == nil && consumed.UserID != owner) {
			return ErrInvalidResetToken
		}
		if err != nil {
			return err
		}
		userID := consumed.UserID
		if err := s.store.UpdatePasswordHash(ctx, userID, hash, now); err != nil {
			return err
		}
		if _, err := s.revokeSessions(ctx, userID, "", now); err != nil {
			return err
		}
		if err := s.record(ctx, userID, EventPasswordReset, nil); err != nil {
			return err
		}
		// Every link still out there dies with this reset: other resets, verification links,
		// and above all a pending email change, which whoever prompted this reset may have
		// started.
		if err := s.store.VoidTokens(ctx, userID); err != nil {
			return err
		}
		// The link proved the mailbox. Second factors enrolled while the address was not yet
		// proved were enrolled by someone who never showed they own it (someone may have
		// registered another person's address and turned 2FA on — and the owner may even
		// have clicked the verification link since): those factors go, so the owner can
		// sign in.
		proved := now
		if u.EmailVerifiedAt != nil {
			proved = *u.EmailVerifiedAt
		}
		gone, err := s.store.DeletePasskeysBefore(ctx, userID, proved)
		if err != nil {
			return err
		}
		for _, id := range gone {
			if err := s.record(ctx, userID, EventPasskeyRemoved, map[string]string{"passkeyId": id, "by": "password_reset", "reason": "enrolled_before_address_proved"}); err != nil {
				return err
			}
		}
		if u.EmailVerifiedAt == nil {
			if _, err := s.store.MarkEmailVerified(ctx, userID, now); err != nil {
				return err
			}
			if err := s.record(ctx, userID, EventEmailVerified, map[string]string{"by": "password_reset"}); err != nil {
				return err
			}
		}
		if enrolledUnproved(u) {
			if err := s.store.DisableTOTP(ctx, userID, now); err != nil {
				return err
			}
			if err := s.record(ctx, userID, EventTOTPDisabled, map[string]string{"by": "password_reset", "reason": "enrolled_before_address_proved"}); err != nil {
				return err
			}
		}
		if err := s.notify(ctx, u, TemplatePasswordResetDone); err != nil {
			return err
		}
		// Lift the password locks on the account, not the second-factor budget: someone
		// holding the password and the mailbox is exactly who 2FA must still stop.
		acct, _ := accountKeys(ctx, u.Email)
		return s.store.ClearFailures(ctx, []string{acct}, []string{"acct-ip:" + u.Email + "|"})
	})
	if err == nil {
		s.onEnqueue()
	}
	return err
}

// enrolledUnproved reports whether u has second factors (2FA on, a pending setup, backup
// codes) that may have been enrolled before the address was proved: the address was never
// proved, or 2FA was turned on before it was. (2FA turned on before its time was kept, on an
// address proved since, is given the benefit of the doubt.)
func enrolledUnproved(u User) bool {
	hasFactors := u.TOTPEnabled || u.TOTPPendingSecret != ""
	switch {
	case !hasFactors:
		return false
	case u.EmailVerifiedAt == nil:
		return true
	default:
		return u.TOTPEnabledAt != nil && u.TOTPEnabledAt.Before(*u.EmailVerifiedAt)
	}
}
