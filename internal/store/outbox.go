package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// Outbox statuses.
const (
	outboxPending = "pending"
	outboxSent    = "sent"
	outboxFailed  = "failed"
)

// Enqueue implements auth.Outbox.
func (s *Store) Enqueue(ctx context.Context, e auth.OutboxEntry) error {
	row := outboxRow{
		ID: e.ID, Kind: e.Kind, Payload: e.Payload, Status: outboxPending,
		NextAttemptAt: ms(e.CreatedAt), CreatedAt: ms(e.CreatedAt), UpdatedAt: ms(e.CreatedAt),
	}
	_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
	return wrap("enqueue", err)
}

// ClaimOutbox leases up to limit due entries to the caller until now+lease, oldest first.
// On PostgreSQL, FOR UPDATE SKIP LOCKED lets several senders claim disjoint entries at once;
// SQLite serializes writers, so the plain UPDATE is already exclusive. An entry whose sender
// dies is claimed again when its lease runs out.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]auth.OutboxEntry, error) {
	due := s.db.NewSelect().Model((*outboxRow)(nil)).Column("id").
		Where("status = ?", outboxPending).Where("next_attempt_at <= ?", ms(now)).
		OrderExpr("next_attempt_at, created_at").Limit(int64(limit))
	if s.dialect == Postgres {
		due = due.For("UPDATE SKIP LOCKED")
	}
	var rows []outboxRow
	err := s.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("next_attempt_at = ?", ms(now.Add(lease))).Set("updated_at = ?", ms(now)).
		Where("id IN (?)", due).
		Returning("id, kind, payload, attempts, created_at").
		Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("claim outbox", err)
	}
	out := make([]auth.OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = auth.OutboxEntry{ID: r.ID, Kind: r.Kind, Payload: r.Payload, Attempts: r.Attempts, CreatedAt: fromMS(r.CreatedAt)}
	}
	return out, nil
}

// MarkOutboxSent records a delivered entry and drops its payload, which may hold a reset link.
func (s *Store) MarkOutboxSent(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", outboxSent).Set("payload = ''").Set("attempts = attempts + 1").
		Set("last_error = NULL").Set("updated_at = ?", ms(now)).
		Where("id = ?", id).Exec(ctx)
	return wrap("mark outbox sent", err)
}

// MarkOutboxRetry records a failed attempt and when to try again.
func (s *Store) MarkOutboxRetry(ctx context.Context, id string, next time.Time, errText string, now time.Time) error {
	_, err := s.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("attempts = attempts + 1").Set("next_attempt_at = ?", ms(next)).
		Set("last_error = ?", errText).Set("updated_at = ?", ms(now)).
		Where("id = ?", id).Exec(ctx)
	return wrap("mark outbox retry", err)
}

// MarkOutboxFailed gives up on an entry; it stays in the table, visible, with its kind,
// attempts and last error — but without its payload, which may hold a live reset link.
func (s *Store) MarkOutboxFailed(ctx context.Context, id string, errText string, now time.Time) error {
	_, err := s.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", outboxFailed).Set("payload = ''").Set("attempts = attempts + 1").
		Set("last_error = ?", errText).Set("updated_at = ?", ms(now)).
		Where("id = ?", id).Exec(ctx)
	return wrap("mark outbox failed", err)
}

// OutboxCounts returns how many entries are pending and how many have failed for good.
func (s *Store) OutboxCounts(ctx context.Context) (pending, failed int, err error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err = s.db.NewSelect().Model((*outboxRow)(nil)).
		ColumnExpr("status, COUNT(*) AS n").Where("status IN (?)", bun.List([]string{outboxPending, outboxFailed})).
		Group("status").Scan(ctx, &rows)
	for _, r := range rows {
		switch r.Status {
		case outboxPending:
			pending = r.N
		case outboxFailed:
			failed = r.N
		}
	}
	return pending, failed, wrap("outbox counts", err)
}
