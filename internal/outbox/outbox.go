// Package outbox delivers the work the domain writes to the transactional outbox: reset
// requests and emails. Entries are claimed with a lease (FOR UPDATE SKIP LOCKED on
// PostgreSQL), so several replicas share one outbox and each entry is handled once; an entry
// survives a crash and is retried with exponential backoff; an entry that keeps failing is
// kept, marked failed, logged and counted.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"panguard.ai/auth/internal/auth"
)

// Store is the outbox persistence the sender needs.
type Store interface {
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]auth.OutboxEntry, error)
	MarkOutboxSent(ctx context.Context, id string, now time.Time) error
	MarkOutboxRetry(ctx context.Context, id string, next time.Time, errText string, now time.Time) error
	MarkOutboxFailed(ctx context.Context, id string, errText string, now time.Time) error
}

// Handler does the work of one entry's payload. Returning an error marked with Permanent
// stops the retries at once.
type Handler func(ctx context.Context, payload string) error

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks err as not worth retrying (a malformed payload, an address the server rejects).
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { var p permanent; return errors.As(err, &p) }

// Config tunes a Sender. Zero values take the defaults in brackets.
type Config struct {
	Store    Store
	Handlers map[string]Handler
	Log      *slog.Logger
	Now      func() time.Time // [time.Now]
	// Poll is how often the sender looks for due entries when not woken [1s].
	Poll time.Duration
	// Lease is how long a claimed entry is reserved for its sender [1m]; an entry claimed by
	// a sender that died is handled again once its lease runs out.
	Lease time.Duration
	// MaxAttempts before an entry is marked failed [8]; backoff doubles from BaseBackoff [5s]
	// up to MaxBackoff [15m].
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Batch is how many entries one round claims [16].
	Batch int
	// HandleTimeout bounds one handler call [two thirds of Lease], so a live sender always
	// finishes (or gives up) before its lease could pass to another.
	HandleTimeout time.Duration
}

// Stats are the sender's counters since start.
type Stats struct {
	Handled, Retried, Failed int64
}

// Sender claims due outbox entries and runs their handlers.
type Sender struct {
	cfg     Config
	wake    chan struct{}
	handled atomic.Int64
	retried atomic.Int64
	failed  atomic.Int64
}

// New returns a Sender; Run starts it.
func New(cfg Config) *Sender {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, time.Second)
	def(&cfg.Lease, time.Minute)
	def(&cfg.BaseBackoff, 5*time.Second)
	def(&cfg.MaxBackoff, 15*time.Minute)
	def(&cfg.HandleTimeout, cfg.Lease*2/3)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	return &Sender{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake asks the sender to look for work now instead of at the next poll. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	return Stats{Handled: s.handled.Load(), Retried: s.retried.Load(), Failed: s.failed.Load()}
}

// Run handles entries until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := s.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("outbox: claim failed", "err", err)
			}
			if n < s.cfg.Batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// RunOnce claims one batch of due entries and handles them concurrently, returning how many
// it claimed. It returns the claim's error; handler errors are recorded on the entries.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	entries, err := s.cfg.Store.ClaimOutbox(ctx, s.cfg.Now(), s.cfg.Lease, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, e)
		}()
	}
	wg.Wait()
	return len(entries), nil
}

func (s *Sender) handle(ctx context.Context, e auth.OutboxEntry) {
	log := s.cfg.Log.With("outbox_id", e.ID, "kind", e.Kind, "attempt", e.Attempts+1)
	h, ok := s.cfg.Handlers[e.Kind]
	var err error
	if !ok {
		err = Permanent(fmt.Errorf("no handler for kind %q", e.Kind))
	} else {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HandleTimeout)
		err = h(hctx, e.Payload)
		cancel()
	}
	// Bookkeeping must land even when ctx is ending, or the entry would be retried needlessly.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.cfg.Now()
	switch {
	case err == nil:
		s.handled.Add(1)
		if err := s.cfg.Store.MarkOutboxSent(bctx, e.ID, now); err != nil {
			log.Error("outbox: handled but not marked; it may be handled again", "err", err)
		}
	case IsPermanent(err) || e.Attempts+1 >= s.cfg.MaxAttempts:
		s.failed.Add(1)
		log.Error("outbox: giving up on entry", "err", err)
		if err := s.cfg.Store.MarkOutboxFailed(bctx, e.ID, err.Error(), now); err != nil {
			log.Error("outbox: could not mark failed", "err", err)
		}
	default:
		s.retried.Add(1)
		next := now.Add(s.backoff(e.Attempts))
		log.Warn("outbox: attempt failed; will retry", "err", err, "retry_at", next)
		if err := s.cfg.Store.MarkOutboxRetry(bctx, e.ID, next, err.Error(), now); err != nil {
			log.Error("outbox: could not schedule retry", "err", err)
		}
	}
}

func (s *Sender) backoff(attempts int) time.Duration {
	d := s.cfg.BaseBackoff
	for range attempts {
		d *= 2
		if d >= s.cfg.MaxBackoff {
			return s.cfg.MaxBackoff
		}
	}
	return d
}
