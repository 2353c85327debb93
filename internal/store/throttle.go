package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

type throttleRow struct {
	bun.BaseModel `bun:"table:throttles,alias:th"`

	Key         string `bun:"key,pk"`
	TAT         int64  `bun:"tat"`
	Failures    int    `bun:"failures"`
	LockedUntil int64  `bun:"locked_until"`
	UpdatedAt   int64  `bun:"updated_at"`
}

// TakeToken implements auth.Throttles with the generic cell rate algorithm in one conditional
// upsert: a request is allowed when the key's theoretical arrival time, advanced by
// emission, stays within window of now. Replicas share the row, so the budget is global.
func (s *Store) TakeToken(ctx context.Context, key string, now time.Time, emission, window time.Duration) (bool, time.Duration, error) {
	n, e, w := ms(now), emission.Milliseconds(), window.Milliseconds()
	row := throttleRow{Key: key, TAT: n + e, UpdatedAt: n}
	// idb: a budget taken inside a transaction is given back if the transaction rolls back.
	res, err := s.idb(ctx).NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		Set("tat = (CASE WHEN th.tat > ? THEN th.tat ELSE ? END) + ?", n, n, e).
		Set("updated_at = EXCLUDED.updated_at").
		Where("(CASE WHEN th.tat > ? THEN th.tat ELSE ? END) + ? <= ?", n, n, e, n+w).
		Exec(ctx)
	if ok, err := affected("take token", res, err); err != nil || ok {
		return ok, 0, err
	}
	var tat int64
	if err := s.idb(ctx).NewSelect().Model((*throttleRow)(nil)).Column("tat").Where("key = ?", key).Scan(ctx, &tat); err != nil {
		return false, 0, fmt.Errorf("store: take token: %w", err)
	}
	return false, time.Duration(tat+e-n-w) * time.Millisecond, nil
}

// Reserve implements auth.Throttles in one conditional upsert: the count goes up (restarting after
// the decay), the lock the new count earns is set, and both happen only if the key's lock and
// cap let the attempt through, so concurrent attempts (on any replica) can never take more
// than the budget. The row lock the upsert takes is held until ctx's transaction ends.
func (s *Store) Reserve(ctx context.Context, b auth.Budget, now time.Time) (auth.Reservation, bool, auth.Throttle, error) {
	if b.Free < 1 || len(b.Backoff) == 0 {
		return auth.Reservation{}, false, auth.Throttle{}, fmt.Errorf("store: reserve %q: a budget needs Free >= 1 and a backoff", b.Key)
	}
	n := ms(now)
	// The counts and times below come from the domain's constants, never from a request.
	count := fmt.Sprintf("(CASE WHEN th.updated_at < %d THEN 1 ELSE th.failures + 1 END)", n-b.Decay.Milliseconds())
	// The lock the new count earns: Backoff[count-Free], the last entry repeating.
	var ladder strings.Builder
	lastLock := n + b.Backoff[len(b.Backoff)-1].Milliseconds()
	if len(b.Backoff) == 1 {
		fmt.Fprintf(&ladder, "%d", lastLock)
	} else {
		ladder.WriteString("(CASE")
		for i, d := range b.Backoff[:len(b.Backoff)-1] {
			fmt.Fprintf(&ladder, " WHEN %s - %d < %d THEN %d", count, b.Free, i+1, n+d.Milliseconds())
		}
		fmt.Fprintf(&ladder, " ELSE %d END)", lastLock)
	}
	lock := fmt.Sprintf("CASE WHEN %s >= %d AND %s > th.locked_until THEN %s ELSE th.locked_until END",
		count, b.Free, ladder.String(), ladder.String())
	row := throttleRow{Key: b.Key, Failures: 1, UpdatedAt: n}
	if b.Free <= 1 {
		row.LockedUntil = n + b.Backoff[0].Milliseconds()
	}
	q := s.idb(ctx).NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		// Every SET expression reads the row as it was before this statement, on both databases.
		Set("failures = " + count).
		Set("locked_until = " + lock).
		Set("updated_at = EXCLUDED.updated_at")
	if b.Enforce {
		q = q.Where("th.locked_until <= ?", n)
	}
	if b.CapAt > 0 {
		q = q.Where("NOT (th.failures >= ? AND th.updated_at > ?)", b.CapAt, n-b.CapPause.Milliseconds())
	}
	var got struct {
		Failures    int   `bun:"failures"`
		LockedUntil int64 `bun:"locked_until"`
	}
	err := q.Returning("failures, locked_until").Scan(ctx, &got.Failures, &got.LockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		th, err := s.Throttles(ctx, b.Key)
		if err != nil {
			return auth.Reservation{}, false, auth.Throttle{}, err
		}
		return auth.Reservation{}, false, th[b.Key], nil
	}
	if err != nil {
		return auth.Reservation{}, false, auth.Throttle{}, fmt.Errorf("store: reserve: %w", err)
	}
	r := auth.Reservation{Key: b.Key, Count: got.Failures, Enforced: b.Enforce}
	if got.Failures >= b.Free {
		r.LockedUntil = fromMS(got.LockedUntil)
	}
	return r, true, auth.Throttle{Failures: got.Failures, LockedUntil: fromMS(got.LockedUntil), UpdatedAt: now}, nil
}

// Release implements auth.Throttles: the count goes down by one, and the lock the reservation
// set is lifted if nothing has moved it since. Only an enforced reservation lifts its lock:
// it was taken while the key was unlocked, so no earlier lock is lost.
func (s *Store) Release(ctx context.Context, r auth.Reservation) error {
	q := s.idb(ctx).NewUpdate().Model((*throttleRow)(nil)).
		Set("failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END").
		Where("key = ?", r.Key)
	if r.Enforced && !r.LockedUntil.IsZero() {
		q = q.Set("locked_until = CASE WHEN locked_until = ? THEN 0 ELSE locked_until END", ms(r.LockedUntil))
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("store: release: %w", err)
	}
	return nil
}

// Throttles implements auth.Throttles.
func (s *Store) Throttles(ctx context.Context, keys ...string) (map[string]auth.Throttle, error) {
	var rows []throttleRow
	if err := s.idb(ctx).NewSelect().Model(&rows).Where("key IN (?)", bun.List(keys)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("store: throttles: %w", err)
	}
	out := make(map[string]auth.Throttle, len(rows))
	for _, r := range rows {
		out[r.Key] = auth.Throttle{Failures: r.Failures, LockedUntil: fromMS(r.LockedUntil), UpdatedAt: fromMS(r.UpdatedAt)}
	}
	return out, nil
}

// MarkKnown implements auth.Throttles. The mark's expiry is kept in tat, which also keeps the
// janitor (Purge) from deleting it early.
func (s *Store) MarkKnown(ctx context.Context, key string, now, until time.Time) error {
	row := throttleRow{Key: key, TAT: ms(until), UpdatedAt: ms(now)}
	_, err := s.db.NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		Set("tat = EXCLUDED.tat").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return wrap("mark known", err)
}

// ClearFailures implements auth.Throttles.
func (s *Store) ClearFailures(ctx context.Context, keys []string, prefixes []string) error {
	q := s.idb(ctx).NewUpdate().Model((*throttleRow)(nil)).
		Set("failures = 0").Set("locked_until = 0")
	q = q.WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		if len(keys) > 0 {
			q = q.WhereOr("key IN (?)", bun.List(keys))
		}
		for _, p := range prefixes {
			// substr, not LIKE: emails may contain the LIKE wildcards _ and %.
			// substr counts characters on both databases, not bytes.
			q = q.WhereOr("substr(key, 1, ?) = ?", utf8.RuneCountInString(p), p)
		}
		return q
	})
	_, err := q.Exec(ctx)
	return wrap("clear failures", err)
}

// Purge deletes state nobody needs any more: throttles idle since before, sessions, reset
// tokens, WebAuthn challenges and device grants expired before, outbox entries sent before, and the payload of failed outbox
// entries queued before (which RetryOutbox can then no longer send). Every replica runs it in the
// background (service's janitor); concurrent runs are harmless.
func (s *Store) Purge(ctx context.Context, before time.Time) error {
	b := ms(before)
	if _, err := s.db.NewDelete().Model((*outboxRow)(nil)).
		Where("status = ?", outboxSent).Where("updated_at < ?", b).Exec(ctx); err != nil {
		return wrap("purge outbox", err)
	}
	// A failed entry's payload is kept for a retry until every link it could hold has
	// expired: the longest lives a day (auth.VerifyTokenTTL), and the janitor passes a
	// before a day ago.
	if _, err := s.db.NewUpdate().Model((*outboxRow)(nil)).Set("payload = ''").
		Where("status = ?", outboxFailed).Where("created_at < ?", b).Where("payload <> ''").Exec(ctx); err != nil {
		return wrap("purge outbox", err)
	}
	if _, err := s.db.NewDelete().Model((*throttleRow)(nil)).
		Where("updated_at < ?", b).Where("locked_until < ?", b).Where("tat < ?", b).Exec(ctx); err != nil {
		return wrap("purge throttles", err)
	}
	if _, err := s.db.NewDelete().Model((*deviceGrantRow)(nil)).Where("expires_at < ?", b).Exec(ctx); err != nil {
		return wrap("purge device grants", err)
	}
	if _, err := s.db.NewDelete().Model((*sessionRow)(nil)).Where("expires_at < ?", b).Exec(ctx); err != nil {
		return wrap("purge sessions", err)
	}
	if _, err := s.db.NewDelete().Model((*challengeRow)(nil)).Where("expires_at < ?", b).Exec(ctx); err != nil {
		return wrap("purge challenges", err)
	}
	_, err := s.db.NewDelete().Model((*oneTimeTokenRow)(nil)).Where("expires_at < ?", b).Exec(ctx)
	return wrap("purge tokens", err)
}
