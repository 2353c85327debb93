package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/mail"
	"panguard.ai/auth/internal/outbox"
	"panguard.ai/auth/internal/store"
)

// Server is a running service's parts: the store, the domain, the outbox sender and the
// HTTP handler, built from a Config by New.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	auth     *auth.Service
	sender   *outbox.Sender
	metrics  *metrics
	draining atomic.Bool
	handler  http.Handler
}

// newTransport picks SMTP when configured, else the log.
func newTransport(cfg Config, log *slog.Logger) (mail.Transport, error) {
	if cfg.SMTPURL == "" {
		log.Warn("no PANGUARD_SMTP_URL configured: emails (with their reset links) are printed to this log")
		return mail.LogTransport{Log: log}, nil
	}
	helo := ""
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		helo = u.Hostname()
	}
	return mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, helo)
}

// RunBackground runs the outbox sender and the janitor until ctx ends; the returned channel
// closes when both have stopped.
func (a *Server) RunBackground(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); a.sender.Run(ctx) }()
	go func() { defer wg.Done(); a.janitor(ctx, 10*time.Minute) }()
	go func() { defer wg.Done(); a.keyKeeper(ctx, time.Minute) }()
	go func() { wg.Wait(); close(done) }()
	return done
}

// purgeAge is how old expired or idle state must be before the janitor deletes it: past
// every lock, decay window and token lifetime, with a day to spare for investigations.
const purgeAge = 24 * time.Hour

// every runs fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// janitor deletes expired sessions and tokens, idle throttles and sent emails every interval.
func (a *Server) janitor(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := a.store.Purge(ctx, time.Now().Add(-purgeAge)); err != nil && ctx.Err() == nil {
			a.log.Warn("janitor: purge failed", "err", err)
		}
	})
}

// keyKeeper rotates the token-signing keys when due and reloads them every interval, so a
// key any replica (or the operator) adds is known here long before it signs: the interval
// is far shorter than auth.KeyLeadTime.
func (a *Server) keyKeeper(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		k, err := a.auth.RotateKeys(ctx, false)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("signing keys: rotation or reload failed", "err", err)
		}
		if k != nil {
			a.log.Info("signing keys: new key published", "kid", k.ID, "signs_from", k.ActivatesAt)
		}
	})
}

// New loads the email templates, opens and migrates the store and builds the service from
// cfg. It returns an error when an email template cannot be loaded, parsed or executed, the
// database cannot be reached or migrated, a secret or key is unusable, or the mail transport
// or proxy settings are invalid. Close releases what it opened.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	// Templates first: a broken override stops the start before anything else is touched.
	templates, err := mail.Load(cfg.TemplatesDir, mail.Branding{Product: cfg.ProductName, Support: cfg.SupportEmail})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	secret, err := secretSetting(ctx, st, log, "jwt_secret", cfg.JWTSecret, "PANGUARD_JWT_SECRET")
	if err != nil {
		st.Close()
		return nil, err
	}
	encKey, err := secretSetting(ctx, st, log, "encryption_key", cfg.EncryptionKey, "PANGUARD_ENCRYPTION_KEY")
	if err != nil {
		st.Close()
		return nil, err
	}
	key, err := auth.ParseKey(encKey)
	if err != nil {
		st.Close()
		return nil, err
	}
	var previousKey []byte // LoadConfig checked it
	if cfg.EncryptionKeyPrevious != "" {
		if previousKey, err = auth.ParseKey(cfg.EncryptionKeyPrevious); err != nil {
			st.Close()
			return nil, err
		}
		log.Warn("PANGUARD_ENCRYPTION_KEY_PREVIOUS is set: secrets sealed under it are still opened; once " +
			"`panguard-auth encryption-key rotate` has run, remove it and restart")
	}
	transport, err := newTransport(cfg, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	var svc *auth.Service
	mt := newMetrics()
	sender := outbox.New(outbox.Config{
		Store: st,
		Log:   log,
		Lease: cfg.OutboxLease,
		// Zero (a Config built without LoadConfig) is the sender's default.
		MaxAttempts: cfg.OutboxMaxAttempts,
		Handlers: map[string]outbox.Handler{
			auth.OutboxResetRequest: func(ctx context.Context, p string) error { return svc.HandleResetRequest(ctx, p) },
			auth.OutboxEmail:        templates.Handler(transport),
		},
	})
	svc, err = auth.New(auth.Config{
		Store:     st,
		PublicURL: cfg.PublicURL,
		RateLimit: cfg.RateLimit,
		// The public clients of the device grant (the CLI's `login --web`).
		DeviceClients: cfg.DeviceClients,
		// The domain reads 0 as its default and a negative value as off.
		AccountWriteLimit:     cmp.Or(cfg.AccountWriteLimit, -1),
		HashSlots:             cfg.HashConcurrency,
		HashMaxWait:           cfg.HashQueueTimeout,
		Derive:                cfg.Derive,
		OnHashWait:            func(d time.Duration) { mt.hashWait.Observe(d.Seconds()) },
		OnEnqueue:             sender.Wake,
		JWTSecret:             []byte(secret),
		EncryptionKey:         key,
		PreviousEncryptionKey: previousKey,
		TOTPIssuer:            cfg.TOTPIssuer,
		TokenTTL:              cfg.TokenTTL,
		KeyRotation:           cfg.KeyRotation,
		Now:                   cfg.Now,
		Issuer:                cfg.PublicURL,
		Hash: auth.HashParams{
			MemoryKiB: cfg.HashMemoryKiB, Iterations: cfg.HashIterations, Parallelism: cfg.HashParallelism,
			SaltLen: auth.DefaultHashParams.SaltLen, KeyLen: auth.DefaultHashParams.KeyLen,
		},
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	ips, err := newClientIPs(cfg.TrustedProxies)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &Server{cfg: cfg, log: log, store: st, auth: svc, sender: sender, metrics: mt}
	mt.watch(svc, st, sender, log)
	a.handler, err = newHandler(handlerDeps{
		auth: svc, store: st, log: log, metrics: mt, corsOrigins: cfg.CORSOrigins, ips: ips,
		hsts: cfg.hsts(), draining: &a.draining, timeout: cfg.RequestTimeout,
		metricsElsewhere: cfg.MetricsAddr != "",
		secureCookies:    strings.HasPrefix(cfg.PublicURL, "https://"),
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// secretSetting returns the configured secret, or the one kept in the database, generating
// and storing it the first time. Replicas racing on first start all read the same winner.
func secretSetting(ctx context.Context, st *store.Store, log *slog.Logger, key, configured, envName string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	v, err := st.EnsureSetting(ctx, key, hex.EncodeToString(b))
	if err != nil {
		return "", err
	}
	log.Warn("no "+envName+" configured: using a generated one kept in the database; set it explicitly in production", "setting", key)
	return v, nil
}

// protocols serves HTTP/1.1 and HTTP/2 — including HTTP/2 without TLS (h2c), which plain
// gRPC clients use.
func protocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// Handler is the whole HTTP surface: REST, Connect, gRPC, gRPC-web, health and metrics.
func (a *Server) Handler() http.Handler { return a.handler }

// Auth is the domain service, for the operator subcommands that act on accounts directly.
func (a *Server) Auth() *auth.Service { return a.auth }

// Close closes the database.
func (a *Server) Close() error { return a.store.Close() }

// ListenAndServe serves on the configured address until ctx ends, running the outbox sender
// and the janitor beside it, then shuts down gracefully: readiness fails first, requests in
// flight finish (up to the shutdown timeout). When ready is not nil it receives the bound
// address once the listener is up. It returns listener and TLS errors.
func (a *Server) ListenAndServe(ctx context.Context, ready chan<- string) error {
	cfg, log := a.cfg, a.log
	bgctx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := a.RunBackground(bgctx)
	defer func() { stopBackground(); <-bgDone }()

	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		Protocols:         protocols(),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("panguard-auth listening", "addr", ln.Addr().String(), "database", string(a.store.Dialect()))
	if cfg.MetricsAddr != "" {
		// Sampled, so they cost next to nothing: blocking events of 10 ms or more always and
		// shorter ones proportionally, and one mutex contention in 100.
		runtime.SetBlockProfileRate(int(10 * time.Millisecond))
		runtime.SetMutexProfileFraction(100)
		ms := &http.Server{Addr: cfg.MetricsAddr, Handler: operationsHandler(a.metrics), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "err", err)
			}
		}()
		defer ms.Close()
		log.Info("metrics and profiles served separately", "addr", cfg.MetricsAddr)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Fail readiness first so load balancers stop sending new work while requests drain.
	a.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
