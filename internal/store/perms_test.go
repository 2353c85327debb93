package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"panguard.ai/auth/internal/store"
)

// openAndWrite opens, migrates and writes to the SQLite database at path, and returns the
// still-open store (so its -wal and -shm files exist).
func openAndWrite(t *testing.T, path string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureSetting(ctx, "jwt_secret", "a secret only the service may read"); err != nil {
		t.Fatal(err)
	}
	return s
}

// requireOwnerOnly fails t unless each of the files is mode 0600; the required ones must exist.
func requireOwnerOnly(t *testing.T, path string) {
	t.Helper()
	for _, f := range []struct {
		name     string
		required bool
	}{{path, true}, {path + "-wal", true}, {path + "-shm", true}, {path + "-journal", false}, {path + ".migrate-lock", false}} {
		fi, err := os.Stat(f.name)
		if errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f.name), err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(f.name), m)
		}
	}
}

// Not parallel: the umask and the default logger are process-wide.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022))

	t.Run("new database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "auth.db")
		openAndWrite(t, path)
		requireOwnerOnly(t, path)
	})

	t.Run("world-readable database is tightened with a warning", func(t *testing.T) {
		var logged bytes.Buffer
		defer slog.SetDefault(slog.Default())
		slog.SetDefault(slog.New(slog.NewJSONHandler(&logged, nil)))

		path := filepath.Join(t.TempDir(), "auth.db")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		openAndWrite(t, path)
		requireOwnerOnly(t, path)
		warned := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
			var rec struct {
				Level, File string
				OldMode     string `json:"old_mode"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "WARN" && rec.File != "" {
				warned[rec.File] = rec.OldMode
			}
		}
		for _, name := range []string{path, path + "-wal"} {
			if warned[name] != "0644" {
				t.Errorf("no warning naming %s and its old mode 0644; the log:\n%s", name, logged.String())
			}
		}
	})
}
