package store

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

// SetLastLogin implements auth.Users.
func (s *Store) SetLastLogin(ctx context.Context, userID string, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("last_login_at = ?", ms(at)).Where("id = ?", userID).Exec(ctx)
	return wrap("set last login", err)
}

// likeEscaper makes user text literal inside a LIKE pattern (ESCAPE '!'): '!' is the escape
// character on both databases, where a backslash would mean different things.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// SearchUsers implements auth.Admin. The search is a parameterized LIKE on the lowercased
// email and name, with the query's own %, _ and ! escaped, so it is taken literally; on
// PostgreSQL trigram indexes serve it at any table size.
func (s *Store) SearchUsers(ctx context.Context, f auth.UserFilter) ([]auth.User, error) {
	var rows []userRow
	q := s.idb(ctx).NewSelect().Model(&rows)
	if f.Query != "" {
		pattern := "%" + likeEscaper.Replace(f.Query) + "%"
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("u.email LIKE ? ESCAPE '!'", pattern).WhereOr("lower(u.name) LIKE ? ESCAPE '!'", pattern)
		})
	}
	if f.Tier != nil {
		now := ms(f.Now)
		if *f.Tier == auth.TierCommunity {
			// Community is the tier on record, or any trial or plan that has ended.
			q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("u.tier = ?", string(auth.TierCommunity)).
					WhereOr("u.trial_ends_at <= ?", now).
					WhereOr("u.plan_expires_at <= ?", now)
			})
		} else {
			q = q.Where("u.tier = ?", string(*f.Tier)).
				Where("(u.trial_ends_at IS NULL OR u.trial_ends_at > ?)", now).
				Where("(u.plan_expires_at IS NULL OR u.plan_expires_at > ?)", now)
		}
	}
	if f.Before != nil {
		q = q.Where("(u.created_at, u.id) < (?, ?)", ms(f.Before.At), f.Before.ID)
	}
	if err := q.OrderExpr("u.created_at DESC, u.id DESC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, wrap("search users", err)
	}
	out := make([]auth.User, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// LockAdmins implements auth.Admin: SELECT … FOR UPDATE on PostgreSQL; SQLite's immediate
// transactions already serialize writers.
func (s *Store) LockAdmins(ctx context.Context) ([]string, error) {
	var ids []string
	q := s.idb(ctx).NewSelect().Model((*userRow)(nil)).Column("id").Where("role = ?", string(auth.RoleAdmin)).Order("id")
	if _, inTx := ctx.Value(txKey{}).(bun.Tx); inTx && s.dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return nil, wrap("lock admins", err)
	}
	return ids, nil
}

// SetRole implements auth.Admin.
func (s *Store) SetRole(ctx context.Context, userID string, role auth.Role, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("role = ?", string(role)).Set("updated_at = ?", ms(at)).Where("id = ?", userID).Exec(ctx)
	return wrap("set role", err)
}

// SetPlan implements auth.Admin.
func (s *Store) SetPlan(ctx context.Context, userID string, tier auth.Tier, trialEndsAt, planExpiresAt *time.Time, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("tier = ?", string(tier)).Set("trial_ends_at = ?", msPtr(trialEndsAt)).
		Set("plan_expires_at = ?", msPtr(planExpiresAt)).Set("updated_at = ?", ms(at)).
		Where("id = ?", userID).Exec(ctx)
	return wrap("set plan", err)
}

// SetSuspended implements auth.Admin.
func (s *Store) SetSuspended(ctx context.Context, userID string, since *time.Time, reason string, at time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("suspended_at = ?", msPtr(since)).Set("suspended_reason = ?", strPtr(reason)).
		Set("updated_at = ?", ms(at)).Where("id = ?", userID).Exec(ctx)
	return wrap("set suspended", err)
}

// AuditEvents implements auth.Admin: a backwards range scan of the (at, id) index, or of
// (type, at, id) / (user_id, at, id) when filtered.
func (s *Store) AuditEvents(ctx context.Context, f auth.AuditFilter) ([]auth.Event, error) {
	var rows []eventRow
	q := s.idb(ctx).NewSelect().Model(&rows)
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Before != nil {
		q = q.Where("(at, id) < (?, ?)", ms(f.Before.At), f.Before.ID)
	}
	if err := q.OrderExpr("at DESC, id DESC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, wrap("audit events", err)
	}
	return eventsOf(rows), nil
}
