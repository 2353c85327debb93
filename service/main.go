// Command service runs Panguard Auth: the REST API (and, on the same port, its Connect, gRPC
// and gRPC-web twin) over PostgreSQL or an embedded SQLite file.
//
// With no configuration it serves on :3000 with ./panguard-auth.db. See README.md for the
// PANGUARD_* variables. Operator subcommands (migrate, admin, version, healthcheck) share
// that configuration; `panguard-auth -h` lists them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"panguard.ai/auth/internal/hashworker"
	"panguard.ai/auth/internal/server"
	"panguard.ai/auth/internal/store"
)

func main() {
	if hashworker.IsWorker() {
		hashworker.Main() // a child this binary started to hash passwords; never returns
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr)
	stop() // os.Exit skips deferred calls
	os.Exit(code)
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// startHashWorkers fixes the number of hashing slots (one per core unless configured) and,
// unless PANGUARD_HASH_WORKERS is off, starts as many hash worker processes of this binary at
// that priority and has the service hash through them (internal/hashworker says why). The pool is
// closed when ctx ends; nil means hashing stays in this process.
func startHashWorkers(cfg server.Config, log *slog.Logger) (server.Config, *hashworker.Pool, error) {
	if cfg.HashConcurrency <= 0 {
		cfg.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if cfg.HashWorkers == "off" {
		return cfg, nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return cfg, nil, fmt.Errorf("hash workers: %w", err)
	}
	pool, err := hashworker.Start(exe, cfg.HashConcurrency, hashworker.Priority(cfg.HashWorkers))
	if err != nil {
		return cfg, nil, err
	}
	cfg.Derive = pool.IDKey
	log.Debug("hash workers started", "workers", pool.Size(), "priority", cfg.HashWorkers)
	return cfg, pool, nil
}

// setMemoryLimit gives the Go runtime a soft memory limit sized to the hashing work when the
// service hashes in its own process, unless GOMEMLIMIT sets one: each argon2id hash allocates
// its whole memory cost, and without a
// limit the garbage of finished hashes lets the heap (and RSS) grow to twice what is live
// under a burst of logins. 64 MiB for the rest of the service plus 2.5 hashes' worth per
// hashing slot keeps a burst bounded without making the collector thrash.
func setMemoryLimit(cfg server.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if cfg.Derive != nil {
		// The hashes' memory is in the workers: the service itself needs the 64 MiB and
		// the buffers of a burst of connections.
		debug.SetMemoryLimit(96 << 20)
		return
	}
	slots := cfg.HashConcurrency
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	limit := int64(64<<20) + int64(slots)*int64(cfg.HashMemoryKiB)<<10*5/2
	debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit", "bytes", limit)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// run serves until ctx ends, then shuts down gracefully. When ready is not nil it receives
// the bound address once the listener is up.
func run(ctx context.Context, environ map[string]string, ready chan<- string) error {
	cfg, err := server.LoadConfig(environ)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	store.SetLogger(log) // process-wide: the driver has one logger
	for _, w := range server.UnknownVariables(environ) {
		log.Warn(w)
	}
	cfg, pool, err := startHashWorkers(cfg, log)
	if err != nil {
		return err
	}
	if pool != nil {
		defer pool.Close()
	}
	setMemoryLimit(cfg, log)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.ListenAndServe(ctx, ready)
}
