// Package store persists the auth domain with Bun on PostgreSQL (pgdriver) or an embedded,
// pure-Go SQLite file. It implements auth.Store; its rows never leave the package.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"panguard.ai/auth/internal/auth"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultSQLitePath is the database file used when no URL is configured.
const DefaultSQLitePath = "panguard-auth.db"

// Dialect names the database behind a Store.
type Dialect string

// The supported databases.
const (
	Postgres Dialect = "pg"
	SQLite   Dialect = "sqlite"
)

// Store is the Bun-backed implementation of auth.Store.
type Store struct {
	db         *bun.DB
	dialect    Dialect
	sqlitePath string
	// sessionUser is the prepared form of the one query every authenticated request makes.
	sessionUser *sql.Stmt
}

// Open connects to rawURL: "postgres://…" (or "postgresql://…") for PostgreSQL,
// "sqlite://PATH" for a SQLite file, "" for DefaultSQLitePath. It does not migrate.
// It returns an error for an unknown scheme or a database that cannot be reached.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	s := &Store{}
	switch {
	case rawURL == "":
		rawURL = "sqlite://" + DefaultSQLitePath
		fallthrough
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, fmt.Errorf("store: sqlite URL needs a path, e.g. sqlite://./panguard-auth.db")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		if err := secureSQLiteFiles(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// WAL lets readers run beside the writer; synchronous=FULL makes every acknowledged
		// commit survive a crash or power loss; immediate transactions take the write lock up
		// front so concurrent writers queue (busy_timeout) instead of failing on upgrade.
		q := url.Values{}
		// cache_size: 16 MiB of page cache per connection (the default is 2 MiB), so index
		// pages stay in memory as tables grow.
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "cache_size(-16384)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxIdleTime(0)
		s.db, s.dialect, s.sqlitePath = bun.NewDB(sqldb, sqlitedialect.New()), SQLite, path
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		sqldb := sql.OpenDB(pgdriver.NewConnector(
			pgdriver.WithDSN(rawURL),
			pgdriver.WithTimeout(5*time.Second),
			pgdriver.WithApplicationName("panguard-auth"),
		))
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(32)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		s.db, s.dialect = bun.NewDB(sqldb, pgdialect.New()), Postgres
	default:
		return nil, fmt.Errorf("store: unsupported database URL scheme (want postgres:// or sqlite://)")
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return s, nil
}

// sessionUserSQL reads the user of an active session; $1 session id, $2 now (ms).
const sessionUserSQL = `SELECT u.id, u.email, u.name, u.password_hash, u.tier, u.trial_ends_at, u.totp_enabled,
 u.created_at, u.updated_at, u.totp_secret, u.totp_pending_secret, u.totp_last_step, u.email_verified_at,
 u.totp_enabled_at, u.role, u.plan_expires_at, u.suspended_at, u.suspended_reason, u.last_login_at,
 s.last_seen_at
 FROM sessions AS s JOIN users AS u ON u.id = s.user_id
 WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`

// prepare readies the hot-path statements; it needs the migrated schema.
func (s *Store) prepare(ctx context.Context) error {
	q := sessionUserSQL
	if s.dialect == SQLite {
		q = strings.NewReplacer("$1", "?1", "$2", "?2").Replace(q)
	}
	stmt, err := s.db.DB.PrepareContext(ctx, q)
	if err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	if s.sessionUser != nil {
		s.sessionUser.Close()
	}
	s.sessionUser = stmt
	return nil
}

// Dialect reports which database this Store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the connection pool.
func (s *Store) Close() error {
	if s.sessionUser != nil {
		s.sessionUser.Close()
	}
	return s.db.Close()
}

// SQLDB is the underlying connection pool, for its statistics.
func (s *Store) SQLDB() *sql.DB { return s.db.DB }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) migrator() (*migrate.Migrator, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrationFS); err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return migrate.NewMigrator(s.db, ms,
		migrate.WithTableName("schema_migrations"),
		migrate.WithLocksTableName("schema_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTemplateData(map[string]string{"Dialect": string(s.dialect)}),
	), nil
}

// withMigrationLock runs fn while holding a lock that every process migrating this database
// respects, so replicas starting at once migrate one after another.
func (s *Store) withMigrationLock(ctx context.Context, fn func() error) error {
	switch s.dialect {
	case Postgres:
		// A session-level advisory lock lives on one connection; fn uses others from the pool.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer conn.Close()
		const key = 0x70616e67 // "pang"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key)
		return fn()
	default:
		// An flock on a side file dies with its process, so a crash never leaves it held.
		f, err := os.OpenFile(s.sqlitePath+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return fn()
	}
}

// Migrate applies every embedded migration not yet applied, under the migration lock.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.ApplyPending(ctx); err != nil {
		return err
	}
	return s.prepare(ctx)
}

// Rollback undoes the last group of applied migrations, under the migration lock.
func (s *Store) Rollback(ctx context.Context) error {
	m, err := s.migrator()
	if err != nil {
		return err
	}
	return s.withMigrationLock(ctx, func() error {
		if _, err := m.Rollback(ctx); err != nil {
			return fmt.Errorf("store: rollback: %w", err)
		}
		return nil
	})
}

type txKey struct{}

// idb is the transaction carried by ctx, or the pool.
func (s *Store) idb(ctx context.Context) bun.IDB {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return tx
	}
	return s.db
}

// RunInTx runs fn in a transaction; Store calls made with fn's ctx join it. A nested call
// joins the outer transaction. fn's error rolls everything back and is returned.
func (s *Store) RunInTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return fn(ctx)
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	if err != nil && ctx.Err() != nil {
		// database/sql rolled the transaction back when ctx ended; report that, not the
		// "transaction has already been committed or rolled back" of the commit that followed.
		return fmt.Errorf("store: transaction: %w", ctx.Err())
	}
	return err
}

// pgLogger routes the PostgreSQL driver's own messages (dropped connections) to slog.
type pgLogger struct{ log *slog.Logger }

func (l pgLogger) Printf(ctx context.Context, format string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, args...))
}

// SetLogger sends the database drivers' messages to log instead of the standard logger.
func SetLogger(log *slog.Logger) { pgdriver.Logger = pgLogger{log} }

// Setting implements auth.Settings.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var got settingRow
	if err := s.idb(ctx).NewSelect().Model(&got).Where("key = ?", key).Scan(ctx); err != nil {
		return "", wrap("setting "+key, err)
	}
	return got.Value, nil
}

// EnsureSetting implements auth.Settings: it returns the stored value of key, storing
// generated first if there is none. Concurrent callers on one database all get the same value.
func (s *Store) EnsureSetting(ctx context.Context, key, generated string) (string, error) {
	row := settingRow{Key: key, Value: generated}
	if _, err := s.idb(ctx).NewInsert().Model(&row).On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
		return "", wrap("setting "+key, err)
	}
	return s.Setting(ctx, key)
}

// SwapSetting implements auth.Settings as a compare-and-set on the value.
func (s *Store) SwapSetting(ctx context.Context, key, old, value string) (bool, error) {
	res, err := s.idb(ctx).NewUpdate().Model((*settingRow)(nil)).
		Set("value = ?", value).Where("key = ?", key).Where("value = ?", old).Exec(ctx)
	return affected("swap setting "+key, res, err)
}

// IsUnavailable reports whether err means the database could not be reached or did not
// answer in time (as opposed to refusing a query): the request may succeed when retried.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		// Class 08 (connection), 53 (resources), 57P0x (shutdown, cannot connect now), and
		// 40001/40P01 (serialization failure, deadlock): all worth retrying.
		code := pe.Field('C')
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") || strings.HasPrefix(code, "57P0") ||
			code == "40001" || code == "40P01"
	}
	// SQLite: the file is locked for longer than busy_timeout; database/sql: the pool is
	// closed (shutting down). Neither has an exported error value to compare with.
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "sql: database is closed")
}

// wrap names the operation that failed. A missing row becomes auth.ErrNoRecord, which the
// domain tests with errors.Is; every other cause stays reachable through the chain too
// (IsUnavailable looks for it).
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, auth.ErrNoRecord)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// affected reports whether a statement changed a row, wrapping any error with op.
func affected(op string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, wrap(op, err)
	}
	n, err := res.RowsAffected()
	return n > 0, wrap(op, err)
}

var _ auth.Store = (*Store)(nil)
