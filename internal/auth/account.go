package auth

import (
	"context"
	"errors"
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
		sess, tok, err := s.newSession(ctx, u.ID, now, MethodRegister)
		if err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, EventRegistered, nil); err != nil {
			return err
		}
		if err := s.queueVerification(ctx, u, now); err != nil {
			return err
		}
		res = RegisterResult{Created: true, User: u.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if err != nil {
		return RegisterResult{}, err
	}
	if res.Created {
		s.onEnqueue() // the verification email
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

// Messages of the account operations.
const (
	MsgAccountDeleted = "Account deleted"
)

// UpdateMe changes the caller's name (1-100 characters after trimming) and returns the
// profile. Errors: ErrUnauthenticated, CodeValidation, CodeRateLimited.
func (s *Service) UpdateMe(ctx context.Context, p Principal, name string) (Profile, error) {
	u, err := p.caller()
	if err != nil {
		return Profile{}, err
	}
	name = trimSpace(name)
	if err := validateName(name); err != nil {
		return Profile{}, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return Profile{}, err
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// Lock first, the order every per-user transaction takes, then re-read what was written.
		if _, err := s.store.LockUser(ctx, u.ID); err != nil {
			return err
		}
		if err := s.store.UpdateName(ctx, u.ID, name, now); err != nil {
			return err
		}
		cur, err := s.store.LockUser(ctx, u.ID)
		u = cur
		return err
	})
	if err != nil {
		return Profile{}, err
	}
	return u.profile(now), nil
}

// Export is everything held about an account, as its owner may download it. It never holds
// a password hash, secret, code, token or key.
type Export struct {
	ExportedAt time.Time
	User       Profile
	Sessions   []SessionView
	Activity   []Event
	TwoFactor  TOTPStatus
	// Passkeys are the account's passkeys (names and times, never keys).
	Passkeys []ExportedPasskey
}

// ExportAccount returns the whole record held about the caller, and records that it was
// exported. Errors: ErrUnauthenticated, CodeRateLimited.
func (s *Service) ExportAccount(ctx context.Context, p Principal) (Export, error) {
	u, err := p.caller()
	if err != nil {
		return Export{}, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return Export{}, err
	}
	if err := s.record(ctx, u.ID, EventDataExported, nil); err != nil {
		return Export{}, err
	}
	sessions, err := s.ListSessions(ctx, p)
	if err != nil {
		return Export{}, err
	}
	activity, err := s.store.Events(ctx, u.ID, 0, nil)
	if err != nil {
		return Export{}, err
	}
	st, err := s.TOTPStatus(ctx, p)
	if err != nil {
		return Export{}, err
	}
	passkeys, err := s.ListPasskeys(ctx, p)
	if err != nil {
		return Export{}, err
	}
	now := s.now()
	return Export{ExportedAt: now, User: u.profile(now), Sessions: sessions, Activity: activity, TwoFactor: st, Passkeys: passkeys}, nil
}

// DeleteAccount erases the caller's account after re-authentication: the user and everything
// keyed to them go in one transaction, every token dies at once, the address can register
// again at once, a goodbye email goes out, and one account_deleted event keeping only the
// user id and time remains. Errors: ErrUnauthenticated, ErrInvalidPassword,
// ErrSecondFactorRequired, ErrInvalidTOTP, CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) DeleteAccount(ctx context.Context, p Principal, r Reauth) error {
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
	err = s.erase(ctx, u.ID, ActorSelf)
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthenticated // deleted meanwhile
	}
	return err
}

// erase deletes the account and everything keyed to it in one transaction, leaving one
// account_deleted event with only the id, the time and actor, and queues the goodbye email.
// Errors: ErrNotFound when the account is gone.
func (s *Service) erase(ctx context.Context, userID, actor string) error {
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The locked row: a concurrent email change or deletion is settled before this one.
		cur, err := s.store.LockUser(ctx, userID)
		if errors.Is(err, ErrNoRecord) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := s.store.DeleteUser(ctx, userID); err != nil {
			return err
		}
		id, err := s.newID("evt_", 12)
		if err != nil {
			return err
		}
		// No ip, user agent or detail: nothing that identifies the person remains.
		if err := s.store.AddEvent(ctx, Event{ID: id, UserID: userID, Type: EventAccountDeleted, At: s.now(), Actor: actor}); err != nil {
			return err
		}
		return s.notify(ctx, cur, TemplateAccountDeleted)
	})
	if err == nil {
		s.onEnqueue()
	}
	return err
}
