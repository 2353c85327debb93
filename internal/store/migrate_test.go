package store_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

// embeddedMigrations are the names of the migration files, oldest first, read from the
// source tree so the tests follow new migrations without edits.
func embeddedMigrations(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".tx.up.sql"); ok {
			names = append(names, name)
		}
	}
	if len(names) < 2 {
		t.Fatalf("found %d migrations; the tests need at least 2", len(names))
	}
	return names
}

// openBare opens the database without migrating it.
func openBare(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pending returns the names MigrationStatus reports pending, after checking that it lists
// exactly the embedded migrations in order, each applied one with its time.
func pending(t *testing.T, s *store.Store, want []string) []string {
	t.Helper()
	states, err := s.MigrationStatus(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var names, out []string
	for _, st := range states {
		names = append(names, st.Name)
		switch {
		case !st.Applied:
			out = append(out, st.Name)
			if !st.AppliedAt.IsZero() {
				t.Fatalf("%s pending but applied at %v", st.Name, st.AppliedAt)
			}
		case st.AppliedAt.IsZero():
			t.Fatalf("%s applied with no time", st.Name)
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("status lists %q, want %q", names, want)
	}
	return out
}

func TestMigrationStatusOfAnEmptyDatabaseListsEveryMigrationPending(t *testing.T) {
	t.Parallel()
	want := embeddedMigrations(t)
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := openBare(t, dbURL)
		if got := pending(t, s, want); !slices.Equal(got, want) {
			t.Fatalf("pending %q, want all of %q", got, want)
		}
		// Asking twice applies nothing either.
		if got := pending(t, s, want); !slices.Equal(got, want) {
			t.Fatalf("second status: pending %q", got)
		}
		applied, err := s.ApplyPending(context.Background())
		if err != nil || !slices.Equal(applied, want) {
			t.Fatalf("apply pending: %q %v, want %q", applied, err, want)
		}
		if got := pending(t, s, want); len(got) != 0 {
			t.Fatalf("after applying: pending %q", got)
		}
		if applied, err := s.ApplyPending(context.Background()); err != nil || len(applied) != 0 {
			t.Fatalf("applying an up-to-date database: %q %v", applied, err)
		}
	})
}

func TestRollbackNUndoesExactlyTheMostRecentMigrations(t *testing.T) {
	t.Parallel()
	all := embeddedMigrations(t)
	for _, tc := range []struct {
		name string
		n    int
	}{{"the last one", 1}, {"the last two", 2}, {"all of them", len(all)}} {
		n := tc.n
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, dbURL string) {
				ctx := context.Background()
				s := storetest.Open(t, dbURL)
				undone, err := s.RollbackN(ctx, n)
				if err != nil {
					t.Fatalf("rollback %d: %v", n, err)
				}
				want := slices.Clone(all[len(all)-n:])
				slices.Reverse(want)
				if !slices.Equal(undone, want) {
					t.Fatalf("rolled back %q, want newest first %q", undone, want)
				}
				if got := pending(t, s, all); !slices.Equal(got, all[len(all)-n:]) {
					t.Fatalf("pending after rolling back %d: %q", n, got)
				}
				// Each down really undid its up: migrating again recreates what it dropped.
				if err := s.Migrate(ctx); err != nil {
					t.Fatalf("re-migrate: %v", err)
				}
				if got := pending(t, s, all); len(got) != 0 {
					t.Fatalf("pending after re-migrating: %q", got)
				}
				if _, err := s.CreateUser(ctx, user("usr_1", "x@example.com")); err != nil {
					t.Fatalf("after re-migrate: %v", err)
				}
			})
		})
	}
}

func TestRollbackNRefusesAndUndoesNothing(t *testing.T) {
	t.Parallel()
	all := embeddedMigrations(t)
	for _, tc := range []struct {
		name   string
		n      int
		wantIs error
	}{
		{"zero", 0, nil},
		{"negative", -1, nil},
		{"one more than applied", len(all) + 1, store.ErrRollbackBeyondApplied},
		{"far more than applied", 999, store.ErrRollbackBeyondApplied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, dbURL string) {
				ctx := context.Background()
				s := storetest.Open(t, dbURL)
				undone, err := s.RollbackN(ctx, tc.n)
				if err == nil || len(undone) != 0 {
					t.Fatalf("rollback %d: undid %q, err %v", tc.n, undone, err)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Fatalf("rollback %d: %v, want %v", tc.n, err, tc.wantIs)
				}
				if got := pending(t, s, all); len(got) != 0 {
					t.Fatalf("a refused rollback left %q pending", got)
				}
				if _, err := s.CreateUser(ctx, user("usr_1", "x@example.com")); err != nil {
					t.Fatalf("schema after a refused rollback: %v", err)
				}
			})
		})
	}
	t.Run("on an empty database", func(t *testing.T) {
		t.Parallel()
		storetest.Each(t, func(t *testing.T, dbURL string) {
			s := openBare(t, dbURL)
			if _, err := s.RollbackN(context.Background(), 1); !errors.Is(err, store.ErrRollbackBeyondApplied) {
				t.Fatalf("rollback on an empty database: %v", err)
			}
		})
	})
}

// A migration recorded by a newer version shows in the status, and blocks rolling back
// around it: its down SQL is not in this binary.
func TestMigrationsOfANewerVersionAreShownAndBlockRollback(t *testing.T) {
	t.Parallel()
	all := embeddedMigrations(t)
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		if _, err := s.SQLDB().ExecContext(ctx, "INSERT INTO schema_migrations (name, group_id, migrated_at) VALUES ('99990101000000', 99, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		states, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != len(all)+1 {
			t.Fatalf("status has %d entries, want %d", len(states), len(all)+1)
		}
		last := states[len(states)-1]
		if last.Name != "99990101000000" || !last.Applied || !last.Unknown || last.AppliedAt.IsZero() {
			t.Fatalf("newer migration shown as %+v", last)
		}
		for _, st := range states[:len(all)] {
			if st.Unknown || !st.Applied {
				t.Fatalf("embedded migration shown as %+v", st)
			}
		}
		if undone, err := s.RollbackN(ctx, 1); err == nil || !strings.Contains(err.Error(), "does not know") || len(undone) != 0 {
			t.Fatalf("rollback past a newer migration: %q %v", undone, err)
		}
		if _, err := s.UserByEmail(ctx, "x@example.com"); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("schema after a refused rollback: %v", err)
		}
	})
}
