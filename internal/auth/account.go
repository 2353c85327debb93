package auth

import (
	"context"
	"time"
)

// RegisterInput is what a new account is made from.
type RegisterInput struct{ Email, Name, Password string }

// RegisterResult is the outcome of Register. Created is false when the email already had an
// account: then only Message is set and nothing was changed.
type RegisterResult struct {
	Created   bool
	Message   string
	User      Profile
	Token     string
	ExpiresAt time.Time
}

// Register creates an account on a 14-day Solo trial and logs it in. An email that already
// has an account yields Created false after the same hashing work, so timing does not tell,
// and queues a password-reset email to its holder (at most one per DuplicateNoticeInterval).
// Errors: CodeValidation for bad input, CodeRateLimited, ErrBusy when hashing is saturated.
func (s *Service) Register(ctx context.Context, in RegisterInput) (RegisterResult, error) {
	if err := s.allow(ctx); err != nil {
		return RegisterResult{}, err
	}
	email, name := NormalizeEmail(in.Email), trimSpace(in.Name)
	if err := validateEmail(email); err != nil {
		return RegisterResult{}, err
	}
	if err := validateName(name); err != nil {
		return RegisterResult{}, err
	}
	if err := validatePassword("Password", in.Password); err != nil {
		return RegisterResult{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return RegisterResult{}, err
	}
	id, err := s.newID("usr_", 12)
	if err != nil {
		return RegisterResult{}, err
	}
	now := s.now()
	trialEnds := now.Add(TrialLength)
	u := User{
		ID: id, Email: email, Name: name, PasswordHash: hash,
		Tier: TierSolo, TrialEndsAt: &trialEnds, CreatedAt: now, UpdatedAt: now,
	}
	var res RegisterResult
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		created, err := s.store.CreateUser(ctx, u)
		if err != nil || !created {
			return err
		}
		sess, tok, err := s.newSession(ctx, u.ID, now)
		if err != nil {
			return err
		}
		res = RegisterResult{Created: true, User: u.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if err != nil {
		return RegisterResult{}, err
	}
	if !res.Created {
		// Tell the holder, in the background and throttled; the caller learns nothing.
		if err := s.enqueue(ctx, OutboxResetRequest, resetRequest{Email: email, Reason: reasonDuplicate}); err != nil {
			return RegisterResult{}, err
		}
		s.onEnqueue()
		return RegisterResult{Message: MsgRegisterDuplicate}, nil
	}
	return res, nil
}

// Me returns the caller's profile with the effective tier at this moment.
// Errors: ErrUnauthenticated.
func (s *Service) Me(ctx context.Context, p Principal) (Profile, error) {
	u, err := p.caller()
	if err != nil {
		return Profile{}, err
	}
	return u.profile(s.now()), nil
}
