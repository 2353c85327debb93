package auth

import (
	"context"
	"net/netip"
	"time"
)

// Throttle is the stored failure state of one key.
type Throttle struct {
	Failures    int
	LockedUntil time.Time
	UpdatedAt   time.Time
}

// The brute-force policy. Failed password and second-factor checks are counted per account
// (by normalized email, so unknown emails behave exactly like real ones) and per account+IP.
//
//   - A client (account+IP) gets pairFree failures, then must wait 1 s, 2 s, 4 s … up to
//     maxLock between attempts.
//   - The account as a whole gets accountFree failures, then the same backoff applies — but
//     only to clients that have themselves failed on this account. A user on a fresh IP who
//     types the right password is never blocked by someone else's guessing.
//   - Past accountHard failures, even clients that never failed wait until hardPause after
//     the account's latest failure, so rotating addresses buys at most one guess per
//     hardPause — except clients that have logged in to the account before (known for
//     knownFor): account-wide locks never bind them, so guessing from elsewhere cannot lock
//     the owner out of their usual devices and networks.
//   - Wrong second factors (TOTP or backup codes, which only someone holding the password
//     can try) also count per account for every client: secondFree of them, then every
//     client waits 1 min, 2 min, 4 min … up to maxLock before the next code.
//   - Counters decay after failureDecay without failures; a successful login clears the
//     client's counter and a password reset clears the account's.
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

// checkLock refuses, before any password work, a client that must still wait. With
// secondFactor set it also applies the account's second-factor lock.
func (s *Service) checkLock(ctx context.Context, email string, secondFactor bool) error {
	acct, pair := accountKeys(ctx, email)
	known := knownKey(ctx, email)
	th, err := s.store.Throttles(ctx, acct, pair, secondFactorKey(email), known)
	if err != nil {
		return err
	}
	now := s.now()
	p, a, f := th[pair], th[acct], th[secondFactorKey(email)]
	if p.LockedUntil.After(now) {
		return rateLimited(p.LockedUntil.Sub(now))
	}
	_, isKnown := th[known]
	failedHere := p.Failures > 0 && now.Sub(p.UpdatedAt) < failureDecay
	if !isKnown && failedHere && a.LockedUntil.After(now) {
		return rateLimited(a.LockedUntil.Sub(now))
	}
	if until := a.UpdatedAt.Add(hardPause); !isKnown && a.Failures > accountHard && until.After(now) {
		return rateLimited(until.Sub(now))
	}
	if secondFactor && f.LockedUntil.After(now) {
		return rateLimited(f.LockedUntil.Sub(now))
	}
	return nil
}

func backoff(excess int) time.Duration {
	if excess > 20 {
		return maxLock
	}
	d := time.Second << (excess - 1)
	return min(d, maxLock)
}

// recordFailure counts a failed password or second-factor check and locks as the policy says.
func (s *Service) recordFailure(ctx context.Context, email string) error {
	acct, pair := accountKeys(ctx, email)
	now := s.now()
	for _, k := range []struct {
		key  string
		free int
	}{{pair, pairFree}, {acct, accountFree}} {
		n, err := s.store.AddFailure(ctx, k.key, now, failureDecay)
		if err != nil {
			return err
		}
		if n > k.free {
			if err := s.store.LockUntil(ctx, k.key, now.Add(backoff(n-k.free))); err != nil {
				return err
			}
		}
	}
	return nil
}

// failed records a failure for email and returns orig (or the store's error).
func (s *Service) failed(ctx context.Context, email string, orig error) error {
	if err := s.recordFailure(ctx, email); err != nil {
		return err
	}
	return orig
}

// failedSecondFactor records a wrong TOTP or backup code: as any failure, and against the
// account's second-factor budget, which binds every client.
func (s *Service) failedSecondFactor(ctx context.Context, email string, orig error) error {
	if err := s.recordFailure(ctx, email); err != nil {
		return err
	}
	now := s.now()
	key := secondFactorKey(email)
	n, err := s.store.AddFailure(ctx, key, now, failureDecay)
	if err != nil {
		return err
	}
	if n > secondFree {
		// backoff's seconds, read as minutes.
		if err := s.store.LockUntil(ctx, key, now.Add(min(backoff(n-secondFree)*60, maxLock))); err != nil {
			return err
		}
	}
	return orig
}
