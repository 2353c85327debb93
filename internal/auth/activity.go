package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The types of security activity events.
const (
	EventRegistered             = "registered"
	EventLogin                  = "login"
	EventLoginFailed            = "login_failed"
	EventLogout                 = "logout"
	EventSessionRevoked         = "session_revoked"
	EventPasswordChanged        = "password_changed"
	EventPasswordReset          = "password_reset"
	EventTOTPEnabled            = "totp_enabled"
	EventTOTPDisabled           = "totp_disabled"
	EventBackupCodesRegenerated = "backup_codes_regenerated"
	EventBackupCodeUsed         = "backup_code_used"
	EventEmailVerified          = "email_verified"
	EventEmailChangeRequested   = "email_change_requested"
	EventEmailChanged           = "email_changed"
	EventDataExported           = "data_exported"
	EventAccountDeleted         = "account_deleted"
	EventDeviceApproved         = "device_approved"
	EventDeviceDenied           = "device_denied"
)

// Actors of events.
const (
	ActorSelf   = "self"
	ActorSystem = "system"
)

// Event is one entry of an account's security activity. Detail never holds a secret.
type Event struct {
	ID        string
	UserID    string
	Type      string
	At        time.Time
	IP        string
	UserAgent string
	Actor     string
	Detail    map[string]string
}

// EventCursor is where a page continues: strictly older than (At, ID) (for users, At is
// the creation time).
type EventCursor struct {
	At time.Time
	ID string
}

// ActivityQuery asks for a page of activity: Limit events (nil: 50; 1-100), older than the
// Before cursor of the previous page ("" for the newest).
type ActivityQuery struct {
	Limit  *int
	Before string
}

// ActivityPage is a page of events, newest first; NextCursor is "" at the end.
type ActivityPage struct {
	Events     []Event
	NextCursor string
}

// Activity page sizes.
const (
	ActivityDefaultLimit = 50
	ActivityMaxLimit     = 100
)

// ErrInvalidCursor is a cursor the service did not issue (or issued to someone else).
var ErrInvalidCursor = &Error{Kind: KindInvalid, Code: CodeInvalidCursor, Message: "The cursor is not one this service issued"}

// record appends an event about userID, in ctx's transaction when there is one: the change
// it records and the event commit or roll back together.
func (s *Service) record(ctx context.Context, userID, typ string, detail map[string]string) error {
	return s.recordAs(ctx, userID, typ, ActorSelf, detail)
}

// ListActivity returns a page of the caller's security activity, newest first.
// Errors: ErrUnauthenticated, CodeValidation (limit outside 1-100), ErrInvalidCursor.
func (s *Service) ListActivity(ctx context.Context, p Principal, q ActivityQuery) (ActivityPage, error) {
	u, err := p.caller()
	if err != nil {
		return ActivityPage{}, err
	}
	limit := ActivityDefaultLimit
	if q.Limit != nil {
		limit = *q.Limit
	}
	if limit < 1 || limit > ActivityMaxLimit {
		return ActivityPage{}, invalid("limit must be 1-%d", ActivityMaxLimit)
	}
	before, err := s.pageAfter(u.ID, q.Before)
	if err != nil {
		return ActivityPage{}, err
	}
	// One more than asked tells whether there is a next page.
	events, err := s.store.Events(ctx, u.ID, limit+1, before)
	if err != nil {
		return ActivityPage{}, err
	}
	page := ActivityPage{Events: events}
	if len(events) > limit {
		page.Events = events[:limit]
		last := page.Events[limit-1]
		page.NextCursor = s.cursor(u.ID, EventCursor{At: last.At, ID: last.ID})
	}
	return page, nil
}

// cursor encodes c for scope (the user whose activity it pages, or an admin listing):
// opaque to clients, and tamper-evident (a tag binds it to the scope, so a forged or
// borrowed cursor is refused rather than read).
func (s *Service) cursor(scope string, c EventCursor) string {
	payload := strconv.FormatInt(c.At.UnixMilli(), 10) + "." + c.ID
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.sealer.tag("cursor", scope, payload))
}

// pageAfter is where the page a client asks for with cursor raw begins: nil for the first
// page. Errors: ErrInvalidCursor.
func (s *Service) pageAfter(scope, raw string) (*EventCursor, error) {
	if raw == "" {
		return nil, nil
	}
	c, err := s.parseCursor(scope, raw)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// parseCursor decodes a cursor issued by cursor for scope. Errors: ErrInvalidCursor.
func (s *Service) parseCursor(scope, raw string) (EventCursor, error) {
	enc := base64.RawURLEncoding
	p, t, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > 200 {
		return EventCursor{}, ErrInvalidCursor
	}
	payload, err1 := enc.DecodeString(p)
	tag, err2 := enc.DecodeString(t)
	if err := errors.Join(err1, err2); err != nil || !hmac.Equal(tag, s.sealer.tag("cursor", scope, string(payload))) {
		return EventCursor{}, ErrInvalidCursor
	}
	ms, id, ok := strings.Cut(string(payload), ".")
	at, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return EventCursor{}, ErrInvalidCursor
	}
	return EventCursor{At: time.UnixMilli(at).UTC(), ID: id}, nil
}
