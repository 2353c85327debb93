package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
)

// errorMapping is how one kind of domain failure looks on each transport.
type errorMapping struct {
	status  int
	connect connect.Code
}

// errorTable is the one place that maps domain failures to HTTP statuses and Connect codes.
// The `code` reason always comes from the domain error itself.
var errorTable = map[auth.Kind]errorMapping{
	auth.KindInvalid:         {http.StatusBadRequest, connect.CodeInvalidArgument},
	auth.KindUnauthenticated: {http.StatusUnauthorized, connect.CodeUnauthenticated},
	auth.KindConflict:        {http.StatusConflict, connect.CodeAlreadyExists},
	auth.KindRateLimited:     {http.StatusTooManyRequests, connect.CodeResourceExhausted},
	auth.KindUnavailable:     {http.StatusServiceUnavailable, connect.CodeUnavailable},
	auth.KindInternal:        {http.StatusInternalServerError, connect.CodeInternal},
	auth.KindNotFound:        {http.StatusNotFound, connect.CodeNotFound},
	auth.KindForbidden:       {http.StatusForbidden, connect.CodePermissionDenied},
}

// ErrorMapping is how one kind of domain failure looks on the wire: an HTTP status and a
// Connect code.
type ErrorMapping struct {
	Status  int
	Connect connect.Code
}

// ErrorTable returns a copy of the error table, for clients and tests to check against.
func ErrorTable() map[auth.Kind]ErrorMapping {
	out := make(map[auth.Kind]ErrorMapping, len(errorTable))
	for k, m := range errorTable {
		out[k] = ErrorMapping{Status: m.status, Connect: m.connect}
	}
	return out
}

// errUnavailable answers requests while the database cannot be reached.
var errUnavailable = &auth.Error{Kind: auth.KindUnavailable, Code: auth.CodeUnavailable,
	Message: "The service is temporarily unavailable; retry shortly", RetryAfter: time.Second}

// publicError turns any error into what a client may see: internal faults lose their text,
// and an unreachable database is a 503 to retry, not a 500.
func publicError(ctx context.Context, log *slog.Logger, err error) (*auth.Error, errorMapping) {
	log = logFrom(ctx, log)
	var e *auth.Error
	if errors.As(err, &e) {
		return e, errorTable[e.Kind]
	}
	if store.IsUnavailable(err) {
		log.WarnContext(ctx, "database unavailable", "err", err)
		return errUnavailable, errorTable[errUnavailable.Kind]
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads the answer, but say what happened.
		e = &auth.Error{Kind: auth.KindUnavailable, Code: auth.CodeUnavailable, Message: "Request canceled"}
		return e, errorTable[e.Kind]
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	e = &auth.Error{Kind: auth.KindInternal, Code: auth.CodeInternal, Message: "Internal server error"}
	return e, errorTable[e.Kind]
}

// errorEnvelope is the REST failure body.
type errorEnvelope struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeEnvelope writes a failure envelope with the given status.
func writeEnvelope(w http.ResponseWriter, status int, code auth.Code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorEnvelope{OK: false, Error: msg, Code: string(code)})
}

// writeError writes err as a REST failure envelope via the error table, counting it under
// the operation op.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, mt *metrics, op string, err error) {
	e, m := publicError(r.Context(), log, err)
	mt.failures.WithLabelValues(op, string(e.Code)).Inc()
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeEnvelope(w, m.status, e.Code, e.Message)
}
