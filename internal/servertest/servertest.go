// Package servertest runs the whole service in-process on an httptest server, for the tests
// of its clients (the SDK, the example CLI) that need no real process: no build, no port race.
// The resilience, crash and replica tests keep real processes (see service/).
package servertest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"time"

	"panguard.ai/auth/internal/server"
)

// Config is a configuration for tests over the database at dbURL: cheap password hashing
// (the production minimum is enforced by server.LoadConfig, not here), no per-IP rate limit,
// emails printed to the log.
func Config(dbURL string) server.Config {
	return server.Config{
		Addr: "127.0.0.1:0", DatabaseURL: dbURL, TokenTTL: 24 * time.Hour, LogLevel: "error",
		HashMemoryKiB: 1024, HashIterations: 1, HashParallelism: 1, HashQueueTimeout: 2 * time.Second,
		RequestTimeout: 10 * time.Second, OutboxLease: time.Minute, ShutdownTimeout: 5 * time.Second,
		TOTPIssuer: "Panguard", PublicURL: "http://panguard.test", MailFrom: "Panguard <no-reply@panguard.test>",
		AccountWriteLimit: 60,
	}
}

// Server is a running in-process service.
type Server struct {
	// URL is the base URL of the HTTP server, e.g. http://127.0.0.1:43210.
	URL string
	*server.Server
	http *httptest.Server
	stop func()
	done <-chan struct{}
}

// Start runs the service built from cfg, with its outbox sender and janitor, logging to log.
// It returns server.New's errors. Close stops it.
func Start(cfg server.Config, log *slog.Logger) (*Server, error) {
	s, err := server.New(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := httptest.NewServer(s.Handler())
	return &Server{URL: hs.URL, Server: s, http: hs, stop: cancel, done: s.RunBackground(ctx)}, nil
}

// Close stops the HTTP server and the background work, then closes the database.
func (s *Server) Close() {
	s.http.Close()
	s.stop()
	<-s.done
	s.Server.Close()
}
