package store

import (
	"context"
	"errors"
	"fmt"
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
// attempts and last error, and with its payload, so an operator can see whom it was for and
// send it again (RetryOutbox). Purge drops that payload, which may hold a reset link, once
// every link it could hold has expired.
func (s *Store) MarkOutboxFailed(ctx context.Context, id string, errText string, now time.Time) error {
	_, err := s.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", outboxFailed).Set("attempts = attempts + 1").
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

// FailedOutboxEntry is an outbox entry the sender gave up on. Its Payload is "" once Purge
// has dropped it; it may hold a live link otherwise, so show it to no one (see
// auth.OutboxEntry.Describe).
type FailedOutboxEntry struct {
	auth.OutboxEntry
	LastError string
	// FailedAt is when the sender gave up.
	FailedAt time.Time
}

// FailedOutbox returns the entries the sender gave up on, oldest first.
func (s *Store) FailedOutbox(ctx context.Context) ([]FailedOutboxEntry, error) {
	var rows []outboxRow
	err := s.db.NewSelect().Model(&rows).Where("status = ?", outboxFailed).
		OrderExpr("created_at, id").Scan(ctx)
	if err != nil {
		return nil, wrap("failed outbox", err)
	}
	out := make([]FailedOutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = FailedOutboxEntry{
			OutboxEntry: auth.OutboxEntry{ID: r.ID, Kind: r.Kind, Payload: r.Payload, Attempts: r.Attempts, CreatedAt: fromMS(r.CreatedAt)},
			FailedAt:    fromMS(r.UpdatedAt),
		}
		if r.LastError != nil {
			out[i].LastError = *r.LastError
		}
	}
	return out, nil
}

// ErrPayloadDropped is RetryOutbox's answer for a failed entry whose payload Purge dropped:
// there is nothing left to send.
var ErrPayloadDropped = errors.New("its content was dropped a day after it was queued; there is nothing left to send")

// retryable are the failed entries that can still be sent.
func retryable(q *bun.UpdateQuery) *bun.UpdateQuery {
	return q.Where("status = ?", outboxFailed).Where("payload <> ''")
}

// requeue puts entries back to pending as if new: due now, no attempts counted (the last
// error stays until one succeeds).
func requeue(q *bun.UpdateQuery, now time.Time) *bun.UpdateQuery {
	return q.Set("status = ?", outboxPending).Set("attempts = 0").
		Set("next_attempt_at = ?", ms(now)).Set("updated_at = ?", ms(now))
}

// RetryOutbox puts the failed entry id back in the queue, due now with its attempts reset, so
// a running sender handles it again. It returns an error wrapping auth.ErrNoRecord when no
// failed entry has that id, or ErrPayloadDropped.
func (s *Store) RetryOutbox(ctx context.Context, id string, now time.Time) error {
	res, err := requeue(retryable(s.db.NewUpdate().Model((*outboxRow)(nil)).Where("id = ?", id)), now).Exec(ctx)
	if ok, err := affected("retry outbox", res, err); ok || err != nil {
		return err
	}
	var status, payload string
	err = s.db.NewSelect().Model((*outboxRow)(nil)).Column("status", "payload").Where("id = ?", id).Scan(ctx, &status, &payload)
	switch {
	case err != nil:
		return wrap("retry outbox", err)
	case status == outboxFailed && payload == "":
		return fmt.Errorf("store: retry outbox: %s: %w", id, ErrPayloadDropped)
	default:
		// Pending or sent: not failed, so nothing to retry.
		return fmt.Errorf("store: retry outbox: %s is %s, not failed: %w", id, status, auth.ErrNoRecord)
	}
}

// RetryAllOutbox puts every failed entry that can still be sent back in the queue, as
// RetryOutbox does for one. It returns how many it re-queued and how many failed entries it
// left because their payload was dropped.
func (s *Store) RetryAllOutbox(ctx context.Context, now time.Time) (retried, dropped int, err error) {
	res, err := requeue(retryable(s.db.NewUpdate().Model((*outboxRow)(nil))), now).Exec(ctx)
	if err != nil {
		return 0, 0, wrap("retry outbox", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, 0, wrap("retry outbox", err)
	}
	left, err := s.db.NewSelect().Model((*outboxRow)(nil)).Where("status = ?", outboxFailed).Count(ctx)
	return int(n), int(left), wrap("retry outbox", err)
}
