package store

import (
	"context"
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

// TakeToken implements auth.Store with the generic cell rate algorithm in one conditional
// upsert: a request is allowed when the key's theoretical arrival time, advanced by
// emission, stays within window of now. Replicas share the row, so the budget is global.
func (s *Store) TakeToken(ctx context.Context, key string, now time.Time, emission, window time.Duration) (bool, time.Duration, error) {
	n, e, w := ms(now), emission.Milliseconds(), window.Milliseconds()
	row := throttleRow{Key: key, TAT: n + e, UpdatedAt: n}
	res, err := s.db.NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		Set("tat = (CASE WHEN th.tat > ? THEN th.tat ELSE ? END) + ?", n, n, e).
		Set("updated_at = EXCLUDED.updated_at").
		Where("(CASE WHEN th.tat > ? THEN th.tat ELSE ? END) + ? <= ?", n, n, e, n+w).
		Exec(ctx)
	if ok, err := affected(res, err); err != nil || ok {
		return ok, 0, err
	}
	var tat int64
	if err := s.db.NewSelect().Model((*throttleRow)(nil)).Column("tat").Where("key = ?", key).Scan(ctx, &tat); err != nil {
		return false, 0, err
	}
	return false, time.Duration(tat+e-n-w) * time.Millisecond, nil
}

// Throttles implements auth.Store.
func (s *Store) Throttles(ctx context.Context, keys ...string) (map[string]auth.Throttle, error) {
	var rows []throttleRow
	if err := s.db.NewSelect().Model(&rows).Where("key IN (?)", bun.List(keys)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]auth.Throttle, len(rows))
	for _, r := range rows {
		out[r.Key] = auth.Throttle{Failures: r.Failures, LockedUntil: fromMS(r.LockedUntil), UpdatedAt: fromMS(r.UpdatedAt)}
	}
	return out, nil
}

// AddFailure implements auth.Store: an atomic increment that restarts from 1 when the last
// failure is older than decay. It returns the new count.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, decay time.Duration) (int, error) {
	row := throttleRow{Key: key, Failures: 1, UpdatedAt: ms(now)}
	var n int
	err := s.db.NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		Set("failures = CASE WHEN th.updated_at < ? THEN 1 ELSE th.failures + 1 END", ms(now.Add(-decay))).
		Set("updated_at = EXCLUDED.updated_at").
		Returning("failures").
		Scan(ctx, &n)
	return n, err
}

// MarkKnown implements auth.Store. The mark's expiry is kept in tat, which also keeps the
// janitor (Purge) from deleting it early.
func (s *Store) MarkKnown(ctx context.Context, key string, now, until time.Time) error {
	row := throttleRow{Key: key, TAT: ms(until), UpdatedAt: ms(now)}
	_, err := s.db.NewInsert().Model(&row).
		On("CONFLICT (key) DO UPDATE").
		Set("tat = EXCLUDED.tat").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return err
}

// LockUntil implements auth.Store; a lock only ever moves later.
func (s *Store) LockUntil(ctx context.Context, key string, until time.Time) error {
	_, err := s.db.NewUpdate().Model((*throttleRow)(nil)).
		Set("locked_until = ?", ms(until)).
		Where("key = ?", key).Where("locked_until < ?", ms(until)).
		Exec(ctx)
	return err
}

// ClearFailures implements auth.Store.
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
	return err
}

// Purge deletes state nobody needs any more: throttles idle since before, sessions and
// reset tokens expired before, and outbox entries sent before. Every replica runs it in the
// background (service's janitor); concurrent runs are harmless.
func (s *Store) Purge(ctx context.Context, before time.Time) error {
	b := ms(before)
	if _, err := s.db.NewDelete().Model((*outboxRow)(nil)).
		Where("status = ?", outboxSent).Where("updated_at < ?", b).Exec(ctx); err != nil {
		return err
	}
	if _, err := s.db.NewDelete().Model((*throttleRow)(nil)).
		Where("updated_at < ?", b).Where("locked_until < ?", b).Where("tat < ?", b).Exec(ctx); err != nil {
		return err
	}
	if _, err := s.db.NewDelete().Model((*sessionRow)(nil)).Where("expires_at < ?", b).Exec(ctx); err != nil {
		return err
	}
	_, err := s.db.NewDelete().Model((*resetTokenRow)(nil)).Where("expires_at < ?", b).Exec(ctx)
	return err
}
