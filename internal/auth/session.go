package auth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// LoginInput is a login attempt. TOTPCode and BackupCode are nil when not sent.
type LoginInput struct {
	Email, Password      string
	TOTPCode, BackupCode *string
}

// LoginResult is the outcome of Login. When TOTPRequired is set the password was right but a
// second factor must be sent; nothing else is set and no session exists.
type LoginResult struct {
	TOTPRequired bool
	User         Profile
	Token        string
	ExpiresAt    time.Time
}

// Login checks the credentials and opens a new session. Unknown email and wrong password
// give the same ErrInvalidCredentials after the same work. With 2FA on, a TOTP or backup code
// is required (without one the result is TOTPRequired) and consumed in the same transaction
// that opens the session. A stored hash with outdated parameters is replaced.
// Repeated failures make the client wait (see the brute-force policy in throttle.go).
// Errors: ErrInvalidCredentials, ErrInvalidTOTP, CodeValidation, CodeRateLimited, ErrBusy.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	if err := s.allow(ctx); err != nil {
		return LoginResult{}, err
	}
	email := NormalizeEmail(in.Email)
	if email == "" || in.Password == "" {
		return LoginResult{}, invalid("Email and password are required")
	}
	if err := validateEmail(email); err != nil {
		// Syntax only, so it tells nothing about accounts; and nothing malformed (NUL bytes,
		// invalid UTF-8) travels on to the database.
		return LoginResult{}, err
	}
	if in.TOTPCode != nil && in.BackupCode != nil {
		return LoginResult{}, invalid("Send either totpCode or backupCode, not both")
	}
	at, err := s.reserve(ctx, email, in.TOTPCode != nil || in.BackupCode != nil)
	if err != nil {
		return LoginResult{}, err
	}
	res, err := s.login(ctx, email, in)
	if err != nil || res.TOTPRequired {
		// A wrong password or code stays counted; a TOTPRequired answer (the password was
		// right) or a check that never ran gives the attempt back.
		if err := s.settle(ctx, at, err); err != nil {
			return LoginResult{}, err
		}
		return res, nil
	}
	if err := s.succeeded(ctx, at); err != nil {
		return LoginResult{}, err
	}
	// This client has proved it holds the credentials: account-wide locks spare it from now on.
	now := s.now()
	if err := s.store.MarkKnown(ctx, knownKey(ctx, email), now, now.Add(knownFor)); err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// login checks the credentials of a reserved attempt and opens the session.
func (s *Service) login(ctx context.Context, email string, in LoginInput) (LoginResult, error) {
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNoRecord) {
		if _, _, err := s.hasher.Verify(ctx, in.Password, s.dummyHash); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	ok, rehash, err := s.hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, s.loginFailed(ctx, u.ID, ErrInvalidCredentials)
	}
	if u.Suspended() {
		// Only after the password check, so a stranger learns nothing about the account.
		return LoginResult{}, ErrSuspended
	}
	if u.TOTPEnabled && in.TOTPCode == nil && in.BackupCode == nil {
		return LoginResult{TOTPRequired: true}, nil
	}
	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return LoginResult{}, err
		}
	}
	now := s.now()
	var res LoginResult
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		// The password was checked outside this transaction. Lock the row and make sure it
		// is still the one checked: a reset (or 2FA change) committed meanwhile must win, or
		// this login would open a session after the reset revoked them all.
		cur, err := s.store.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash || cur.TOTPEnabled != u.TOTPEnabled {
			return ErrInvalidCredentials
		}
		if cur.Suspended() {
			return ErrSuspended // suspended since the password check
		}
		if newHash != "" {
			if err := s.store.UpdatePasswordHash(ctx, u.ID, newHash, now); err != nil {
				return err
			}
			u.PasswordHash, u.UpdatedAt = newHash, now
		}
		if cur.TOTPEnabled {
			// The locked row, so a secret rotated since the password check is the one used.
			if err := s.checkSecondFactor(ctx, cur, in.TOTPCode, in.BackupCode, now); err != nil {
				return err
			}
			if in.BackupCode != nil {
				if err := s.record(ctx, u.ID, EventBackupCodeUsed, nil); err != nil {
					return err
				}
			}
		}
		sess, tok, err := s.newSession(ctx, u.ID, now, MethodPassword)
		if err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, EventLogin, map[string]string{"sessionId": sess.ID}); err != nil {
			return err
		}
		res = LoginResult{User: u.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if CodeOf(err) == CodeInvalidTOTP {
		return LoginResult{}, s.loginFailed(ctx, u.ID, err)
	}
	if err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// loginFailed records a failed sign-in of an existing account (the transaction that
// checked it, if any, has rolled back) and returns orig.
func (s *Service) loginFailed(ctx context.Context, userID string, orig error) error {
	reason := "password"
	if CodeOf(orig) == CodeInvalidTOTP {
		reason = "second_factor"
	}
	if err := s.record(ctx, userID, EventLoginFailed, map[string]string{"reason": reason}); err != nil {
		return err
	}
	return orig
}

// Authenticate resolves a bearer token to its live session and user with one store read; it
// is the only way to get the Principal that authenticated operations take. Transports call it
// once per request, at the edge.
// Errors: ErrUnauthenticated for a missing, malformed, forged, expired or revoked token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	sess, u, err := s.store.ActiveSession(ctx, c.SessionID, now)
	if errors.Is(err, ErrNoRecord) || (err == nil && u.ID != c.Subject) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Suspended() {
		// Suspension revokes every session in its transaction; this covers a session
		// opened by a login racing with it.
		return Principal{}, ErrUnauthenticated
	}
	// At most one write per session per LastSeenInterval, so reads stay one lookup.
	if now.Sub(sess.LastSeenAt) >= LastSeenInterval {
		if err := s.store.TouchSession(ctx, sess.ID, now, now.Add(-LastSeenInterval)); err != nil {
			return Principal{}, err
		}
	}
	// The role comes from the row read now, so a revoked admin loses the power at once.
	return Principal{UserID: u.ID, SessionID: c.SessionID, Role: u.role(), user: u}, nil
}

// LastSeenInterval is how stale a session's last-seen time may get before a request
// refreshes it.
const LastSeenInterval = time.Minute

// Logout revokes the caller's session; the user's other sessions are untouched.
// Errors: ErrUnauthenticated.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if _, err := p.caller(); err != nil {
		return err
	}
	return s.store.RunInTx(ctx, func(ctx context.Context) error {
		revoked, err := s.store.RevokeSession(ctx, p.SessionID, s.now())
		if err != nil {
			return err
		}
		if !revoked {
			// Lost a race with another logout of the same token: it is dead either way, but
			// this caller presented a token that is no longer valid.
			return ErrUnauthenticated
		}
		return s.record(ctx, p.UserID, EventLogout, nil)
	})
}

// SessionView is one of the caller's sessions as shown to them.
type SessionView struct {
	Session
	// Current marks the session making the request.
	Current bool
}

// MsgSessionRevoked is the answer to a revoked session.
const MsgSessionRevoked = "Session revoked"

// ListSessions returns the caller's live sessions, newest first. Errors: ErrUnauthenticated.
func (s *Service) ListSessions(ctx context.Context, p Principal) ([]SessionView, error) {
	if _, err := p.caller(); err != nil {
		return nil, err
	}
	sessions, err := s.store.UserSessions(ctx, p.UserID, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, len(sessions))
	for i, sess := range sessions {
		out[i] = SessionView{Session: sess, Current: sess.ID == p.SessionID}
	}
	return out, nil
}

// RevokeSession revokes one of the caller's sessions; its token dies at once on every
// replica. The caller's own session works like Logout. Errors: ErrUnauthenticated,
// ErrNotFound for an unknown, expired, already revoked or another user's id (never telling
// which), CodeRateLimited.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) error {
	if _, err := p.caller(); err != nil {
		return err
	}
	if err := s.allowWrite(ctx, p.UserID); err != nil {
		return err
	}
	if !strings.HasPrefix(id, "ses_") || len(id) > 64 {
		return ErrNotFound
	}
	return s.store.RunInTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.RevokeUserSession(ctx, p.UserID, id, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		return s.record(ctx, p.UserID, EventSessionRevoked, map[string]string{"sessionId": id})
	})
}

// RevokeOtherSessions revokes every session of the caller but the calling one and returns
// how many. Errors: ErrUnauthenticated, CodeRateLimited.
func (s *Service) RevokeOtherSessions(ctx context.Context, p Principal) (int, error) {
	if _, err := p.caller(); err != nil {
		return 0, err
	}
	if err := s.allowWrite(ctx, p.UserID); err != nil {
		return 0, err
	}
	var n int
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		var err error
		if n, err = s.revokeSessions(ctx, p.UserID, p.SessionID, s.now()); err != nil || n == 0 {
			return err
		}
		return s.record(ctx, p.UserID, EventSessionRevoked, map[string]string{"count": strconv.Itoa(n), "scope": "others"})
	})
	return n, err
}

// revokeSessions revokes every active session of the user but keep (none when empty), and
// reports how many it revoked. A device grant approved but not yet collected is a session
// waiting to be made: it is denied with them, or a password reset would leave one for
// whoever holds its device code. Callers run it in their transaction.
func (s *Service) revokeSessions(ctx context.Context, userID, keep string, now time.Time) (int, error) {
	n, err := s.store.RevokeUserSessions(ctx, userID, keep, now)
	if err != nil {
		return 0, err
	}
	return n, s.store.DenyApprovedDeviceGrants(ctx, userID, now)
}

// lockCaller locks the caller's row for the rest of the transaction. A caller whose account
// is gone meanwhile (deleted in a concurrent request) is no longer signed in: ErrUnauthenticated.
func (s *Service) lockCaller(ctx context.Context, id string) (User, error) {
	u, err := s.store.LockUser(ctx, id)
	if errors.Is(err, ErrNoRecord) {
		return User{}, ErrUnauthenticated
	}
	return u, err
}
