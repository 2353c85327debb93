package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	maxJWKSSize    = 1 << 20
	defaultKeysAge = 5 * time.Minute // when the JWKS answer has no Cache-Control max-age
	maxKeysAge     = 24 * time.Hour
	failureBackoff = time.Second // between attempts while no key at all is known
)

// publicKey is one published key. Its identity (the pointer) survives refetches as long as
// the key is still published unchanged, which is what a cached verified token is tied to.
type publicKey struct {
	kid string
	key ed25519.PublicKey
}

// keySet is one fetched JWKS. Immutable once stored.
type keySet struct {
	keys    map[string]*publicKey
	fetched time.Time
	maxAge  time.Duration
}

// current reports whether k is still published in ks and ks is fresh at now: what a cached
// verified token needs to be accepted without a new look at the keys.
func (ks *keySet) current(k *publicKey, now time.Time) bool {
	return ks != nil && k != nil && ks.keys[k.kid] == k && now.Before(ks.fetched.Add(ks.maxAge))
}

// key returns the published key kid. A known kid is answered from memory; an unknown one
// (or a key set older than its max-age) leads to a refetch, rate-limited by RefetchInterval.
// When a refresh of a stale set fails, the last known keys keep working: availability over
// freshness for keys the issuer did publish.
func (v *Verifier) key(ctx context.Context, kid string) (*publicKey, error) {
	if ks := v.keys.Load(); ks != nil {
		if k, ok := ks.keys[kid]; ok {
			if v.now().Before(ks.fetched.Add(ks.maxAge)) {
				return k, nil
			}
			fresh, err := v.refresh(ctx)
			if err != nil || fresh == nil {
				return k, nil
			}
			if k, ok := fresh.keys[kid]; ok {
				return k, nil
			}
			return nil, fmt.Errorf("%w: kid %q is no longer published", ErrUnknownKey, kid)
		}
	}
	fresh, err := v.refresh(ctx)
	if fresh != nil {
		if k, ok := fresh.keys[kid]; ok {
			return k, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// refresh fetches the key set unless a fetch happened less than RefetchInterval ago, in
// which case it returns the current set and the error of that last fetch. Concurrent callers
// share one fetch. The error, if any, wraps ErrKeysUnavailable.
func (v *Verifier) refresh(ctx context.Context) (*keySet, error) {
	v.mu.Lock()
	f := v.inflight
	if f == nil {
		cur, now := v.keys.Load(), v.now()
		wait := v.refetch
		if cur == nil {
			wait = min(wait, failureBackoff)
		}
		if !v.lastAttempt.IsZero() && now.Before(v.lastAttempt.Add(wait)) {
			err := v.lastErr
			v.mu.Unlock()
			return cur, err
		}
		f = &flight[*keySet]{done: make(chan struct{})}
		v.inflight, v.lastAttempt = f, now
		go v.fetchKeys(context.WithoutCancel(ctx), f)
	}
	v.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done(): // the fetch goes on for the others
		return v.keys.Load(), fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

func (v *Verifier) fetchKeys(ctx context.Context, f *flight[*keySet]) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	ks, err := v.downloadKeys(ctx)
	v.mu.Lock()
	if err != nil {
		err = fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, v.jwksURL, err)
		ks = v.keys.Load()
	} else {
		// Fresh for at least RefetchInterval: it cannot be refetched sooner anyway.
		ks.fetched, ks.maxAge = v.now(), max(ks.maxAge, v.refetch)
		if old := v.keys.Load(); old != nil {
			for kid, k := range ks.keys { // keep the identity of unchanged keys
				if o, ok := old.keys[kid]; ok && o.key.Equal(k.key) {
					ks.keys[kid] = o
				}
			}
		}
		v.keys.Store(ks)
	}
	v.lastErr = err
	v.inflight = nil
	f.val, f.err = ks, err
	v.mu.Unlock()
	close(f.done)
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// downloadKeys GETs the JWKS and keeps its usable keys: OKP/Ed25519 with a kid, a 32-byte x,
// alg EdDSA or none, use sig or none. A kid published twice with different keys is dropped.
func (v *Verifier) downloadKeys(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	ks := &keySet{keys: map[string]*publicKey{}, maxAge: maxAge(resp.Header.Get("Cache-Control"))}
	ambiguous := map[string]bool{}
	for _, raw := range doc.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" ||
			(k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		if prev, ok := ks.keys[k.Kid]; ok && !prev.key.Equal(ed25519.PublicKey(x)) {
			ambiguous[k.Kid] = true
		}
		ks.keys[k.Kid] = &publicKey{kid: k.Kid, key: ed25519.PublicKey(x)}
	}
	for kid := range ambiguous {
		delete(ks.keys, kid)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no usable Ed25519 key")
	}
	return ks, nil
}

// maxAge reads max-age from a Cache-Control header: how long the key set is fresh.
func maxAge(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if d == "no-store" || d == "no-cache" {
			return 0
		}
		if s, ok := strings.CutPrefix(d, "max-age="); ok {
			n, err := strconv.Atoi(strings.Trim(s, `"`))
			if err != nil || n < 0 {
				return defaultKeysAge
			}
			return min(time.Duration(n)*time.Second, maxKeysAge)
		}
	}
	return defaultKeysAge
}
