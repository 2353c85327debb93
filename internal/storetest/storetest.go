// Package storetest gives tests real databases: a fresh SQLite file always, and a fresh
// PostgreSQL database when PANGUARD_TEST_POSTGRES_URL names a server. With
// PANGUARD_REQUIRE_POSTGRES=1 (as CI sets it) a missing or unreachable server fails the
// test instead of skipping it, so the PostgreSQL suite can never be skipped silently.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"panguard.ai/auth/internal/store"
)

// Backend is a database the suites run against.
type Backend struct {
	Name string
	// URL returns the URL of a new, empty database that is dropped when t ends.
	URL func(t testing.TB) string
}

// Backends returns SQLite and, when configured, PostgreSQL.
func Backends(t testing.TB) []Backend {
	bs := []Backend{{Name: "sqlite", URL: SQLiteURL}}
	if PostgresAvailable(t) {
		bs = append(bs, Backend{Name: "postgres", URL: PostgresURL})
	}
	return bs
}

// SQLiteURL returns the URL of a new SQLite file in t's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
}

var (
	pgOnce sync.Once
	pgErr  error
)

// PostgresAvailable reports whether a PostgreSQL server is configured and answering. When
// PANGUARD_REQUIRE_POSTGRES=1 it fails t instead of returning false.
func PostgresAvailable(t testing.TB) bool {
	admin := os.Getenv("PANGUARD_TEST_POSTGRES_URL")
	required := os.Getenv("PANGUARD_REQUIRE_POSTGRES") == "1"
	if admin == "" {
		if required {
			t.Fatal("PANGUARD_REQUIRE_POSTGRES=1 but PANGUARD_TEST_POSTGRES_URL is not set")
		}
		return false
	}
	pgOnce.Do(func() {
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin), pgdriver.WithTimeout(3*time.Second)))
		defer db.Close()
		pgErr = db.Ping()
	})
	if pgErr != nil {
		if required {
			t.Fatalf("PostgreSQL required but unreachable: %v", pgErr)
		}
		t.Logf("PostgreSQL tests skipped: %v", pgErr)
		return false
	}
	return true
}

// PostgresURL creates a new database on the configured server and returns its URL; the
// database is dropped when t ends. It fails t when no server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	if !PostgresAvailable(t) {
		t.Skip("PostgreSQL not configured (set PANGUARD_TEST_POSTGRES_URL)")
	}
	admin := os.Getenv("PANGUARD_TEST_POSTGRES_URL")
	b := make([]byte, 6)
	rand.Read(b)
	name := "pgtest_" + hex.EncodeToString(b)
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin)))
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		db.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("PANGUARD_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens and migrates the database at rawURL, closing it when t ends.
func Open(t testing.TB, rawURL string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// Each runs fn as a subtest per backend (SQLite and, when configured, PostgreSQL) with the
// URL of a fresh database. The subtests run in parallel: each owns its database.
func Each(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.URL(t))
		})
	}
}
