package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"panguard.ai/auth/internal/auth"
)

type deviceGrantRow struct {
	bun.BaseModel `bun:"table:device_grants,alias:dg"`

	ID             string  `bun:"id,pk"`
	DeviceCodeHash string  `bun:"device_code_hash"`
	UserCode       string  `bun:"user_code"`
	ClientID       string  `bun:"client_id"`
	ClientName     string  `bun:"client_name"`
	IP             string  `bun:"ip"`
	State          string  `bun:"state"`
	UserID         *string `bun:"user_id"`
	CreatedAt      int64   `bun:"created_at"`
	ExpiresAt      int64   `bun:"expires_at"`
	IntervalMS     int64   `bun:"interval_ms"`
	LastPolledAt   *int64  `bun:"last_polled_at"`
	DecidedAt      *int64  `bun:"decided_at"`
	UsedAt         *int64  `bun:"used_at"`
}

func (r deviceGrantRow) domain() auth.DeviceGrant {
	g := auth.DeviceGrant{
		ID: r.ID, DeviceCodeHash: r.DeviceCodeHash, UserCode: r.UserCode, ClientID: r.ClientID,
		ClientName: r.ClientName, IP: r.IP, State: auth.DeviceState(r.State),
		CreatedAt: fromMS(r.CreatedAt), ExpiresAt: fromMS(r.ExpiresAt),
		Interval: time.Duration(r.IntervalMS) * time.Millisecond,
	}
	if r.UserID != nil {
		g.UserID = *r.UserID
	}
	for _, f := range []struct {
		dst *time.Time
		src *int64
	}{{&g.LastPolledAt, r.LastPolledAt}, {&g.DecidedAt, r.DecidedAt}, {&g.UsedAt, r.UsedAt}} {
		if f.src != nil {
			*f.dst = fromMS(*f.src)
		}
	}
	return g
}

// CreateDeviceGrant implements auth.DeviceGrants.
func (s *Store) CreateDeviceGrant(ctx context.Context, g auth.DeviceGrant) (bool, error) {
	row := deviceGrantRow{
		ID: g.ID, DeviceCodeHash: g.DeviceCodeHash, UserCode: g.UserCode, ClientID: g.ClientID,
		ClientName: g.ClientName, IP: g.IP, State: string(g.State), CreatedAt: ms(g.CreatedAt),
		ExpiresAt: ms(g.ExpiresAt), IntervalMS: g.Interval.Milliseconds(),
	}
	res, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (user_code) DO NOTHING").Exec(ctx)
	return affected("create device grant", res, err)
}

// CountPendingDeviceGrants implements auth.DeviceGrants.
func (s *Store) CountPendingDeviceGrants(ctx context.Context, ip string, now time.Time) (int, error) {
	n, err := s.idb(ctx).NewSelect().Model((*deviceGrantRow)(nil)).
		Where("ip = ?", ip).Where("expires_at > ?", ms(now)).Where("state = ?", string(auth.DevicePending)).
		Count(ctx)
	return int(n), wrap("count device grants", err)
}

// PendingDeviceGrant implements auth.DeviceGrants.
func (s *Store) PendingDeviceGrant(ctx context.Context, userCode string, now time.Time) (auth.DeviceGrant, error) {
	var row deviceGrantRow
	err := s.idb(ctx).NewSelect().Model(&row).
		Where("user_code = ?", userCode).Where("state = ?", string(auth.DevicePending)).Where("expires_at > ?", ms(now)).
		Scan(ctx)
	if err != nil {
		return auth.DeviceGrant{}, wrap("pending device grant", err)
	}
	return row.domain(), nil
}

// DecideDeviceGrant implements auth.DeviceGrants with one conditional UPDATE.
func (s *Store) DecideDeviceGrant(ctx context.Context, id, userID string, state auth.DeviceState, now time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*deviceGrantRow)(nil)).
		Set("state = ?", string(state)).Set("user_id = ?", userID).Set("decided_at = ?", ms(now)).
		Where("id = ?", id).Where("state = ?", string(auth.DevicePending)).Where("expires_at > ?", ms(now)).
		Exec(ctx)
	return affected("decide device grant", res, err)
}

// DenyApprovedDeviceGrants implements auth.DeviceGrants.
func (s *Store) DenyApprovedDeviceGrants(ctx context.Context, userID string, now time.Time) error {
	_, err := s.idb(ctx).NewUpdate().Model((*deviceGrantRow)(nil)).
		Set("state = ?", string(auth.DeviceDenied)).Set("decided_at = ?", ms(now)).
		Where("user_id = ?", userID).Where("state = ?", string(auth.DeviceApproved)).Where("used_at IS NULL").
		Exec(ctx)
	return wrap("deny approved device grants", err)
}

// DeviceGrantByCode implements auth.DeviceGrants.
func (s *Store) DeviceGrantByCode(ctx context.Context, hash string) (auth.DeviceGrant, error) {
	var row deviceGrantRow
	if err := s.idb(ctx).NewSelect().Model(&row).Where("device_code_hash = ?", hash).Scan(ctx); err != nil {
		return auth.DeviceGrant{}, wrap("device grant", err)
	}
	return row.domain(), nil
}

// PollDeviceGrant implements auth.DeviceGrants with one conditional UPDATE, so of two polls
// that read the same last poll only one records itself.
func (s *Store) PollDeviceGrant(ctx context.Context, id string, prev, now time.Time, interval time.Duration) (bool, error) {
	q := s.idb(ctx).NewUpdate().Model((*deviceGrantRow)(nil)).
		Set("last_polled_at = ?", ms(now)).Set("interval_ms = ?", interval.Milliseconds()).
		Where("id = ?", id)
	if prev.IsZero() {
		q = q.Where("last_polled_at IS NULL")
	} else {
		q = q.Where("last_polled_at = ?", ms(prev))
	}
	res, err := q.Exec(ctx)
	return affected("poll device grant", res, err)
}

// UseDeviceGrant implements auth.DeviceGrants with one conditional UPDATE: racing pollers, on
// any replica, see exactly one row changed between them.
func (s *Store) UseDeviceGrant(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*deviceGrantRow)(nil)).
		Set("state = ?", string(auth.DeviceUsed)).Set("used_at = ?", ms(now)).
		Where("id = ?", id).Where("state = ?", string(auth.DeviceApproved)).Where("used_at IS NULL").
		Exec(ctx)
	return affected("use device grant", res, err)
}
