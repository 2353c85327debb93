package auth

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// The purposes of the one-time tokens of email verification and email change.
const (
	PurposeVerify      Purpose = "verify"
	PurposeEmailChange Purpose = "email_change"
)

// Email verification and email change rules.
const (
	// VerifyTokenTTL is how long a verification link works.
	VerifyTokenTTL = 24 * time.Hour
	// EmailChangeTokenTTL is how long an email-change confirmation link works.
	EmailChangeTokenTTL = time.Hour
	// VerificationEmailInterval is the least time between two verification emails to one
	// account (the one sent at registration included), so nobody can flood an inbox.
	VerificationEmailInterval = 5 * time.Minute

	verifyTokenPrefix      = "vfy_"
	emailChangeTokenPrefix = "eml_"
	// maxTokenLen bounds what is hashed and looked up: real tokens are 68 characters.
	maxTokenLen = 128
)

// ChangeEmailInput is a request to move the account to NewEmail, re-authenticated.
type ChangeEmailInput struct {
	NewEmail string
	Reauth
}

// queueVerification queues the verification email of a new account (inside ctx's
// transaction) and claims the account's verification-email slot, so a resend right after
// registration sends nothing. The caller wakes the sender after the commit.
func (s *Service) queueVerification(ctx context.Context, u User, now time.Time) error {
	_, err := s.sendVerification(ctx, u, now)
	return err
}

// sendVerification queues a verification link to u's address unless one was queued less than
// VerificationEmailInterval ago, reporting whether it queued one. It must run inside a
// transaction: the claimed slot, the token and the email commit or roll back together.
func (s *Service) sendVerification(ctx context.Context, u User, now time.Time) (bool, error) {
	ok, err := s.store.ClaimVerificationEmail(ctx, u.ID, now, VerificationEmailInterval)
	if err != nil || !ok {
		return false, err
	}
	raw, err := s.newID(verifyTokenPrefix, 32)
	if err != nil {
		return false, err
	}
	// Data keeps the address the link was sent to: a link proves only that mailbox, so it
	// must not verify whatever address the account holds later.
	tok := OneTimeToken{
		Hash: hashToken(raw), Purpose: PurposeVerify, UserID: u.ID, Data: u.Email,
		CreatedAt: now, ExpiresAt: now.Add(VerifyTokenTTL),
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return false, err
	}
	err = s.enqueue(ctx, OutboxEmail, Email{
		To: u.Email, Name: u.Name, Template: TemplateVerifyEmail,
		Link:             s.publicURL + "/verify-email?token=" + raw,
		ExpiresInMinutes: int(VerifyTokenTTL / time.Minute),
	})
	return err == nil, err
}

// VerifyEmail marks the account's address verified with the token from a verification link,
// consuming it and recording email_verified. A valid link of an account already verified
// succeeds and changes nothing. Errors: ErrInvalidToken for a malformed, unknown, used,
// voided or expired token or one of another kind (reset, email change), CodeRateLimited.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	if err := s.allow(ctx); err != nil {
		return err
	}
	token, ok := tokenOf(token, verifyTokenPrefix)
	if !ok {
		return ErrInvalidToken
	}
	now := s.now()
	return s.store.RunInTx(ctx, func(ctx context.Context) error {
		tok, u, err := s.consumeToken(ctx, PurposeVerify, token, now)
		if err != nil {
			return err
		}
		// The link proves the mailbox it went to; the account may have moved since.
		if tok.Data != "" && tok.Data != u.Email {
			return ErrInvalidToken
		}
		changed, err := s.store.MarkEmailVerified(ctx, u.ID, now)
		if err != nil {
			return err
		}
		// Any other verification link still out there has nothing left to prove.
		if err := s.store.VoidTokens(ctx, u.ID, PurposeVerify); err != nil {
			return err
		}
		if !changed {
			return nil // already verified: nothing happened worth an event
		}
		return s.record(ctx, u.ID, EventEmailVerified, map[string]string{"by": "link"})
	})
}

// ResendVerification queues the verification email again, at most once per
// VerificationEmailInterval per account (the one sent at registration included). It answers
// the same, and sends nothing, when the address is already verified or the interval has not
// passed. Errors: ErrUnauthenticated, CodeRateLimited.
func (s *Service) ResendVerification(ctx context.Context, p Principal) error {
	u, err := p.caller()
	if err != nil {
		return err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return err
	}
	now := s.now()
	queued := false
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The locked row: the address and its state now, not as the session read them.
		cur, err := s.lockCaller(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.EmailVerifiedAt != nil {
			return nil
		}
		queued, err = s.sendVerification(ctx, cur, now)
		return err
	})
	if err == nil && queued {
		s.onEnqueue()
	}
	return err
}

// ChangeEmail asks to move the caller's account to a new address, after re-authentication:
// a confirmation link (valid EmailChangeTokenTTL, voiding any older one) goes to the new
// address, a notice naming it partly masked goes to the current one, and
// email_change_requested is recorded. It answers the same, after the same work, when the new
// address belongs to another account; then no link is sent. Errors: ErrUnauthenticated,
// CodeValidation (malformed address, the current address, both codes sent, no password),
// ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP, CodeRateLimited, ErrBusy.
func (s *Service) ChangeEmail(ctx context.Context, p Principal, in ChangeEmailInput) error {
	u, err := p.caller()
	if err != nil {
		return err
	}
	newEmail := NormalizeEmail(in.NewEmail)
	if err := validateEmail(newEmail); err != nil {
		return err
	}
	if newEmail == u.Email {
		return invalid("New email must differ from the current one")
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, u, in.Reauth); err != nil {
		return err
	}
	raw, err := s.newID(emailChangeTokenPrefix, 32)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The locked row must still hold the password just checked (a concurrent password
		// change wins over this request), and its address is the one to notify.
		cur, err := s.lockCaller(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash {
			return ErrInvalidPassword
		}
		if newEmail == cur.Email {
			return invalid("New email must differ from the current one")
		}
		taken := true
		switch other, err := s.store.UserByEmail(ctx, newEmail); {
		case errors.Is(err, ErrNoRecord):
			taken = false
		case err != nil:
			return err
		default:
			taken = other.ID != cur.ID
		}
		// The token is stored (voiding older ones) whether or not the address is free, so
		// both paths do the same work; for a taken address nobody ever sees it, and
		// ConfirmEmail checks availability again anyway.
		tok := OneTimeToken{
			Hash: hashToken(raw), Purpose: PurposeEmailChange, UserID: cur.ID, Data: newEmail,
			CreatedAt: now, ExpiresAt: now.Add(EmailChangeTokenTTL),
		}
		if err := s.store.CreateToken(ctx, tok); err != nil {
			return err
		}
		masked := MaskEmail(newEmail)
		// The event and the notice say the same whatever the availability: the caller
		// must not learn from its own activity whether the address has an account.
		if err := s.record(ctx, cur.ID, EventEmailChangeRequested, map[string]string{"to": masked}); err != nil {
			return err
		}
		if err := s.enqueue(ctx, OutboxEmail, Email{
			To: cur.Email, Name: cur.Name, Template: TemplateEmailChangeRequested,
			Link: s.publicURL + "/forgot-password", Address: masked,
		}); err != nil {
			return err
		}
		if taken {
			return nil
		}
		return s.enqueue(ctx, OutboxEmail, Email{
			To: newEmail, Name: cur.Name, Template: TemplateConfirmEmailChange,
			Link:             s.publicURL + "/confirm-email?token=" + raw,
			ExpiresInMinutes: int(EmailChangeTokenTTL / time.Minute),
			Address:          newEmail,
		})
	})
	if err == nil {
		s.onEnqueue()
	}
	return err
}

// ConfirmEmail completes an email change with the token from a confirmation link: the
// account moves to the new address (verified), every outstanding reset, verification and
// email-change link of the account is voided, email_changed is recorded and a notice goes to
// both addresses, in one transaction. It returns the profile with the new address.
// Errors: ErrInvalidToken for a malformed, unknown, used, voided or expired token or one of
// another kind (reset, verification), ErrEmailTaken when another account took the address
// meanwhile (the link then stays usable), CodeRateLimited.
func (s *Service) ConfirmEmail(ctx context.Context, token string) (Profile, error) {
	if err := s.allow(ctx); err != nil {
		return Profile{}, err
	}
	token, ok := tokenOf(token, emailChangeTokenPrefix)
	if !ok {
		return Profile{}, ErrInvalidToken
	}
	now := s.now()
	var prof Profile
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		tok, u, err := s.consumeToken(ctx, PurposeEmailChange, token, now)
		if err != nil {
			return err
		}
		newEmail := tok.Data
		if validateEmail(newEmail) != nil {
			return ErrInvalidToken
		}
		ok, err := s.store.UpdateEmail(ctx, u.ID, newEmail, now)
		if err != nil {
			return err
		}
		if !ok {
			// Returned as an error so the transaction rolls back: the token is not spent,
			// and on PostgreSQL a unique violation has aborted the transaction anyway.
			return ErrEmailTaken
		}
		// Links sent to (or about) the old address must not outlive the move.
		if err := s.store.VoidTokens(ctx, u.ID, PurposeReset, PurposeVerify, PurposeEmailChange); err != nil {
			return err
		}
		detail := map[string]string{"from": MaskEmail(u.Email), "to": MaskEmail(newEmail)}
		if err := s.record(ctx, u.ID, EventEmailChanged, detail); err != nil {
			return err
		}
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		// Both mailboxes hear of it: the new one as a receipt, the old one so an owner
		// whose account was taken over knows at once.
		for _, to := range []string{newEmail, u.Email} {
			if err := s.enqueue(ctx, OutboxEmail, Email{
				To: to, Name: cur.Name, Template: TemplateEmailChanged,
				Link: s.publicURL + "/forgot-password", Address: MaskEmail(newEmail),
			}); err != nil {
				return err
			}
		}
		prof = cur.profile(now)
		return nil
	})
	if err != nil {
		return Profile{}, err
	}
	s.onEnqueue()
	return prof, nil
}

// tokenOf trims a token from a link and reports whether it has the prefix of the expected
// kind and a sane length, so a token of another kind never reaches the store.
func tokenOf(raw, prefix string) (string, bool) {
	raw = strings.TrimSpace(raw)
	return raw, strings.HasPrefix(raw, prefix) && len(raw) <= maxTokenLen
}

// consumeToken spends the token of purpose inside ctx's transaction and returns it with its
// user, locked. Errors: ErrInvalidToken for an unknown, used, voided or expired token.
func (s *Service) consumeToken(ctx context.Context, purpose Purpose, raw string, now time.Time) (OneTimeToken, User, error) {
	hash := hashToken(raw)
	// Lock the user row before the token row, the order every other per-user transaction
	// (a request voiding tokens) takes, so the two cannot deadlock.
	owner, err := s.store.TokenUser(ctx, purpose, hash)
	if errors.Is(err, ErrNoRecord) {
		return OneTimeToken{}, User{}, ErrInvalidToken
	}
	if err != nil {
		return OneTimeToken{}, User{}, err
	}
	u, err := s.store.LockUser(ctx, owner)
	if errors.Is(err, ErrNoRecord) {
		return OneTimeToken{}, User{}, ErrInvalidToken
	}
	if err != nil {
		return OneTimeToken{}, User{}, err
	}
	tok, err := s.store.ConsumeToken(ctx, purpose, hash, now)
	if errors.Is(err, ErrNoRecord) || (err == nil && tok.UserID != owner) {
		return OneTimeToken{}, User{}, ErrInvalidToken
	}
	if err != nil {
		return OneTimeToken{}, User{}, err
	}
	return tok, u, nil
}

// MaskEmail hides most of an address's local part ("jane@example.com" becomes
// "j***@example.com"), so a notice or an operator's listing can name an address without
// spelling it out.
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(email)
	return string(r) + "***" + email[at:]
}
