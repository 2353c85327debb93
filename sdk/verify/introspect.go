package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

const maxIntrospectionSize = 64 << 10

type introspector struct {
	url, serviceKey string
	ttl             time.Duration // < 0: no caching
	cache           *boundedCache[introAnswer]
	calls           group[introAnswer]
}

// introAnswer is one introspection answer about one token.
type introAnswer struct {
	active       bool
	email, tier  string
	machineLimit *int // never handed out: Callers get a copy
	at           time.Time
}

// check asks the auth service (or the cache, for up to ttl) whether token, which passed the
// offline check as c, is active, and completes c with the answer.
func (in *introspector) check(ctx context.Context, v *Verifier, token string, c Caller, now time.Time) (Caller, error) {
	a, ok := in.cache.get(token)
	if !ok || !now.Before(a.at.Add(in.ttl)) {
		var err error
		a, err = in.calls.do(ctx, token, v.timeout, func(ctx context.Context) (introAnswer, error) {
			a, err := in.call(ctx, v.client, token, c)
			if err == nil {
				a.at = v.now()
				in.cache.put(token, a)
			}
			return a, err
		})
		if err != nil {
			if ctx.Err() != nil && !unavailable(err) {
				err = fmt.Errorf("%w: %w", ErrIntrospectionUnavailable, err)
			}
			return Caller{}, err
		}
	}
	if !a.active {
		return Caller{}, ErrRevoked
	}
	c.Introspected, c.Email, c.Tier = true, a.email, a.tier
	if a.machineLimit != nil {
		n := *a.machineLimit
		c.MachineLimit = &n
	}
	return c, nil
}

// call POSTs the token to the introspection endpoint. The answer must be about c's session.
func (in *introspector) call(ctx context.Context, client *http.Client, token string, c Caller) (introAnswer, error) {
	fail := func(format string, args ...any) (introAnswer, error) {
		return introAnswer{}, fmt.Errorf("%w: %s: "+format, append([]any{ErrIntrospectionUnavailable, in.url}, args...)...)
	}
	body, _ := json.Marshal(struct {
		Token string `json:"token"`
	}{token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, bytes.NewReader(body))
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+in.serviceKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fail("%v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionSize+1))
	if err != nil {
		return fail("%v", err)
	}
	var env struct {
		OK   bool `json:"ok"`
		Data *struct {
			Active       *bool  `json:"active"`
			Sub          string `json:"sub"`
			Sid          string `json:"sid"`
			Email        string `json:"email"`
			Tier         string `json:"tier"`
			MachineLimit *int   `json:"machineLimit"`
		} `json:"data"`
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	decodeErr := json.Unmarshal(raw, &env)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return introAnswer{}, fmt.Errorf("%w: HTTP %d %s %q", ErrServiceKeyRejected, resp.StatusCode, env.Code, env.Error)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fail("HTTP 429 rate limited (Retry-After %q)", resp.Header.Get("Retry-After"))
	case resp.StatusCode != http.StatusOK:
		return fail("HTTP %d %s %q", resp.StatusCode, env.Code, env.Error)
	case len(raw) > maxIntrospectionSize:
		return fail("answer larger than %d bytes", maxIntrospectionSize)
	case decodeErr != nil || !env.OK || env.Data == nil || env.Data.Active == nil:
		return fail("malformed answer")
	case !*env.Data.Active:
		return introAnswer{active: false}, nil
	case env.Data.Sub != c.UserID || env.Data.Sid != c.SessionID:
		return fail("answer is about %s/%s, not the token's %s/%s", env.Data.Sub, env.Data.Sid, c.UserID, c.SessionID)
	}
	d := env.Data
	return introAnswer{active: true, email: d.Email, tier: d.Tier, machineLimit: d.MachineLimit}, nil
}
