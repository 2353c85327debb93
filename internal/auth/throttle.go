package auth

import (
	"context"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Throttle is the stored failure state of one key.
type Throttle struct {
	Failures    int
	LockedUntil time.Time
	UpdatedAt   time.Time
}

// The brute-force policy. Password and second-factor checks are counted per account (by
// normalized email, so unknown emails behave exactly like real ones) and per account+IP.
// Every attempt is counted before its password or code is checked (reserve), in one atomic
// step shared by every replica, so concurrent guesses cannot outrun the budget; correct
// credentials give the reservation back (settle, succeeded).
//
//   - A client (account+IP) gets pairFree attempts, then must wait 1 s, 2 s, 4 s … up to
//     maxLock between attempts.
//   - The account as a whole gets accountFree failures, then the same backoff applies — but
//     only to clients that have themselves failed on this account. A user on a fresh IP who
//     types the right password is never blocked by someone else's guessing.
//   - From accountHard failures on, even clients that never failed wait until hardPause after
//     the account's latest attempt, so rotating addresses buys at most one guess per
//     hardPause — except clients that have logged in to the account before (known for
//     knownFor): account-wide locks never bind them, so guessing from elsewhere cannot lock
//     the owner out of their usual devices and networks.
//   - Second factors (TOTP or backup codes, which only someone holding the password can try)
//     also have an account budget binding every client: secondFree codes, then every client
//     waits 1 min, 2 min, 4 min … up to maxLock before the next code.
//   - Counters decay after failureDecay without attempts. A successful login clears the
//     client's counter; a password reset clears the account's password counters but never
//     the second-factor budget, which only a correct second factor clears.
//
// Clients are told apart by IP address, IPv6 ones by their /64 (one subscriber's network).
const (
	pairFree     = 5
	accountFree  = 20
	accountHard  = 100
	hardPause    = time.Minute
	secondFree   = 10
	maxLock      = 15 * time.Minute
	failureDecay = time.Hour
	knownFor     = 30 * 24 * time.Hour
)

type clientIPKey struct{}

type userAgentKey struct{}

// WithClientIP returns ctx carrying the caller's IP address, as the transport determined it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP is the caller's IP address carried by ctx, or "unknown".
func ClientIP(ctx context.Context) string {
	if ip, ok := ctx.Value(clientIPKey{}).(string); ok && ip != "" {
		return ip
	}
	return "unknown"
}

// maxUserAgent is how much of a User-Agent is kept, in characters.
const maxUserAgent = 256

// WithUserAgent returns ctx carrying the caller's User-Agent, cut to 256 characters and to
// valid UTF-8, so what is stored and shown back is bounded and clean.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	ua = strings.ToValidUTF8(ua, "")
	if utf8.RuneCountInString(ua) > maxUserAgent {
		ua = string([]rune(ua)[:maxUserAgent])
	}
	return context.WithValue(ctx, userAgentKey{}, strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua))
}

// UserAgent is the caller's User-Agent carried by ctx, or "".
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

func rateLimited(retry time.Duration) *Error {
	if retry < time.Second {
		retry = time.Second
	}
	return &Error{Kind: KindRateLimited, Code: CodeRateLimited, Message: "Too many requests; retry later", RetryAfter: retry}
}

// allow spends one unit of the caller's per-IP budget (RateLimit per minute).
// Errors: CodeRateLimited with RetryAfter.
func (s *Service) allow(ctx context.Context) error {
	if s.rateLimit <= 0 {
		return nil
	}
	ok, retry, err := s.store.TakeToken(ctx, "ip:"+clientKey(ClientIP(ctx)), s.now(), time.Minute/time.Duration(s.rateLimit), time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return rateLimited(retry)
	}
	return nil
}

// allowWrite spends one unit of the account's budget of authenticated writes
// (AccountWriteLimit per minute), so one account cannot load the service for everyone.
// Errors: CodeRateLimited with RetryAfter.
func (s *Service) allowWrite(ctx context.Context, userID string) error {
	if s.writeLimit <= 0 {
		return nil
	}
	ok, retry, err := s.store.TakeToken(ctx, "write:"+userID, s.now(), time.Minute/time.Duration(s.writeLimit), time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return rateLimited(retry)
	}
	return nil
}

// clientKey names the client behind an address: IPv6 addresses by their /64, because a
// single subscriber can use any of its 2^64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

func accountKeys(ctx context.Context, email string) (account, pair string) {
	return "acct:" + email, "acct-ip:" + email + "|" + clientKey(ClientIP(ctx))
}

func secondFactorKey(email string) string { return "2fa:" + email }

// knownKey names a client that has logged in to the account.
func knownKey(ctx context.Context, email string) string {
	return "ok:" + email + "|" + clientKey(ClientIP(ctx))
}

// Budgets, reservations and backoff.
var (
	// passwordBackoff is the lock after the last free password failure, doubling to maxLock.
	passwordBackoff = ladder(time.Second, maxLock)
	// secondFactorBackoff is the same in minutes: only someone holding the password gets here.
	secondFactorBackoff = ladder(time.Minute, maxLock)
)

// ladder lists first, 2×first, 4×first … up to max, the last entry repeating for ever.
func ladder(first, max time.Duration) []time.Duration {
	var out []time.Duration
	for d := first; d < max; d *= 2 {
		out = append(out, d)
	}
	return append(out, max)
}

// Budget is a failure counter an attempt is reserved against, before its password or code is
// checked (Store.Reserve).
type Budget struct {
	Key string
	// Free attempts are allowed without waiting; the attempt that takes the last of them locks
	// the key for Backoff[0], the next one (once the lock has passed) for Backoff[1], and so
	// on, the last entry repeating.
	Free    int
	Backoff []time.Duration
	// Decay: the count starts again after this long without an attempt.
	Decay time.Duration
	// Enforce refuses the attempt while the key is locked. Without it the attempt is counted
	// (and may lock the key for others) but not refused.
	Enforce bool
	// CapAt, when positive, refuses the attempt while the count is at least CapAt and the
	// key's latest attempt is less than CapPause old.
	CapAt    int
	CapPause time.Duration
}

// Reservation is one attempt counted against a Budget. Release gives it back.
type Reservation struct {
	Key string
	// Count is the key's count including this attempt.
	Count int
	// LockedUntil is the key's lock after this attempt when the attempt reached the budget's
	// end, else zero.
	LockedUntil time.Time
	// Enforced tells that the key was unlocked when the reservation was taken.
	Enforced bool
}

// wait is how long a refused attempt must wait under b, from the key's state th.
func (b Budget) wait(th Throttle, now time.Time) time.Duration {
	var d time.Duration
	if b.Enforce {
		d = th.LockedUntil.Sub(now)
	}
	if b.CapAt > 0 && th.Failures >= b.CapAt {
		d = max(d, th.UpdatedAt.Add(b.CapPause).Sub(now))
	}
	return d
}

// attempt is one check of an account's password (and, with second set, of a second factor),
// counted against the account's budgets before the check runs.
type attempt struct {
	pair, account Reservation
	second        *Reservation
}

// reserve counts an attempt at email's credentials before any password or code is checked,
// so that however many attempts run at once, on however many replicas, no more are checked
// than the budgets allow. With secondFactor set the account's second-factor budget is taken
// too. The reservations are taken together or not at all.
// Errors: CodeRateLimited with the wait, store failures.
func (s *Service) reserve(ctx context.Context, email string, secondFactor bool) (*attempt, error) {
	acct, pair := accountKeys(ctx, email)
	known, err := s.store.Throttles(ctx, knownKey(ctx, email))
	if err != nil {
		return nil, err
	}
	isKnown := len(known) > 0
	now := s.now()
	a := &attempt{}
	take := func(ctx context.Context, b Budget) (Reservation, error) {
		r, ok, th, err := s.store.Reserve(ctx, b, now)
		if err != nil {
			return Reservation{}, err
		}
		if !ok {
			return Reservation{}, rateLimited(b.wait(th, now))
		}
		return r, nil
	}
	err = s.store.RunInTx(ctx, func(ctx context.Context) error {
		var err error
		a.pair, err = take(ctx, Budget{Key: pair, Free: pairFree, Backoff: passwordBackoff, Decay: failureDecay, Enforce: true})
		if err != nil {
			return err
		}
		ab := Budget{Key: acct, Free: accountFree, Backoff: passwordBackoff, Decay: failureDecay}
		if !isKnown {
			// The account-wide lock binds only clients that have failed here themselves; the
			// hard cap binds every client the account does not know.
			ab.Enforce = a.pair.Count > 1
			ab.CapAt, ab.CapPause = accountHard, hardPause
		}
		if a.account, err = take(ctx, ab); err != nil {
			return err
		}
		if secondFactor {
			r, err := take(ctx, Budget{Key: secondFactorKey(email), Free: secondFree, Backoff: secondFactorBackoff, Decay: failureDecay, Enforce: true})
			if err != nil {
				return err
			}
			a.second = &r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// settle decides what the attempt's reservations become once the check has run: a wrong
// password keeps the password reservations (and gives back the second factor's, never
// checked); a wrong code keeps them all; any other outcome — success, or a check that never
// ran (busy hasher, cancelled request) — gives them all back. It returns err, or the
// store's error when giving back fails.
func (s *Service) settle(ctx context.Context, a *attempt, err error) error {
	var back []Reservation
	switch CodeOf(err) {
	case CodeInvalidCredentials, CodeInvalidPassword:
		if a.second != nil {
			back = append(back, *a.second)
		}
	case CodeInvalidTOTP:
	default:
		back = append(back, a.pair, a.account)
		if a.second != nil {
			back = append(back, *a.second)
		}
	}
	for _, r := range back {
		if rerr := s.store.Release(ctx, r); rerr != nil && err == nil {
			return rerr
		}
	}
	return err
}

// succeeded forgets the client's failures after correct credentials (and the account's
// second-factor failures after a correct code); the account's count just gets this
// attempt back, since others may be guessing.
func (s *Service) succeeded(ctx context.Context, a *attempt) error {
	keys := []string{a.pair.Key}
	if a.second != nil {
		keys = append(keys, a.second.Key)
	}
	if err := s.store.ClearFailures(ctx, keys, nil); err != nil {
		return err
	}
	return s.store.Release(ctx, a.account)
}
