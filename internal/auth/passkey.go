package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Passkeys (WebAuthn). The relying party is the service's public URL: its host is the RP id
// and the URL itself (scheme, host, port) the only accepted origin. Credentials are
// discoverable (resident) with user verification required and checked, so a passkey counts as
// both factors. Ceremony state lives in the store (webauthn_challenges), never in process
// memory: a ceremony begun on one replica finishes on any other, each challenge once, within
// ChallengeTTL of the begin.

// Passkey limits.
const (
	// ChallengeTTL is how long a begun ceremony can be finished.
	ChallengeTTL = 5 * time.Minute
	// MaxPasskeys is how many passkeys one account may hold.
	MaxPasskeys = 20
	// MaxCredentialJSON bounds the browser's JSON of one credential.
	MaxCredentialJSON = 32 << 10
	// DefaultPasskeyName names a passkey registered without a name.
	DefaultPasskeyName = "Passkey"
)

// Codes of passkey failures.
const (
	CodeInvalidPasskey   Code = "invalid_passkey"
	CodeInvalidChallenge Code = "invalid_challenge"
)

// Events and the notice of passkeys.
const (
	EventPasskeyAdded   = "passkey_added"
	EventPasskeyRemoved = "passkey_removed"
	// TemplatePasskeyAdded is the notice sent when a passkey is added.
	TemplatePasskeyAdded = "passkey_added"
	// MsgPasskeyRemoved is the answer to a removal.
	MsgPasskeyRemoved = "Passkey removed"
)

var (
	// ErrInvalidPasskey is a sign-in whose assertion does not check out: an unknown credential,
	// a bad signature, a counter that went backwards (a cloned authenticator), no user
	// verification, the wrong origin or RP id, or a backup-eligibility flag that changed.
	ErrInvalidPasskey = &Error{Kind: KindUnauthenticated, Code: CodeInvalidPasskey, Message: "The passkey could not be verified"}
	// ErrInvalidChallenge is a challengeId that is unknown, already used, expired, or not the
	// caller's.
	ErrInvalidChallenge = &Error{Kind: KindInvalid, Code: CodeInvalidChallenge, Message: "The passkey challenge is unknown, used or expired; start again"}
	// errPasskeyRegistration is a registration whose credential does not check out: the
	// request is wrong (400), the caller is authenticated.
	errPasskeyRegistration = &Error{Kind: KindInvalid, Code: CodeInvalidPasskey, Message: "The passkey could not be verified; try again"}
	// errPasskeyTaken is a credential already registered (to this account or another).
	errPasskeyTaken = &Error{Kind: KindConflict, Code: CodeConflict, Message: "This passkey is already registered"}
	// errTooManyPasskeys is a registration past MaxPasskeys.
	errTooManyPasskeys = &Error{Kind: KindConflict, Code: CodeConflict, Message: fmt.Sprintf("An account can hold at most %d passkeys; remove one first", MaxPasskeys)}
	// ErrPasskeysUnavailable answers passkey operations when the public URL names no domain
	// (an IP address, say), which WebAuthn cannot use as a relying-party id.
	ErrPasskeysUnavailable = &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: "Passkeys are not available: the service's public URL must name a domain"}
)

// Passkey is a WebAuthn credential registered to one account.
type Passkey struct {
	ID     string // pk_…
	UserID string
	// CredentialID is the authenticator's raw credential id; unique across all accounts.
	CredentialID []byte
	// PublicKey is the COSE-encoded public key.
	PublicKey         []byte
	SignCount         uint32
	Transports        []string
	AAGUID            []byte
	AttestationFormat string
	// UserVerified, BackupEligible and BackupState are the flags as last seen: BE never
	// changes for a credential; BS may (a synced passkey gets backed up or stops being).
	UserVerified, BackupEligible, BackupState bool
	Name                                      string
	CreatedAt                                 time.Time
	LastUsedAt                                *time.Time
}

// PasskeyInfo is a passkey as its owner sees it (never its key).
type PasskeyInfo struct {
	ID, Name   string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// ExportedPasskey is a passkey as exported.
type ExportedPasskey = PasskeyInfo

func (pk Passkey) info() PasskeyInfo {
	return PasskeyInfo{ID: pk.ID, Name: pk.Name, CreatedAt: pk.CreatedAt, LastUsedAt: pk.LastUsedAt}
}

// Kinds of WebAuthn ceremonies.
const (
	ChallengeRegister = "register"
	ChallengeLogin    = "login"
)

// Challenge is a begun WebAuthn ceremony's server-side state.
type Challenge struct {
	ID string // wch_…
	// UserID is the account registering; "" for a sign-in.
	UserID    string
	Kind      string
	Session   []byte // the library's SessionData, JSON
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Passkeys keeps WebAuthn credentials and ceremony challenges.
type Passkeys interface {
	// CreatePasskey stores pk unless its credential id is registered already, reporting
	// whether it did.
	CreatePasskey(ctx context.Context, pk Passkey) (bool, error)
	// PasskeyByCredentialID returns the passkey with this raw credential id, or ErrNoRecord.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// UserPasskeys returns the user's passkeys, oldest first.
	UserPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// RenamePasskey renames the user's passkey id, reporting whether there was one.
	RenamePasskey(ctx context.Context, userID, id, name string) (bool, error)
	// DeletePasskey deletes the user's passkey id, reporting whether there was one.
	DeletePasskey(ctx context.Context, userID, id string) (bool, error)
	// DeletePasskeysBefore deletes the user's passkeys created at or before t and returns their ids.
	DeletePasskeysBefore(ctx context.Context, userID string, t time.Time) ([]string, error)
	// UsePasskey records a sign-in with passkey id — its new counter, backup state and the
	// time — if its counter is still oldCount (compare-and-set), reporting whether it did.
	UsePasskey(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, at time.Time) (bool, error)
	// CreateChallenge stores a begun ceremony.
	CreateChallenge(ctx context.Context, c Challenge) error
	// ConsumeChallenge marks the unused, unexpired (at now) challenge id of this kind and user
	// ("" for none) used and returns it, or ErrNoRecord — once, whatever runs concurrently.
	ConsumeChallenge(ctx context.Context, id, kind, userID string, now time.Time) (Challenge, error)
}

// newRelyingParty is the WebAuthn relying party of publicURL: its host is the RP id and its
// origin the only one accepted. It fails for a URL whose host is not a domain.
func newRelyingParty(publicURL, displayName string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("auth: public URL %q has no host", publicURL)
	}
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: displayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// None: we trust no attestation roots, and asking for more only costs users privacy.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		// The library's own expiry reads the wall clock; the store enforces ChallengeTTL with
		// the injected one instead. The timeout is only the hint sent to the browser.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL},
			Registration: webauthn.TimeoutConfig{Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL},
		},
	})
}

// waUser is an account as the WebAuthn library sees it. The user handle is the account id:
// opaque, stable, and no personal data.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Email }
func (w waUser) WebAuthnDisplayName() string                { return w.u.Name }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// credential is pk as the library's credential record.
func (pk Passkey) credential() webauthn.Credential {
	f := protocol.FlagUserPresent
	if pk.UserVerified {
		f |= protocol.FlagUserVerified
	}
	if pk.BackupEligible {
		f |= protocol.FlagBackupEligible
	}
	if pk.BackupState {
		f |= protocol.FlagBackupState
	}
	ts := make([]protocol.AuthenticatorTransport, len(pk.Transports))
	for i, t := range pk.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: pk.CredentialID, PublicKey: pk.PublicKey, AttestationFormat: pk.AttestationFormat,
		Transport: ts, Flags: webauthn.NewCredentialFlags(f),
		Authenticator: webauthn.Authenticator{AAGUID: pk.AAGUID, SignCount: pk.SignCount},
	}
}

// PasskeyCeremony is a begun ceremony: the id to finish it with and the options for the
// browser (PublicKeyCredentialCreationOptions or PublicKeyCredentialRequestOptions as
// WebAuthn JSON, for PublicKeyCredential.parse…OptionsFromJSON).
type PasskeyCeremony struct {
	ChallengeID string
	Options     json.RawMessage
}

func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	if s.rp == nil {
		return nil, ErrPasskeysUnavailable
	}
	return s.rp, nil
}

// saveChallenge stores the library's session data of a begun ceremony for ChallengeTTL.
func (s *Service) saveChallenge(ctx context.Context, userID, kind string, sd *webauthn.SessionData, options any) (PasskeyCeremony, error) {
	session, err := json.Marshal(sd)
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("auth: webauthn session: %w", err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("auth: webauthn options: %w", err)
	}
	id, err := s.newID("wch_", 16)
	if err != nil {
		return PasskeyCeremony{}, err
	}
	now := s.now()
	c := Challenge{ID: id, UserID: userID, Kind: kind, Session: session, CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	if err := s.store.CreateChallenge(ctx, c); err != nil {
		return PasskeyCeremony{}, err
	}
	return PasskeyCeremony{ChallengeID: id, Options: opts}, nil
}

// takeChallenge uses up challenge id of kind begun by userID ("" for sign-in).
// Errors: ErrInvalidChallenge.
func (s *Service) takeChallenge(ctx context.Context, id, kind, userID string) (webauthn.SessionData, error) {
	if !strings.HasPrefix(id, "wch_") || len(id) > 64 {
		return webauthn.SessionData{}, ErrInvalidChallenge
	}
	c, err := s.store.ConsumeChallenge(ctx, id, kind, userID, s.now())
	if errors.Is(err, ErrNoRecord) {
		return webauthn.SessionData{}, ErrInvalidChallenge
	}
	if err != nil {
		return webauthn.SessionData{}, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Session, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("auth: webauthn session: %w", err)
	}
	return sd, nil
}

// validatePasskeyName trims name and checks it: 1-100 characters, no control characters; an
// empty name becomes DefaultPasskeyName. Errors: CodeValidation.
func validatePasskeyName(name string) (string, error) {
	name = trimSpace(name)
	if name == "" {
		return DefaultPasskeyName, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", invalid("Passkey name must be 1-100 characters without control characters")
	}
	return name, nil
}

// BeginPasskeyRegistration starts adding a passkey to the caller's account, after the same
// re-authentication as a password change (password, and a second factor when 2FA is on). The
// options ask for a discoverable credential with user verification and no attestation, and
// exclude the account's passkeys so an authenticator cannot register twice.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP,
// CodeValidation, CodeRateLimited, ErrBusy, ErrPasskeysUnavailable, CodeConflict (at
// MaxPasskeys).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p Principal, r Reauth) (PasskeyCeremony, error) {
	u, err := p.caller()
	if err != nil {
		return PasskeyCeremony{}, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return PasskeyCeremony{}, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return PasskeyCeremony{}, err
	}
	if err := s.reauthenticate(ctx, u, r); err != nil {
		return PasskeyCeremony{}, err
	}
	existing, err := s.store.UserPasskeys(ctx, u.ID)
	if err != nil {
		return PasskeyCeremony{}, err
	}
	if len(existing) >= MaxPasskeys {
		return PasskeyCeremony{}, errTooManyPasskeys
	}
	exclude := make([]protocol.CredentialDescriptor, len(existing))
	for i, pk := range existing {
		c := pk.credential()
		exclude[i] = c.Descriptor()
	}
	creation, sd, err := rp.BeginRegistration(waUser{u: u}, webauthn.WithExclusions(exclude))
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("auth: begin registration: %w", err)
	}
	return s.saveChallenge(ctx, u.ID, ChallengeRegister, sd, creation.Response)
}

// PasskeyRegistration finishes adding a passkey: the challenge begun by
// BeginPasskeyRegistration, the browser's JSON of the new credential, and a name for it.
type PasskeyRegistration struct {
	ChallengeID string
	Credential  []byte
	Name        string
}

// FinishPasskeyRegistration verifies the new credential against the caller's challenge
// (origin, RP id, user verification, the challenge itself) and stores it; the passkey is
// recorded as activity and a notice goes to the account's address.
// Errors: ErrUnauthenticated, CodeValidation (name), ErrInvalidChallenge, CodeInvalidPasskey
// (400: the credential does not check out), CodeConflict (registered already, or
// MaxPasskeys), CodeRateLimited, ErrPasskeysUnavailable.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p Principal, in PasskeyRegistration) (PasskeyInfo, error) {
	u, err := p.caller()
	if err != nil {
		return PasskeyInfo{}, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return PasskeyInfo{}, err
	}
	name, err := validatePasskeyName(in.Name)
	if err != nil {
		return PasskeyInfo{}, err
	}
	if len(in.Credential) == 0 || len(in.Credential) > MaxCredentialJSON {
		return PasskeyInfo{}, invalid("credential must be the browser's JSON of the new passkey")
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return PasskeyInfo{}, err
	}
	sd, err := s.takeChallenge(ctx, in.ChallengeID, ChallengeRegister, u.ID)
	if err != nil {
		return PasskeyInfo{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return PasskeyInfo{}, errPasskeyRegistration
	}
	cred, err := rp.CreateCredential(waUser{u: u}, sd, parsed)
	// The library checks UV because the session requires it; checked here too, so that a
	// passkey counting as two factors never rests on one library setting.
	if err != nil || !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return PasskeyInfo{}, errPasskeyRegistration
	}
	id, err := s.newID("pk_", 12)
	if err != nil {
		return PasskeyInfo{}, err
	}
	now := s.now()
	pk := Passkey{
		ID: id, UserID: u.ID, CredentialID: cred.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, AttestationFormat: cred.AttestationFormat,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Name: name, CreatedAt: now,
	}
	for _, t := range cred.Transport {
		if t != "" && len(pk.Transports) < 8 && !strings.Contains(string(t), ",") {
			pk.Transports = append(pk.Transports, string(t))
		}
	}
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		cur, err := s.lockCaller(ctx, u.ID)
		if err != nil {
			return err
		}
		have, err := s.store.UserPasskeys(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(have) >= MaxPasskeys {
			return errTooManyPasskeys
		}
		created, err := s.store.CreatePasskey(ctx, pk)
		if err != nil {
			return err
		}
		if !created {
			return errPasskeyTaken
		}
		if err := s.record(ctx, u.ID, EventPasskeyAdded, map[string]string{"passkeyId": pk.ID, "name": pk.Name}); err != nil {
			return err
		}
		return s.notify(ctx, cur, TemplatePasskeyAdded)
	})
	if err != nil {
		return PasskeyInfo{}, err
	}
	s.onEnqueue()
	return pk.info(), nil
}

// ListPasskeys returns the caller's passkeys, oldest first. Errors: ErrUnauthenticated.
func (s *Service) ListPasskeys(ctx context.Context, p Principal) ([]PasskeyInfo, error) {
	u, err := p.caller()
	if err != nil {
		return nil, err
	}
	pks, err := s.store.UserPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]PasskeyInfo, len(pks))
	for i, pk := range pks {
		out[i] = pk.info()
	}
	return out, nil
}

// validPasskeyID tells whether id could name a passkey, so that junk never reaches the store.
func validPasskeyID(id string) bool { return strings.HasPrefix(id, "pk_") && len(id) <= 64 }

// RenamePasskey renames one of the caller's passkeys and returns it.
// Errors: ErrUnauthenticated, CodeValidation, ErrNotFound (unknown or another account's),
// CodeRateLimited.
func (s *Service) RenamePasskey(ctx context.Context, p Principal, id, name string) (PasskeyInfo, error) {
	u, err := p.caller()
	if err != nil {
		return PasskeyInfo{}, err
	}
	if name, err = validatePasskeyName(name); err != nil {
		return PasskeyInfo{}, err
	}
	if err := s.allowWrite(ctx, u.ID); err != nil {
		return PasskeyInfo{}, err
	}
	if !validPasskeyID(id) {
		return PasskeyInfo{}, ErrNotFound
	}
	ok, err := s.store.RenamePasskey(ctx, u.ID, id, name)
	if err != nil {
		return PasskeyInfo{}, err
	}
	if !ok {
		return PasskeyInfo{}, ErrNotFound
	}
	pks, err := s.store.UserPasskeys(ctx, u.ID)
	if err != nil {
		return PasskeyInfo{}, err
	}
	for _, pk := range pks {
		if pk.ID == id {
			return pk.info(), nil
		}
	}
	return PasskeyInfo{}, ErrNotFound // removed meanwhile
}

// DeletePasskey removes one of the caller's passkeys after the same re-authentication as
// adding one, and records it.
// Errors: ErrUnauthenticated, ErrInvalidPassword, ErrSecondFactorRequired, ErrInvalidTOTP,
// CodeValidation, ErrNotFound (unknown or another account's), CodeRateLimited, ErrBusy.
func (s *Service) DeletePasskey(ctx context.Context, p Principal, id string, r Reauth) error {
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
	if !validPasskeyID(id) {
		return ErrNotFound
	}
	return s.store.RunInTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.DeletePasskey(ctx, u.ID, id)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		return s.record(ctx, u.ID, EventPasskeyRemoved, map[string]string{"passkeyId": id})
	})
}

// BeginPasskeyLogin starts a passkey sign-in: the options name no account (discoverable
// credentials, usable with conditional mediation) and require user verification.
// Errors: CodeRateLimited, ErrPasskeysUnavailable.
func (s *Service) BeginPasskeyLogin(ctx context.Context) (PasskeyCeremony, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return PasskeyCeremony{}, err
	}
	if err := s.allow(ctx); err != nil {
		return PasskeyCeremony{}, err
	}
	assertion, sd, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("auth: begin login: %w", err)
	}
	return s.saveChallenge(ctx, "", ChallengeLogin, sd, assertion.Response)
}

// passkeyFailuresKey names a client's budget of failed passkey sign-ins.
func passkeyFailuresKey(ctx context.Context) string { return "passkey-ip:" + clientKey(ClientIP(ctx)) }

// FinishPasskeyLogin signs in with a passkey: the assertion must answer the sign-in
// challenge, come from the service's origin for its RP id, carry user verification, be signed
// by a registered credential whose user handle is its owner, and advance its signature
// counter (authenticators that keep none send 0 every time). The passkey counts as both
// factors; the session's method is passkey. A synced passkey whose backup state changed is
// accepted and the new state stored; a change of backup eligibility, which a credential never
// makes, is refused. Failures are throttled per client like wrong passwords (a per-IP budget
// with backoff) on top of the per-IP rate limit; a suspended account is refused after the
// assertion checks out, as login does after the password.
// Errors: ErrInvalidChallenge, ErrInvalidPasskey, ErrSuspended, CodeValidation (credential
// missing or too large), CodeRateLimited, ErrPasskeysUnavailable.
func (s *Service) FinishPasskeyLogin(ctx context.Context, challengeID string, credential []byte) (LoginResult, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return LoginResult{}, err
	}
	if err := s.allow(ctx); err != nil {
		return LoginResult{}, err
	}
	if len(credential) == 0 || len(credential) > MaxCredentialJSON {
		return LoginResult{}, invalid("credential must be the browser's JSON of the passkey's assertion")
	}
	now := s.now()
	budget := Budget{Key: passkeyFailuresKey(ctx), Free: pairFree, Backoff: passwordBackoff, Decay: failureDecay, Enforce: true}
	res, ok, th, err := s.store.Reserve(ctx, budget, now)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, rateLimited(budget.wait(th, now))
	}
	out, user, err := s.passkeyLogin(ctx, rp, challengeID, credential)
	switch {
	case err == nil:
		if err := s.store.ClearFailures(ctx, []string{res.Key}, nil); err != nil {
			return LoginResult{}, err
		}
		if err := s.store.MarkKnown(ctx, knownKey(ctx, user.Email), now, now.Add(knownFor)); err != nil {
			return LoginResult{}, err
		}
		return out, nil
	case CodeOf(err) == CodeInvalidPasskey:
		// A failed assertion stays counted; anything else (a stale challenge, a busy
		// database) gives the attempt back.
		if user.ID != "" {
			if rerr := s.record(ctx, user.ID, EventLoginFailed, map[string]string{"reason": "passkey"}); rerr != nil {
				return LoginResult{}, rerr
			}
		}
		return LoginResult{}, err
	default:
		if rerr := s.store.Release(ctx, res); rerr != nil {
			return LoginResult{}, rerr
		}
		return LoginResult{}, err
	}
}

// passkeyLogin checks an assertion and opens the session. user is the credential's owner
// whenever the credential is known, also on failure.
func (s *Service) passkeyLogin(ctx context.Context, rp *webauthn.WebAuthn, challengeID string, credential []byte) (LoginResult, User, error) {
	sd, err := s.takeChallenge(ctx, challengeID, ChallengeLogin, "")
	if err != nil {
		return LoginResult{}, User{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return LoginResult{}, User{}, ErrInvalidPasskey
	}
	pk, err := s.store.PasskeyByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, ErrNoRecord) {
		return LoginResult{}, User{}, ErrInvalidPasskey
	}
	if err != nil {
		return LoginResult{}, User{}, err
	}
	u, err := s.store.LockUser(ctx, pk.UserID)
	if err != nil {
		return LoginResult{}, User{}, err
	}
	// The handler is given the credential's owner; the library then checks that the
	// assertion's user handle is that owner's, so a credential cannot sign in as another.
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		if !bytes.Equal(rawID, pk.CredentialID) {
			return nil, ErrInvalidPasskey
		}
		return waUser{u: u, creds: []webauthn.Credential{pk.credential()}}, nil
	}
	_, cred, err := rp.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil || !parsed.Response.AuthenticatorData.Flags.HasUserVerified() || cred.Authenticator.CloneWarning {
		return LoginResult{}, u, ErrInvalidPasskey
	}
	if u.Suspended() {
		return LoginResult{}, u, ErrSuspended
	}
	now := s.now()
	var res LoginResult
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockUser(ctx, u.ID)
		if errors.Is(err, ErrNoRecord) {
			return ErrInvalidPasskey // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if cur.Suspended() {
			return ErrSuspended
		}
		// Compare-and-set on the counter: of two sign-ins racing with one counter value (a
		// replayed assertion on two replicas), one wins. The passkey removed meanwhile also
		// fails here.
		ok, err := s.store.UsePasskey(ctx, pk.ID, pk.SignCount, cred.Authenticator.SignCount, cred.Flags.BackupState, now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrInvalidPasskey
		}
		sess, tok, err := s.newSession(ctx, u.ID, now, MethodPasskey)
		if err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, EventLogin, map[string]string{"sessionId": sess.ID, "method": string(MethodPasskey), "passkeyId": pk.ID}); err != nil {
			return err
		}
		res = LoginResult{User: cur.profile(now), Token: tok, ExpiresAt: sess.ExpiresAt}
		return nil
	})
	if err != nil {
		return LoginResult{}, u, err
	}
	return res, u, nil
}
