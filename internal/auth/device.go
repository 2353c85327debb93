package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The OAuth 2.0 device authorization grant (RFC 8628): a CLI without a browser asks for a
// code (DeviceAuthorization), the signed-in user looks it up and approves or denies it in the
// dashboard (LookupDevice, ApproveDevice), and the CLI polls the token endpoint (DeviceToken)
// until the grant yields one ordinary session — once.
//
// Guessing user codes. A user code is 8 letters from a 20-letter alphabet: 20^8 ≈ 2.56e10
// codes, each live for DeviceCodeTTL (600 s). Only signed-in callers can try one, and every
// well-formed try is counted before the lookup (released when the code exists): per client IP
// and per account deviceGuessFree tries, then the password ladder (1 s, 2 s … 15 min); and
// service-wide, once deviceGuessGlobalCap tries have failed (without an hour's pause), one try
// per second for every caller together. So an attacker with unlimited addresses and accounts
// gets at most about 600 tries in a grant's 10 minutes: with L codes pending at once, the chance
// of hitting any one of them is ≤ (deviceGuessGlobalCap + 600) · L / 2.56e10 — 2.7e-7 for
// L = 10, 2.7e-5 for L = 1000.

// Device grant limits and defaults.
const (
	// DeviceCodeTTL is how long a device code and its user code live.
	DeviceCodeTTL = 10 * time.Minute
	// DeviceInterval is the initial polling interval; slow_down adds DeviceSlowDown.
	DeviceInterval = 5 * time.Second
	DeviceSlowDown = 5 * time.Second
	// DefaultDeviceClient is the public client configured when none is.
	DefaultDeviceClient = "panguard-cli"
	// MaxDeviceClientName bounds the client_name a device may send, in characters.
	MaxDeviceClientName = 100
	// MaxPendingDeviceGrants is how many grants one client IP may have pending at once.
	MaxPendingDeviceGrants = 10
	// deviceAuthPerMinute is each client IP's budget of device authorization requests.
	deviceAuthPerMinute = 10
	// deviceGuessFree is how many unknown user codes a client IP, or an account, may try
	// before the backoff ladder applies.
	deviceGuessFree = 10
	// deviceGuessGlobalCap failed tries service-wide bring every caller to one try a second.
	deviceGuessGlobalCap = 100
	// UserCodeAlphabet is the letters user codes are made of: no vowels (no words), no look-alikes.
	UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
)

// DeviceGrantType is the grant_type of the token request (RFC 8628 §3.4).
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceState is where a device grant stands.
type DeviceState string

// The states of a device grant: pending → approved or denied; approved → used.
const (
	DevicePending  DeviceState = "pending"
	DeviceApproved DeviceState = "approved"
	DeviceDenied   DeviceState = "denied"
	DeviceUsed     DeviceState = "used"
)

// DeviceGrant is a stored device authorization. Only the device code's hash is kept.
type DeviceGrant struct {
	ID             string
	DeviceCodeHash string
	// UserCode is normalised: 8 letters, no dash.
	UserCode   string
	ClientID   string
	ClientName string
	// IP is where the device asked from.
	IP           string
	State        DeviceState
	UserID       string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	Interval     time.Duration
	LastPolledAt time.Time // zero before the first poll
	DecidedAt    time.Time
	UsedAt       time.Time
}

// DeviceGrants keeps device authorization grants.
type DeviceGrants interface {
	// CreateDeviceGrant stores g unless its user code is taken, reporting whether it did.
	CreateDeviceGrant(ctx context.Context, g DeviceGrant) (bool, error)
	// CountPendingDeviceGrants counts the grants asked from ip still pending at now.
	CountPendingDeviceGrants(ctx context.Context, ip string, now time.Time) (int, error)
	// PendingDeviceGrant returns the grant with this user code if it is pending at now, or ErrNoRecord.
	PendingDeviceGrant(ctx context.Context, userCode string, now time.Time) (DeviceGrant, error)
	// DecideDeviceGrant sets a pending, unexpired grant to state for userID (compare-and-set),
	// reporting whether it did.
	DecideDeviceGrant(ctx context.Context, id, userID string, state DeviceState, now time.Time) (bool, error)
	// DenyApprovedDeviceGrants denies the user's approved grants not yet collected.
	DenyApprovedDeviceGrants(ctx context.Context, userID string, now time.Time) error
	// DeviceGrantByCode returns the grant with this device code hash, or ErrNoRecord.
	DeviceGrantByCode(ctx context.Context, hash string) (DeviceGrant, error)
	// PollDeviceGrant records a poll at now with the given interval if the grant's last poll
	// is still prev (compare-and-set), reporting whether it did.
	PollDeviceGrant(ctx context.Context, id string, prev, now time.Time, interval time.Duration) (bool, error)
	// UseDeviceGrant marks an approved, unused grant used (compare-and-set), reporting
	// whether it did: of racing pollers exactly one wins.
	UseDeviceGrant(ctx context.Context, id string, now time.Time) (bool, error)
}

// OAuthError is a failure of the OAuth endpoints in RFC 6749 §5.2 / RFC 8628 §3.5 terms:
// Code is the `error` value, Description the `error_description`.
type OAuthError struct {
	Code        string
	Description string
}

func (e *OAuthError) Error() string { return "auth: oauth: " + e.Code + ": " + e.Description }

// The OAuth error codes the device flow answers with.
const (
	OAuthInvalidRequest       = "invalid_request"
	OAuthInvalidClient        = "invalid_client"
	OAuthInvalidGrant         = "invalid_grant"
	OAuthUnsupportedGrantType = "unsupported_grant_type"
	OAuthAuthorizationPending = "authorization_pending"
	OAuthSlowDown             = "slow_down"
	OAuthAccessDenied         = "access_denied"
	OAuthExpiredToken         = "expired_token"
)

func oauthErr(code, desc string) *OAuthError { return &OAuthError{Code: code, Description: desc} }

// errDeviceCodeUnknown is an unknown, used or foreign device code.
var errDeviceCodeUnknown = oauthErr(OAuthInvalidGrant, "The device code is unknown, used or was issued to another client")

// DeviceAuthorizationInput is a device's request for a code.
type DeviceAuthorizationInput struct {
	ClientID   string
	ClientName string
}

// DeviceAuthorization is what the device shows its user (RFC 8628 §3.2).
type DeviceAuthorization struct {
	DeviceCode string
	// UserCode is shown as XXXX-XXXX.
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               time.Duration
	Interval                time.Duration
}

// DeviceClientKnown reports whether clientID is a configured public client.
func (s *Service) DeviceClientKnown(clientID string) bool {
	for _, c := range s.deviceClients {
		if subtle.ConstantTimeCompare([]byte(c), []byte(clientID)) == 1 {
			return true
		}
	}
	return false
}

// DeviceClients lists the configured public clients.
func (s *Service) DeviceClients() []string { return append([]string(nil), s.deviceClients...) }

// DeviceAuthorization starts a device grant for a configured public client.
// Errors: *OAuthError invalid_client (unknown client_id), invalid_request (client_name too
// long or not text); CodeRateLimited (more than 10 requests a minute from the IP, or 10
// grants pending from it).
func (s *Service) DeviceAuthorization(ctx context.Context, in DeviceAuthorizationInput) (DeviceAuthorization, error) {
	if !s.DeviceClientKnown(in.ClientID) {
		return DeviceAuthorization{}, oauthErr(OAuthInvalidClient, "Unknown client_id")
	}
	name := strings.TrimSpace(in.ClientName)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxDeviceClientName || strings.ContainsFunc(name, isControl) {
		return DeviceAuthorization{}, oauthErr(OAuthInvalidRequest, fmt.Sprintf("client_name must be text of at most %d characters", MaxDeviceClientName))
	}
	if name == "" {
		name = in.ClientID
	}
	ip := ClientIP(ctx)
	now := s.now()
	ok, retry, err := s.store.TakeToken(ctx, "devauth:"+clientKey(ip), now, time.Minute/deviceAuthPerMinute, time.Minute)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	if !ok {
		return DeviceAuthorization{}, rateLimited(retry)
	}
	n, err := s.store.CountPendingDeviceGrants(ctx, ip, now)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	if n >= MaxPendingDeviceGrants {
		// Pending grants expire within DeviceCodeTTL; that is the honest retry time.
		return DeviceAuthorization{}, rateLimited(DeviceCodeTTL / 10)
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return DeviceAuthorization{}, fmt.Errorf("auth: random: %w", err)
	}
	deviceCode := base64.RawURLEncoding.EncodeToString(raw)
	id, err := s.newID("dev_", 12)
	if err != nil {
		return DeviceAuthorization{}, err
	}
	g := DeviceGrant{
		ID: id, DeviceCodeHash: hashToken(deviceCode), ClientID: in.ClientID, ClientName: name, IP: ip,
		State: DevicePending, CreatedAt: now, ExpiresAt: now.Add(DeviceCodeTTL), Interval: DeviceInterval,
	}
	// A collision with a live (or not yet purged) code is astronomically rare at 2.56e10
	// codes; a few fresh draws settle it.
	for try := 0; ; try++ {
		if g.UserCode, err = s.newUserCode(); err != nil {
			return DeviceAuthorization{}, err
		}
		created, err := s.store.CreateDeviceGrant(ctx, g)
		if err != nil {
			return DeviceAuthorization{}, err
		}
		if created {
			break
		}
		if try == 4 {
			return DeviceAuthorization{}, fmt.Errorf("auth: no free user code after %d draws", try+1)
		}
	}
	shown := FormatUserCode(g.UserCode)
	return DeviceAuthorization{
		DeviceCode: deviceCode, UserCode: shown,
		VerificationURI:         s.publicURL + "/device",
		VerificationURIComplete: s.publicURL + "/device?code=" + shown,
		ExpiresIn:               DeviceCodeTTL, Interval: DeviceInterval,
	}, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// newUserCode draws 8 letters uniformly from UserCodeAlphabet.
func (s *Service) newUserCode() (string, error) {
	out := make([]byte, 0, userCodeLen)
	buf := make([]byte, 16)
	for len(out) < userCodeLen {
		if _, err := io.ReadFull(s.rand, buf); err != nil {
			return "", fmt.Errorf("auth: random: %w", err)
		}
		for _, b := range buf {
			// 240 is the largest multiple of 20 in a byte: rejecting the rest keeps letters uniform.
			if b < 240 && len(out) < userCodeLen {
				out = append(out, UserCodeAlphabet[int(b)%len(UserCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// FormatUserCode shows a normalised user code as XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode accepts a user code as people type it (any case, with or without the dash
// or spaces) and returns its 8 letters, or "" when it cannot be one.
func NormalizeUserCode(in string) string {
	if len(in) > 32 {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(in) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r < utf8.RuneSelf && strings.IndexByte(UserCodeAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != userCodeLen {
		return ""
	}
	return b.String()
}

// DeviceRequest is a pending grant as the approving user sees it.
type DeviceRequest struct {
	UserCode    string
	ClientName  string
	IP          string
	RequestedAt time.Time
	ExpiresAt   time.Time
}

// LookupDevice shows the caller the pending grant behind a user code, so they can check it is
// theirs before approving. Errors: ErrUnauthenticated, ErrNotFound (unknown, expired or
// already decided code, never telling which), CodeRateLimited (guessing; see the note above).
func (s *Service) LookupDevice(ctx context.Context, p Principal, userCode string) (DeviceRequest, error) {
	if _, err := p.caller(); err != nil {
		return DeviceRequest{}, err
	}
	g, err := s.pendingGrant(ctx, p, userCode)
	if err != nil {
		return DeviceRequest{}, err
	}
	return DeviceRequest{UserCode: FormatUserCode(g.UserCode), ClientName: g.ClientName, IP: g.IP, RequestedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt}, nil
}

// Messages of ApproveDevice.
const (
	MsgDeviceApproved = "Device approved: it is now signed in to your account."
	MsgDeviceDenied   = "Request denied: the device was not signed in."
)

// ApproveDevice approves (or denies) the pending grant behind a user code for the caller's
// account. Approval records a device_approved event and emails the owner a sign-in notice;
// the device's next poll gets a session of the caller's account. Errors: ErrUnauthenticated,
// ErrNotFound (unknown, expired or already decided code), CodeRateLimited.
func (s *Service) ApproveDevice(ctx context.Context, p Principal, userCode string, approve bool) (string, error) {
	u, err := p.caller()
	if err != nil {
		return "", err
	}
	if err := s.allowWrite(ctx, p.UserID); err != nil {
		return "", err
	}
	g, err := s.pendingGrant(ctx, p, userCode)
	if err != nil {
		return "", err
	}
	state, event, msg := DeviceApproved, EventDeviceApproved, MsgDeviceApproved
	if !approve {
		state, event, msg = DeviceDenied, EventDeviceDenied, MsgDeviceDenied
	}
	now := s.now()
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.DecideDeviceGrant(ctx, g.ID, p.UserID, state, now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound // decided or expired since the lookup
		}
		if err := s.record(ctx, p.UserID, event, map[string]string{"client": g.ClientName, "deviceIp": g.IP}); err != nil {
			return err
		}
		if !approve {
			return nil
		}
		return s.enqueue(ctx, OutboxEmail, Email{
			To: u.Email, Name: u.Name, Template: TemplateDeviceSignIn,
			Link:   s.publicURL + "/forgot-password",
			Device: fmt.Sprintf("%s (from %s)", g.ClientName, g.IP),
		})
	})
	if err != nil {
		return "", err
	}
	if approve {
		s.onEnqueue()
	}
	return msg, nil
}

// pendingGrant finds the pending grant behind a user code, counting the try against the
// guessing budgets first and giving it back when the code exists.
func (s *Service) pendingGrant(ctx context.Context, p Principal, userCode string) (DeviceGrant, error) {
	code := NormalizeUserCode(userCode)
	if code == "" {
		// Cannot be any code: nothing to look up, nothing learned, nothing to count.
		return DeviceGrant{}, ErrNotFound
	}
	now := s.now()
	var held []Reservation
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		for _, b := range []Budget{
			{Key: "devcode-ip:" + clientKey(ClientIP(ctx)), Free: deviceGuessFree, Backoff: passwordBackoff, Decay: failureDecay, Enforce: true},
			{Key: "devcode-user:" + p.UserID, Free: deviceGuessFree, Backoff: passwordBackoff, Decay: failureDecay, Enforce: true},
			{Key: "devcode:all", Free: deviceGuessGlobalCap, Backoff: []time.Duration{time.Second}, Decay: failureDecay,
				CapAt: deviceGuessGlobalCap, CapPause: time.Second},
		} {
			r, ok, th, err := s.store.Reserve(ctx, b, now)
			if err != nil {
				return err
			}
			if !ok {
				return rateLimited(b.wait(th, now))
			}
			held = append(held, r)
		}
		return nil
	})
	if err != nil {
		return DeviceGrant{}, err
	}
	g, err := s.store.PendingDeviceGrant(ctx, code, now)
	if errors.Is(err, ErrNoRecord) {
		return DeviceGrant{}, ErrNotFound // the try stays counted
	}
	if err != nil {
		return DeviceGrant{}, err
	}
	for _, r := range held {
		if err := s.store.Release(ctx, r); err != nil {
			return DeviceGrant{}, err
		}
	}
	return g, nil
}

// DeviceTokenInput is a token request at the token endpoint.
type DeviceTokenInput struct {
	GrantType, DeviceCode, ClientID string
}

// DeviceToken is the session an approved grant yields.
type DeviceToken struct {
	AccessToken string
	ExpiresIn   time.Duration
}

// DeviceToken answers a device's poll (RFC 8628 §3.4-3.5). An approved grant yields one
// ordinary session (method device, user agent = the client name, the poller's IP) — exactly
// once, however many pollers race, on however many replicas.
// Errors: *OAuthError unsupported_grant_type, invalid_request (no device_code), invalid_client
// (unknown client_id), invalid_grant (unknown, used or another client's device code),
// authorization_pending, slow_down (polled faster than the interval, which grows by 5 s),
// access_denied (denied, or the account was suspended), expired_token.
func (s *Service) DeviceToken(ctx context.Context, in DeviceTokenInput) (DeviceToken, error) {
	if in.GrantType != DeviceGrantType {
		return DeviceToken{}, oauthErr(OAuthUnsupportedGrantType, "Only the device_code grant type is supported")
	}
	if !s.DeviceClientKnown(in.ClientID) {
		return DeviceToken{}, oauthErr(OAuthInvalidClient, "Unknown client_id")
	}
	if in.DeviceCode == "" || len(in.DeviceCode) > 128 {
		return DeviceToken{}, oauthErr(OAuthInvalidRequest, "device_code is required")
	}
	var out DeviceToken
	// answer is a refusal that must still commit: the poll it records sets the pace.
	var answer *OAuthError
	err := s.store.RunInTx(ctx, func(ctx context.Context) error {
		g, err := s.store.DeviceGrantByCode(ctx, hashToken(in.DeviceCode))
		if errors.Is(err, ErrNoRecord) {
			return errDeviceCodeUnknown
		}
		if err != nil {
			return err
		}
		if g.ClientID != in.ClientID || g.State == DeviceUsed {
			return errDeviceCodeUnknown
		}
		now := s.now()
		if !now.Before(g.ExpiresAt) {
			return oauthErr(OAuthExpiredToken, "The device code has expired; start again")
		}
		if g.State == DeviceDenied {
			return oauthErr(OAuthAccessDenied, "The request was denied")
		}
		interval, slow := g.Interval, false
		if !g.LastPolledAt.IsZero() && now.Sub(g.LastPolledAt) < g.Interval {
			interval, slow = g.Interval+DeviceSlowDown, true
		}
		ok, err := s.store.PollDeviceGrant(ctx, g.ID, g.LastPolledAt, now, interval)
		if err != nil {
			return err
		}
		if !ok || slow {
			// Losing the race to another poll of the same code is polling too fast too.
			answer = oauthErr(OAuthSlowDown, fmt.Sprintf("Polling too fast; wait %d seconds between requests", int(interval/time.Second)))
			return nil
		}
		if g.State == DevicePending {
			answer = oauthErr(OAuthAuthorizationPending, "Waiting for the user to approve the request")
			return nil
		}
		used, err := s.store.UseDeviceGrant(ctx, g.ID, now)
		if err != nil {
			return err
		}
		if !used {
			return errDeviceCodeUnknown
		}
		u, err := s.store.LockUser(ctx, g.UserID)
		if errors.Is(err, ErrNoRecord) {
			return errDeviceCodeUnknown
		}
		if err != nil {
			return err
		}
		if u.Suspended() {
			return oauthErr(OAuthAccessDenied, "The account cannot sign in")
		}
		sess, tok, err := s.newSession(WithUserAgent(ctx, g.ClientName), g.UserID, now, MethodDevice)
		if err != nil {
			return err
		}
		if err := s.record(ctx, g.UserID, EventLogin, map[string]string{"sessionId": sess.ID, "method": string(MethodDevice)}); err != nil {
			return err
		}
		out = DeviceToken{AccessToken: tok, ExpiresIn: sess.ExpiresAt.Sub(now)}
		return nil
	})
	if err != nil {
		return DeviceToken{}, err
	}
	if answer != nil {
		return DeviceToken{}, answer
	}
	return out, nil
}

// PublicURL is the base of the links the service hands out (emails, verification_uri), and
// the default issuer of its tokens.
func (s *Service) PublicURL() string { return s.publicURL }

// Issuer is the iss of the tokens the service signs.
func (s *Service) Issuer() string { return s.tokens.issuer }
