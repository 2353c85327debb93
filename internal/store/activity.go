package store

import (
	"context"
	"encoding/json"

	"panguard.ai/auth/internal/auth"
)

// AddEvent implements auth.Activity.
func (s *Store) AddEvent(ctx context.Context, e auth.Event) error {
	row := eventRow{ID: e.ID, UserID: e.UserID, Type: e.Type, At: ms(e.At), IP: e.IP, UserAgent: e.UserAgent, Actor: e.Actor}
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return wrap("add event", err)
		}
		d := string(b)
		row.Detail = &d
	}
	_, err := s.idb(ctx).NewInsert().Model(&row).Exec(ctx)
	return wrap("add event", err)
}

// Events implements auth.Activity: a range scan of activity_events_user_at_idx, backwards
// from the cursor, whatever the size of the table.
func (s *Store) Events(ctx context.Context, userID string, limit int, before *auth.EventCursor) ([]auth.Event, error) {
	var rows []eventRow
	q := s.idb(ctx).NewSelect().Model(&rows).Where("user_id = ?", userID)
	if before != nil {
		// A row comparison, which both databases turn into an index bound (an OR of the
		// two conditions would leave PostgreSQL filtering every newer row of the user).
		q = q.Where("(at, id) < (?, ?)", ms(before.At), before.ID)
	}
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.OrderExpr("at DESC, id DESC").Scan(ctx); err != nil {
		return nil, wrap("events", err)
	}
	return eventsOf(rows), nil
}

func eventsOf(rows []eventRow) []auth.Event {
	out := make([]auth.Event, len(rows))
	for i, r := range rows {
		out[i] = auth.Event{ID: r.ID, UserID: r.UserID, Type: r.Type, At: fromMS(r.At), IP: r.IP, UserAgent: r.UserAgent, Actor: r.Actor}
		if r.Detail != nil {
			// Written by AddEvent: a flat object of strings.
			_ = json.Unmarshal([]byte(*r.Detail), &out[i].Detail)
		}
	}
	return out
}
